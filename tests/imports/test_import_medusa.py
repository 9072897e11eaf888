"""./dev manage import_medusa against a Medusa 2.21 database: every imported
customer logs in with the password Medusa hashed, Medusa's tokens read
/store/customers/me, collisions and orphans are reported, runs are
idempotent, and a second pass brings what changed in Medusa since."""

import io
import json
from datetime import timedelta

import jwt
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.hashers import medusa_scrypt_blob
from accounts.models import AuthIdentity, Customer, ProviderIdentity
from core.emails import email_hash
from medusa_import import services
from medusa_import.source import MedusaSource
from orphans import selectors as orphan_selectors
from orphans import services as orphan_services
from orphans.models import OrphanDeletion, Trigger
from tests.imports.medusa_shop import medusa_hash

pytestmark = pytest.mark.django_db

TABLE_LABELS = ["customers", "auth identities", "provider identities"]
PASSWORDS = ["first secret phrase", "ünïcode päss wörd", "third one, longer"]


def run_import(medusa, *args, tmp_path=None) -> tuple[str, list[dict]]:
    """Runs the command; returns its output and the report's JSON lines."""
    out = io.StringIO()
    report = (tmp_path or _tmp()) / f"report-{timezone.now().timestamp()}.jsonl"
    call_command(
        "import_medusa", "--database-url", medusa.url, "--report", str(report),
        *args, stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    output = out.getvalue()
    for label in TABLE_LABELS:  # every row read lands in one column
        assert min(_table_line(output, label)) >= 0, output
    return output, lines


def _tmp():
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp())


def login(api, email: str, password: str):
    return api.post(
        "/auth/customer/emailpass",
        {"email": email, "password": password},
        format="json",
    )


def me(api, token: str):
    return api.get("/store/customers/me", HTTP_AUTHORIZATION=f"Bearer {token}")


