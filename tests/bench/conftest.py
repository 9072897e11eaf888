"""The benchmark loader's rows 1..ROWS, with their addresses, inside the
test's transaction (so they vanish after)."""

import pytest
from django.db import connection

from bench import load_data

ROWS = 300
SHARE = load_data.share_ppm(0.1)


def rows_load(rows: int) -> load_data.Dataset:
    """The loader's customers 1..`rows` (a tenth of them orphans, every
    other one an OTP user, with addresses) in the test's transaction."""
    with connection.cursor() as cursor:
        load_data.insert_rows(
            cursor,
            lo=0,
            hi=rows,
            share_ppm=SHARE,
            otp_every=2,
            password_hash=load_data.password_hash(),
            addresses=True,
        )
        # Deferred foreign keys: checked now rather than at the rollback.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    return load_data.Dataset(rows, SHARE, 2, addresses=True)


@pytest.fixture
def loaded():
    return rows_load(ROWS)
