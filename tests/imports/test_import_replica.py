"""import_medusa writes with `storefront.replica` set to 'off' in each of
its transactions: the replication triggers then leave out rows that came
from Medusa. A trigger standing in for them records what it sees."""

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Customer
from accounts.services.customers import customer_update
from tests.imports.runs import run_import

pytestmark = pytest.mark.django_db

PROBE_SQL = """
CREATE TABLE replica_probe (table_name text, replica text);
CREATE FUNCTION replica_probe() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO replica_probe
    VALUES (TG_TABLE_NAME, current_setting('storefront.replica', true));
    RETURN NULL;
END $$;
"""
TABLES = ["accounts_customer", "accounts_customeraddress"]


@pytest.fixture
def replica_probe():
    """The settings the triggers saw, per table (rolled back with the test)."""
    with connection.cursor() as cursor:
        cursor.execute(PROBE_SQL)
        for table in TABLES:
            cursor.execute(
                f"CREATE TRIGGER replica_probe AFTER INSERT OR UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION replica_probe()"
            )

    def seen() -> list[tuple[str, str | None]]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT table_name, replica FROM replica_probe")
            rows = cursor.fetchall()
            cursor.execute("TRUNCATE replica_probe")
        return rows

    return seen


def test_imported_rows_are_written_with_replication_off(medusa, replica_probe):
    here = Customer.objects.create(email="here@example.com", has_account=True)
    _, registered = medusa.signup("medusa@example.com", "pw")
    medusa.address_add(registered, is_default_shipping=True)
    medusa.customer_add("guest@example.com", has_account=False)
    # A change made here is replicated: the setting is not 'off' (it is
    # unset, or '' once a transaction of this session has set it).
    customer_update(
        customer_id=here.id, changes={"first_name": "Here"}, now=timezone.now()
    )
    seen = replica_probe()
    assert len(seen) == 2  # the insert and the update
    assert all(replica in (None, "") for _, replica in seen)

    run_import(medusa)

    # Two customers; an address inserted, then given its default flag.
    assert sorted(replica_probe()) == (
        [("accounts_customer", "off")] * 2 + [("accounts_customeraddress", "off")] * 2
    )
