"""The benchmark loader's rows 1..ROWS, with their addresses, inside the
test's transaction (so they vanish after)."""

import pytest
from django.db import connection

from bench import load_data

ROWS = 300
SHARE = load_data.share_ppm(0.1)


@pytest.fixture
def loaded():
    with connection.cursor() as cursor:
        load_data.insert_rows(
            cursor,
            lo=0,
            hi=ROWS,
            share_ppm=SHARE,
            otp_every=2,
            password_hash=load_data.password_hash(),
            addresses=True,
        )
        # Deferred foreign keys: checked now rather than at the rollback.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    return load_data.Dataset(ROWS, SHARE, 2, addresses=True)