def by_reason(lines: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for line in lines:
        grouped.setdefault(line["reason"], []).append(line)
    return grouped


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
    before = _snapshot(medusa)

    output, lines = run_import(medusa)

    assert _snapshot(medusa) == before
    assert _table_line(output, "customers") == [2, 0, 0, 2, 0]
    assert _table_line(output, "auth identities") == [2, 0, 0, 2, 0]
    assert _table_line(output, "provider identities") == [2, 0, 0, 2, 0]
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
    assert _table_line(output, "customers") == [6, 2, 0, 2, 2]
    assert _table_line(output, "auth identities") == [6, 1, 1, 2, 2]
    assert _table_line(output, "provider identities") == [6, 1, 1, 2, 2]


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
    google = medusa.provider_add(social, "google", "1234567890", None)
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
    assert [line["id"] for line in reasons["unsupported_provider"]] == [google]
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
    counts = [_table_line(output, label) for label in TABLE_LABELS]
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
    medusa.signup("Dry@example.com", "pw one")
    medusa.signup("dry@example.com", "pw two")
    medusa.register("wet@example.com", "pw three")
    before = _snapshot(medusa)

    dry_output, dry_lines = run_import(medusa, "--dry-run")

    assert _snapshot(medusa) == before
    assert "Dry run: nothing was written." in dry_output
    output, lines = run_import(medusa)
    assert _summary(dry_output) == _summary(output)
    assert dry_lines == lines
    assert _table_line(output, "auth identities") == [3, 2, 0, 0, 1]


@pytest.mark.parametrize("batch_size", ["1", "2", "1000"])
def test_batch_size_does_not_change_the_outcome(medusa, batch_size):
    for n in range(5):
        # Three spellings of one address and two of another.
        spelling = ["Same", "same", "SAME"][n // 2]
        medusa.signup(f"{spelling}.{n % 2}@example.com", "pw")
        medusa.register(f"orphan.{n}@example.com", "pw")
        medusa.customer_add(f"guest.{n}@example.com", has_account=False)

    output, lines = run_import(medusa, "--batch-size", batch_size)

    assert _table_line(output, "auth identities") == [10, 7, 0, 0, 3]
    assert _table_line(output, "customers") == [10, 7, 0, 0, 3]
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


def _summary(output: str) -> list[str]:
    """The output without its first line, report path and closing words."""
    skip = ("Importing from", "Every row", "Dry run", "Import finished")
    return [line for line in output.splitlines() if not line.startswith(skip)]


def _snapshot(medusa):
    """Our rows with Medusa's ids, every column."""
    return [
        sorted(model.objects.filter(id__in=medusa.ids(table)).values_list())
        for model, table in [
            (Customer, "customer"),
            (AuthIdentity, "auth_identity"),
            (ProviderIdentity, "provider_identity"),
        ]
    ]


def _table_line(output: str, label: str) -> list[int]:
    """read, new, updated, unchanged, skipped from the summary table."""
    line = next(line for line in output.splitlines() if line.startswith(label))
    return [int(cell.replace(",", "")) for cell in line[len(label) :].split()]


def test_two_identities_naming_one_customer_bring_it_once(medusa, api):
    # The oldest names the customer but cannot log in here (Google only).
    social = medusa.register("social.login@example.com", "pw")
    medusa.execute(
        "UPDATE provider_identity SET provider = 'google' WHERE auth_identity_id = %s",
        [social],
    )
    customer = medusa.customer_add("Contact@Example.com")
    medusa.link(social, customer)
    first = medusa.register("twice@example.com", "pw one")
    medusa.link(first, customer)
    second = medusa.register("twice.again@example.com", "pw two")
    medusa.link(second, customer)

    output, lines = run_import(medusa)

    reasons = by_reason(lines)
    assert [line["id"] for line in reasons["no_login"]] == [social]
    assert [line["id"] for line in reasons["customer_already_linked"]] == [second]
    assert reasons["customer_already_linked"][0]["conflicts_with"] == first
    assert AuthIdentity.objects.get(id=first).customer_id == customer
    assert not AuthIdentity.objects.filter(id__in=[social, second]).exists()
    # The customer's email is the login's of the identity that logs in.
    assert Customer.objects.get(id=customer).email == "twice@example.com"
    token = login(api, "twice@example.com", "pw one").json()["token"]
    assert me(api, token).json()["customer"]["id"] == customer
    # Read once with each identity naming it; written once.
    assert _table_line(output, "customers") == [3, 1, 0, 2, 0]


def test_an_identity_keeps_the_logins_of_its_own_email(medusa):
    identity = medusa.register("main@example.com", "pw")
    other = medusa.provider_add(identity, "email-otp", "someone.else@example.com", None)

    _, lines = run_import(medusa)

    assert [line["id"] for line in by_reason(lines)["other_email"]] == [other]
    logins = ProviderIdentity.objects.filter(auth_identity_id=identity)
    assert list(logins.values_list("entity_id", flat=True)) == ["main@example.com"]


def test_an_identity_linked_here_is_no_orphan_when_medusa_deletes_its_customer(
    medusa, api
):
    identity = medusa.register("linked.here@example.com", "pw")
    run_import(medusa)
    token = login(api, "linked.here@example.com", "pw").json()["token"]
    created = api.post(
        "/store/customers", {"email": "linked.here@example.com"}, format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    assert created.status_code == 200
    customer = medusa.customer_add("linked.here@example.com")
    medusa.link(identity, customer)
    medusa.soft_delete("customer", customer)

    output, lines = run_import(medusa)

    assert "Orphans (identities without a customer) imported: 0," in output
    assert "orphan" not in by_reason(lines)
    here = created.json()["customer"]["id"]
    assert AuthIdentity.objects.get(id=identity).customer_id == here


def test_an_identity_that_is_also_an_admin_user_keeps_its_user_id(medusa, api):
    identity, customer = medusa.signup("staff@example.com", "staff password")
    medusa.execute(
        "UPDATE auth_identity SET app_metadata = app_metadata || %s WHERE id = %s",
        ['{"user_id": "user_01"}', identity],
    )

    _, lines = run_import(medusa)

    assert [line["id"] for line in by_reason(lines)["also_admin_user"]] == [identity]
    assert AuthIdentity.objects.get(id=identity).app_metadata == {"user_id": "user_01"}
    token = login(api, "staff@example.com", "staff password").json()["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["app_metadata"] == {"user_id": "user_01", "customer_id": customer}
    assert claims["actor_type"] == "customer"


def test_the_login_email_becomes_the_registered_customers_email(medusa, api):
    identity, customer = medusa.register("login@example.com", "pw"), None
    customer = medusa.customer_add("Contact@Example.com", first_name="Kim")
    medusa.link(identity, customer)

    _, lines = run_import(medusa)

    note = by_reason(lines)["customer_email_replaced"][0]
    assert (note["table"], note["id"]) == ("customer", customer)
    assert note["email_hash"] == email_hash("contact@example.com")
    assert Customer.objects.get(id=customer).email == "login@example.com"
    token = login(api, "login@example.com", "pw").json()["token"]
    assert me(api, token).json()["customer"]["email"] == "login@example.com"


def test_rows_medusa_cannot_give_us_are_reported_each_with_its_reason(medusa):
    two_logins = medusa.register("one.login@example.com", "pw")
    second_login = medusa.provider_add(
        two_logins, "emailpass", "One.Login@Example.com", medusa_hash("pw")
    )
    listy = medusa.customer_add("listy@example.com", metadata=[1, 2])
    long_id = "cus_" + "X" * 70
    medusa.execute(
        "INSERT INTO customer (id, email, has_account) VALUES (%s, %s, true)",
        [long_id, "long@example.com"],
    )
    costly = medusa.register("costly@example.com", "pw")
    blob = medusa_scrypt_blob("pw", salt=bytes(32), log_n=16, r=16, p=2)
    medusa.execute(
        "UPDATE provider_identity SET provider_metadata = %s "
        "WHERE auth_identity_id = %s",
        [json.dumps({"password": blob}), costly],
    )

    output, lines = run_import(medusa)

    reasons = by_reason(lines)
    assert [line["id"] for line in reasons["two_logins_one_provider"]] == [second_login]
    assert [line["id"] for line in reasons["not_an_object"]] == [listy]
    assert [line["id"] for line in reasons["id_too_long"]] == [long_id[:64] + "…"]
    assert [line["table"] for line in reasons["unusable_password_hash"]] == [
        "provider_identity"
    ]
    assert {line["id"] for line in reasons["no_login"]} == {costly}
    assert not AuthIdentity.objects.filter(id=costly).exists()
    # The identity comes with its first login.
    assert ProviderIdentity.objects.filter(auth_identity_id=two_logins).count() == 1
    assert "Rows not imported: 5." in output


def test_a_later_pass_keeps_what_the_sweep_deleted_and_notes_what_medusa_deleted(
    medusa, api
):
    stale = medusa.register(
        "stale@example.com", "pw", at=timezone.now() - timedelta(days=3)
    )
    identity, customer = medusa.signup("leaver@example.com", "pw")
    run_import(medusa)
    run = orphan_services.orphans_sweep(
        older_than=timedelta(hours=24), batch_size=100, trigger=Trigger.COMMAND,
        now=timezone.now(),
    )  # fmt: skip
    assert run.deleted >= 1
    assert not AuthIdentity.objects.filter(id=stale).exists()
    medusa.soft_delete("auth_identity", identity)
    medusa.soft_delete("customer", customer)

    output, lines = run_import(medusa)

    reasons = by_reason(lines)
    assert [line["id"] for line in reasons["swept_here"]] == [stale]
    assert {line["table"] for line in reasons["deleted_in_medusa"]} == {
        "auth_identity",
        "provider_identity",
        "customer",
    }
    assert {line["id"] for line in reasons["deleted_in_medusa"]} >= {identity, customer}
    assert not AuthIdentity.objects.filter(id=stale).exists()
    assert OrphanDeletion.objects.filter(auth_identity_id=stale).count() == 1
    # Kept here for staff to decide; the customer still logs in.
    assert login(api, "leaver@example.com", "pw").status_code == 200
    assert "Rows not imported: 2." in output  # the swept orphan and its login


def test_a_run_stopped_half_way_is_finished_by_the_next(medusa):
    for n in range(6):
        medusa.signup(f"resume.{n}@example.com", "pw")

    def stop_after_two_batches(name, done, total):
        if done >= 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), MedusaSource(medusa.url) as source:
        services.medusa_import(
            source=source, batch_size=2, report=services.Report(dry_run=False),
            progress=stop_after_two_batches,
        )  # fmt: skip
    assert (
        AuthIdentity.objects.filter(
            provider_identities__entity_id__startswith="resume."
        ).count()
        == 4
    )

    out = io.StringIO()
    call_command(
        "import_medusa", "--database-url", medusa.url, stdout=out, stderr=io.StringIO()
    )

    assert _table_line(out.getvalue(), "auth identities") == [6, 2, 0, 4, 0]
    assert "@example.com" not in out.getvalue()


def test_a_refused_customer_takes_its_identity_along_each_row_reported_once(medusa):
    identity = medusa.register("nameless.customer@example.com", "pw")
    google = medusa.provider_add(identity, "google", "1234567890", None)
    customer = medusa.customer_add(None, has_account=True)
    medusa.link(identity, customer)

    _, lines = run_import(medusa)

    reported = sorted((line["reason"], line["table"]) for line in lines)
    assert reported == [
        ("goes_with", "auth_identity"),
        ("goes_with", "provider_identity"),
        ("registered_without_email", "customer"),
        ("unsupported_provider", "provider_identity"),
    ]
    assert [
        line["id"] for line in lines if line["reason"] == "unsupported_provider"
    ] == [google]
    assert not AuthIdentity.objects.filter(id=identity).exists()


def nested(depth: int) -> str:
    """JSON text of objects `depth` deep (json.dumps would hit Python's
    recursion limit long before 10,000)."""
    return '{"a":' * depth + "1" + "}" * depth


def test_metadata_nested_too_deep_is_refused_and_the_run_goes_on(medusa, api):
    _, deep_customer = medusa.signup("deep@example.com", "pw")
    guest = medusa.customer_add("guest@example.com", has_account=False)
    deep_login = medusa.register("deep.login@example.com", "pw")
    deep_app = medusa.register("deep.app@example.com", "pw")
    _, over_limit = medusa.signup("over@example.com", "pw")
    _, at_limit = medusa.signup("limit@example.com", "pw")
    _, fine = medusa.signup("fine@example.com", "pw", metadata={"n": 1})
    set_json = "UPDATE {} SET {} = %s::jsonb WHERE {} = ANY(%s)"
    for table, column, key, depth, ids in [
        ("customer", "metadata", "id", 10_000, [deep_customer, guest]),
        (
            "provider_identity",
            "user_metadata",
            "auth_identity_id",
            10_000,
            [deep_login],
        ),
        ("auth_identity", "app_metadata", "id", 10_000, [deep_app]),
        ("customer", "metadata", "id", 32, [over_limit]),
        ("customer", "metadata", "id", 31, [at_limit]),
    ]:
        medusa.execute(set_json.format(table, column, key), [nested(depth), ids])
    [deep_login_provider] = [
        row[0]
        for row in medusa.conn.execute(
            "SELECT id FROM provider_identity WHERE auth_identity_id = %s",
            [deep_login],
        )
    ]

    output, lines = run_import(medusa)

    assert "Import finished." in output
    refused = by_reason(lines)["too_deeply_nested"]
    assert {(line["table"], line["id"], line["detail"]) for line in refused} == {
        ("customer", deep_customer, "metadata"),
        ("customer", guest, "metadata"),
        ("customer", over_limit, "metadata"),
        ("provider_identity", deep_login_provider, "user_metadata"),
        ("auth_identity", deep_app, "app_metadata"),
    }
    assert not Customer.objects.filter(
        id__in=[deep_customer, guest, over_limit]
    ).exists()
    assert not AuthIdentity.objects.filter(id__in=[deep_login, deep_app]).exists()
    # The other rows came, the one at the limit with its metadata whole.
    assert Customer.objects.get(id=fine).metadata == {"n": 1}
    token = login(api, "limit@example.com", "pw").json()["token"]
    assert me(api, token).json()["customer"]["id"] == at_limit
    metadata = Customer.objects.get(id=at_limit).metadata
    assert json.dumps(metadata, separators=(",", ":")) == nested(31)
    # The limit is the API's: it takes that metadata back, and not one level more.
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    update = api.post(
        "/store/customers/me", {"metadata": metadata}, format="json", **headers
    )
    deeper = api.post(
        "/store/customers/me", {"metadata": {"a": metadata}}, format="json", **headers
    )
    assert (update.status_code, deeper.status_code) == (200, 400)
