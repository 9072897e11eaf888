"""./dev manage email_collisions on rows stored before the normal form had
IDNA: a full-width domain was a valid, distinct address then. The ASCII
CHECKs are dropped for the test (DDL is rolled back with it) and put back
NOT VALID, as the migration leaves them on a database holding such rows."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import Customer, Provider, ProviderIdentity
from core.emails import email_hash
from tests.factories import customer_create, fullwidth_domain, identity_create

pytestmark = pytest.mark.django_db

CHECKS = {
    "accounts_provideridentity": (
        "provid_entity_id_printable_ascii",
        "entity_id::text ~ '^[!-~]+$'",
    ),
    "accounts_customer": (
        "customer_registered_email_printable_ascii",
        "NOT has_account OR email::text ~ '^[!-~]+$'",
    ),
}


@pytest.fixture
def put_checks_back_not_valid():
    """Drops the ASCII CHECKs, so the test can store what they refuse; the
    value puts them back NOT VALID."""
    with connection.cursor() as cursor:
        for table, (name, _) in CHECKS.items():
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")

    def checks_back_not_valid():
        with connection.cursor() as cursor:
            # The rows' deferred foreign-key checks first: ALTER TABLE
            # refuses a table with pending trigger events.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table, (name, check) in CHECKS.items():
                cursor.execute(
                    f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check}) "
                    "NOT VALID"
                )

    return checks_back_not_valid


def checks_validated() -> dict[str, bool]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, convalidated FROM pg_constraint WHERE conname = ANY(%s)",
            [[name for name, _ in CHECKS.values()]],
        )
        return dict(cursor.fetchall())


def run(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("email_collisions", *args, stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue()
    return 0, out.getvalue()


def old_customer(email: str) -> Customer:
    """A finished signup stored with `email` as it was typed then."""
    identity = identity_create(email=email)
    customer = Customer.objects.create(email=email, has_account=True)
    identity.customer = customer
    identity.save()
    return customer


def test_two_accounts_of_one_address_are_reported_by_id_and_hash(
    put_checks_back_not_valid, email
):
    ascii_customer = customer_create(email=email)
    look_alike = old_customer(fullwidth_domain(email))
    unusable = identity_create(email="someone@\u2603.example.com")
    put_checks_back_not_valid()

    status, output = run("--fix")

    assert status == 1
    lines = output.splitlines()
    hashed = f"email_hash={email_hash(email)}"
    (provider_line,) = [line for line in lines if hashed in line and "provid" in line]
    (customer_line,) = [line for line in lines if "\tcustomer\t" in line]
    (unusable_line,) = [line for line in lines if line.startswith("unusable")]
    assert provider_line.startswith("collision\tprovider_identity\t")
    for identity in (ascii_customer.auth_identity, look_alike.auth_identity):
        assert identity.id in provider_line
        assert identity.provider_identities.get().id in provider_line
    assert customer_line.startswith("collision\t")
    assert hashed in customer_line
    assert ascii_customer.id in customer_line
    assert look_alike.id in customer_line
    assert unusable.id in unusable_line
    assert "2 collisions, 1 unusable, 0 rewritable" in output
    assert email.split("@")[0] not in output  # ids and hashes, no address
    assert "example" not in output
    # --fix changed none of them, and the CHECKs stay NOT VALID.
    assert ProviderIdentity.objects.filter(entity_id=fullwidth_domain(email)).exists()
    assert checks_validated() == {
        "provid_entity_id_printable_ascii": False,
        "customer_registered_email_printable_ascii": False,
    }


def test_fix_rewrites_an_address_nobody_else_holds_and_validates_the_checks(
    put_checks_back_not_valid, api, email, password
):
    look_alike = old_customer(fullwidth_domain(email))
    put_checks_back_not_valid()

    reported, report = run()
    fixed, output = run("--fix")
    again, _ = run()

    assert reported == 1
    assert "0 collisions, 0 unusable, 2 rewritable" in report
    assert fixed == 0, output
    assert "email ASCII constraints validated" in output
    assert again == 0
    look_alike.refresh_from_db()
    assert look_alike.email == email
    assert look_alike.auth_identity.provider_identities.get().entity_id == email
    assert checks_validated() == {
        "provid_entity_id_printable_ascii": True,
        "customer_registered_email_printable_ascii": True,
    }
    login = api.post(
        "/auth/customer/emailpass",
        {"email": fullwidth_domain(email), "password": password},
        format="json",
    )
    assert login.status_code == 200, login.content


def test_fix_rewrites_both_logins_of_one_identity(put_checks_back_not_valid, email):
    """An account with a password and a code login, both stored before the
    normal form: one identity, so no collision, and --fix finishes."""
    look_alike = old_customer(fullwidth_domain(email))
    ProviderIdentity.objects.create(
        auth_identity=look_alike.auth_identity,
        provider=Provider.EMAIL_OTP,
        entity_id=fullwidth_domain(email),
    )
    put_checks_back_not_valid()

    fixed, output = run("--fix")

    assert fixed == 0, output
    assert sorted(
        look_alike.auth_identity.provider_identities.values_list("entity_id", flat=True)
    ) == [email, email]
    assert checks_validated()["provid_entity_id_printable_ascii"] is True


def test_a_clean_database_exits_0(email):
    customer_create(email=email)

    assert run() == (0, "0 collisions, 0 unusable, 0 rewritable\n")
