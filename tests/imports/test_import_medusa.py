"""./dev manage import_medusa against a Medusa 2.21 database: every imported
customer logs in with the password Medusa hashed, Medusa's tokens read
/store/customers/me, collisions and orphans are reported, runs are
idempotent, and a second pass brings what changed in Medusa since."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import AuthIdentity, Customer, ProviderIdentity
from orphans import selectors as orphan_selectors
from tests.imports.runs import (
    PASSWORDS,
    TABLE_LABELS,
    by_reason,
    login,
    me,
    rows_snapshot,
    run_import,
    summary_lines,
    table_line,
)

pytestmark = pytest.mark.django_db


def test_every_customer_logs_in_with_the_password_medusa_hashed(medusa, api):
    shop = [
        (f"ada.{n}@example.com", password, medusa.signup(
            f"ada.{n}@example.com", password, first_name=f"Ada{n}", metadata={"n": n}))
        for n, password in enumerate(PASSWORDS)
    ]  # fmt: skip
    # Medusa stores the email as typed; here it is normalized.
    mixed_identity, mixed_customer = medusa.signup("Grace.Hopper@Example.COM ", "navy")

    output, _ = run_import(medusa)

    assert "Import finished." in output
    for email, password, (identity_id, customer_id) in shop:
        assert login(api, email, "not the password").status_code == 401
        response = login(api, email, password)
        assert response.status_code == 200, response.content
        body = me(api, response.json()["token"]).json()["customer"]
        assert body["id"] == customer_id
        assert body["email"] == email
        assert body["has_account"] is True
        assert AuthIdentity.objects.get(id=identity_id).customer_id == customer_id
    # The scrypt hash was replaced by Argon2id at the first login.
    assert ProviderIdentity.objects.get(
        entity_id="ada.0@example.com"
    ).password_hash.startswith("argon2")
    response = login(api, "grace.hopper@example.com", "navy")
    assert response.status_code == 200
    assert me(api, response.json()["token"]).json()["customer"]["id"] == mixed_customer
    assert Customer.objects.get(id=mixed_customer).email == "grace.hopper@example.com"
    identity = AuthIdentity.objects.get(id=mixed_identity)
    assert identity.app_metadata == {}  # the link is the foreign key here


def test_a_token_medusa_issued_reads_me_and_a_registration_token_finishes_signup(
    medusa, api
):
    identity_id, customer_id = medusa.signup(
        "lin@example.com", "pw one", last_name="Lin"
    )
    orphan_id = medusa.register("late@example.com", "pw two")
    run_import(medusa)

    response = me(
        api, medusa.token(auth_identity_id=identity_id, customer_id=customer_id)
    )
    assert response.status_code == 200
    assert response.json()["customer"]["last_name"] == "Lin"
    # Medusa's registration token (actor_id "") still finishes the sign-up.
    response = api.post(
        "/store/customers",
        {"email": "late@example.com", "first_name": "Late"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {medusa.token(auth_identity_id=orphan_id)}",
    )
    assert response.status_code == 200, response.content
    assert (
        AuthIdentity.objects.get(id=orphan_id).customer_id
        == response.json()["customer"]["id"]
    )
    # A token naming a customer that is not the identity's is still refused.
    forged = medusa.token(auth_identity_id=orphan_id, customer_id=customer_id)
    assert me(api, forged).status_code == 401


def test_a_second_run_changes_nothing(medusa):
    medusa.signup("one@example.com", "pw one")
    medusa.register("orphan@example.com", "pw two")
    medusa.customer_add("Guest@Example.com", has_account=False)
    run_import(medusa)
    before = rows_snapshot(medusa)

    output, lines = run_import(medusa)

    assert rows_snapshot(medusa) == before
    assert table_line(output, "customers") == [2, 0, 0, 2, 0]
    assert table_line(output, "auth identities") == [2, 0, 0, 2, 0]
    assert table_line(output, "provider identities") == [2, 0, 0, 2, 0]
    assert [line["reason"] for line in lines] == ["orphan"]


def test_a_second_pass_brings_new_and_changed_rows_and_keeps_local_changes(medusa, api):
    changer, _ = medusa.signup("changer@example.com", "old password")
    finisher = medusa.register("finisher@example.com", "finisher pw")
    local_id, local_customer = medusa.signup("local@example.com", "local pw")
    run_import(medusa)
    # Here, after the first pass: a customer edits the profile.
    response = login(api, "local@example.com", "local pw")
    api.post(
        "/store/customers/me", {"first_name": "Edited here"}, format="json",
        HTTP_AUTHORIZATION=f"Bearer {response.json()['token']}",
    )  # fmt: skip
    # In Medusa, meanwhile: a new sign-up, a password change, a finished
    # sign-up, and an older edit of the customer edited here.
    medusa.execute(
        "UPDATE customer SET first_name = 'Edited in Medusa', updated_at = %s "
        "WHERE id = %s",
        [timezone.now() - timedelta(minutes=5), local_customer],
    )
    newcomer, newcomer_customer = medusa.signup("new@example.com", "newcomer pw")
    medusa.password_change(changer, "new password")
    # Rows already here keep their address: one imported, one signed up here.
    medusa.signup("CHANGER@example.com", "a second account")
    here = api.post(
        "/store/auth/signup",
        {"email": "here@example.com", "password": "signed up here"},
        format="json",
    ).json()["customer"]["id"]
    medusa.signup("Here@example.com", "same address in Medusa")
    finisher_customer = medusa.customer_add("finisher@example.com", first_name="Fin")
    medusa.link(finisher, finisher_customer)

    output, lines = run_import(medusa)

    kept = {line["conflicts_with"] for line in by_reason(lines)["email_collision"]}
    assert kept == {changer, AuthIdentity.objects.get(customer_id=here).id}
    assert login(api, "here@example.com", "signed up here").status_code == 200
    assert login(api, "new@example.com", "newcomer pw").status_code == 200
    assert login(api, "changer@example.com", "old password").status_code == 401
    assert login(api, "changer@example.com", "new password").status_code == 200
    assert AuthIdentity.objects.get(id=finisher).customer_id == finisher_customer
    assert Customer.objects.get(id=local_customer).first_name == "Edited here"
    assert AuthIdentity.objects.get(id=newcomer).customer_id == newcomer_customer
    assert table_line(output, "customers") == [6, 2, 0, 2, 2]
    assert table_line(output, "auth identities") == [6, 1, 1, 2, 2]
    assert table_line(output, "provider identities") == [6, 1, 1, 2, 2]


def test_collisions_keep_the_oldest_linked_identity_and_report_the_others(medusa):
    kept, kept_customer = medusa.signup("Foo@Example.com", "pw a")
    refused, refused_customer = medusa.signup("foo@example.com", "pw b")
    # An older orphan loses to a linked identity of the same email.
    orphan = medusa.register("BAR@example.com", "pw c")
    linked, _ = medusa.signup("bar@example.com", "pw d")

    output, lines = run_import(medusa, "--batch-size", "1")

    reasons = by_reason(lines)
    collisions = {line["id"]: line for line in reasons["email_collision"]}
    refused_provider = ProviderIdentity.objects.filter(auth_identity_id=refused)
    assert not refused_provider.exists()
    assert not AuthIdentity.objects.filter(id__in=[refused, orphan]).exists()
    assert not Customer.objects.filter(id=refused_customer).exists()
    assert AuthIdentity.objects.get(id=kept).customer_id == kept_customer
    assert AuthIdentity.objects.filter(id=linked).exists()
    assert sorted(line["conflicts_with"] for line in collisions.values()) == sorted(
        [kept, linked]
    )
    for line in collisions.values():
        assert line["table"] == "provider_identity"
        assert len(line["email_hash"]) == 64
    goes_with = {(line["table"], line["id"]) for line in reasons["goes_with"]}
    assert ("auth_identity", refused) in goes_with
    assert ("customer", refused_customer) in goes_with
    assert ("auth_identity", orphan) in goes_with
    assert "foo@example.com" not in output.lower()
    assert "Rows not imported: 5." in output


def test_orphans_are_imported_for_the_sweep_and_unimportable_rows_reported(medusa):
    orphan = medusa.register(
        "orphan@example.com", "pw", at=timezone.now() - timedelta(days=3)
    )
    dangling = medusa.register("dangling@example.com", "pw")
    medusa.link(dangling, "cus_NOSUCHCUSTOMER")
    deleted, deleted_customer = medusa.signup("gone@example.com", "pw")
    medusa.soft_delete("auth_identity", deleted)
    admin = medusa.register("admin@example.com", "pw")
    medusa.execute(
        "UPDATE auth_identity SET app_metadata = %s WHERE id = %s",
        ['{"user_id": "user_1"}', admin],
    )
    social, social_customer = medusa.signup("social@example.com", "pw")
    medusa.execute(
        "DELETE FROM provider_identity WHERE auth_identity_id = %s", [social]
    )
    auth0 = medusa.provider_add(social, "auth0", "1234567890", None)
    bad_email = medusa.register("not an email", "pw")
    bad_hash = medusa.register("badhash@example.com", "pw")
    medusa.execute(
        'UPDATE provider_identity SET provider_metadata = \'{"password": "bcrypt"}\' '
        "WHERE auth_identity_id = %s",
        [bad_hash],
    )
    guest = medusa.customer_add("Guest@Example.com", has_account=False)
    nameless = medusa.customer_add(None, has_account=True)

    output, lines = run_import(medusa)

    reasons = by_reason(lines)
    assert {line["id"] for line in reasons["orphan"]} == {orphan, dangling}
    assert [line["id"] for line in reasons["dangling_customer_link"]] == [dangling]
    assert {line["id"] for line in reasons["soft_deleted"]} == {deleted}
    assert [line["id"] for line in reasons["admin_user_identity"]] == [admin]
    assert [line["id"] for line in reasons["unsupported_provider"]] == [auth0]
    assert {line["id"] for line in reasons["no_login"]} == {social, bad_email, bad_hash}
    assert [line["table"] for line in reasons["invalid_email"]] == ["provider_identity"]
    assert [line["table"] for line in reasons["unusable_password_hash"]] == [
        "provider_identity"
    ]
    assert [line["id"] for line in reasons["registered_without_email"]] == [nameless]
    assert "Orphans (identities without a customer) imported: 2" in output

    assert set(AuthIdentity.objects.values_list("id", flat=True)) >= {orphan, dangling}
    assert not AuthIdentity.objects.filter(
        id__in=[deleted, admin, social, bad_email, bad_hash]
    ).exists()
    # Customers of identities that could not come are imported without one.
    assert Customer.objects.get(id=deleted_customer).has_account is True
    assert Customer.objects.get(id=social_customer).has_account is True
    counts = [table_line(output, label) for label in TABLE_LABELS]
    for read, new, updated, unchanged, skipped in counts:
        assert (updated, unchanged) == (0, 0)
        assert read == new + skipped
    assert Customer.objects.get(id=guest).email == "Guest@Example.com"
    assert not Customer.objects.filter(id=nameless).exists()
    # Medusa's three-day-old orphan is what the sweep deletes next.
    sweepable = orphan_selectors.orphans_older_than(
        cutoff=timezone.now() - timedelta(hours=24)
    )
    assert set(sweepable.values_list("id", flat=True)) & {orphan, dangling} == {orphan}


def test_a_dry_run_reports_what_a_run_would_do_and_writes_nothing(medusa):
    _, customer = medusa.signup("Dry@example.com", "pw one")
    medusa.address_add(customer, is_default_shipping=True)
    medusa.address_add(customer, country_code="XXL")
    medusa.signup("dry@example.com", "pw two")
    medusa.register("wet@example.com", "pw three")
    before = rows_snapshot(medusa)

    dry_output, dry_lines = run_import(medusa, "--dry-run")

    assert rows_snapshot(medusa) == before
    assert "Dry run: nothing was written." in dry_output
    output, lines = run_import(medusa)
    assert summary_lines(dry_output) == summary_lines(output)
    assert dry_lines == lines
    assert table_line(output, "auth identities") == [3, 2, 0, 0, 1]
    assert table_line(output, "addresses") == [2, 1, 0, 0, 1]


@pytest.mark.parametrize("batch_size", ["1", "2", "1000"])
def test_batch_size_does_not_change_the_outcome(medusa, batch_size):
    for n in range(5):
        # Three spellings of one address and two of another.
        spelling = ["Same", "same", "SAME"][n // 2]
        medusa.signup(f"{spelling}.{n % 2}@example.com", "pw")
        medusa.register(f"orphan.{n}@example.com", "pw")
        medusa.customer_add(f"guest.{n}@example.com", has_account=False)

    output, lines = run_import(medusa, "--batch-size", batch_size)

    assert table_line(output, "auth identities") == [10, 7, 0, 0, 3]
    assert table_line(output, "customers") == [10, 7, 0, 0, 3]
    assert len(by_reason(lines)["email_collision"]) == 3


def test_a_source_that_is_not_medusa_is_refused_with_a_clear_error(medusa):
    with pytest.raises(CommandError, match=r"cannot connect to .*password=\*\*\*"):
        call_command(
            "import_medusa", "--database-url",
            "postgresql://someone:s3cret@127.0.0.1:1/medusa", stdout=io.StringIO(),
        )  # fmt: skip
    medusa.execute("ALTER TABLE provider_identity RENAME TO provider_identity_old")
    try:
        with pytest.raises(CommandError, match="not a Medusa 2.x database"):
            call_command(
                "import_medusa", "--database-url", medusa.url, stdout=io.StringIO()
            )
    finally:
        medusa.execute("ALTER TABLE provider_identity_old RENAME TO provider_identity")
    with pytest.raises(CommandError, match="--batch-size"):
        call_command(
            "import_medusa", "--database-url", medusa.url, "--batch-size", "0",
            stdout=io.StringIO(),
        )  # fmt: skip
