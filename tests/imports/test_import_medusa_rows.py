"""./dev manage import_medusa, row by row: how identities, their logins and
customers are linked when Medusa's rows disagree, what is refused and
reported with its reason, and a run stopped half way."""

import io
import json
from datetime import timedelta

import jwt
import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.hashers import medusa_scrypt_blob
from accounts.models import AuthIdentity, Customer, ProviderIdentity
from core.emails import email_hash
from medusa_import import services
from medusa_import.source import MedusaSource
from orphans import services as orphan_services
from orphans.models import OrphanDeletion, Trigger
from tests.imports.medusa_shop import medusa_hash
from tests.imports.runs import (
    by_reason,
    login,
    me,
    nested,
    run_import,
    table_line,
)

pytestmark = pytest.mark.django_db


def test_two_identities_naming_one_customer_bring_it_once(medusa, api):
    # The oldest names the customer but cannot log in here (Auth0 only).
    social = medusa.register("social.login@example.com", "pw")
    medusa.execute(
        "UPDATE provider_identity SET provider = 'auth0' WHERE auth_identity_id = %s",
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
    assert table_line(output, "customers") == [3, 1, 0, 2, 0]


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

    assert table_line(out.getvalue(), "auth identities") == [6, 2, 0, 4, 0]
    assert "@example.com" not in out.getvalue()


def test_a_refused_customer_takes_its_identity_along_each_row_reported_once(medusa):
    identity = medusa.register("nameless.customer@example.com", "pw")
    auth0 = medusa.provider_add(identity, "auth0", "1234567890", None)
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
    ] == [auth0]
    assert not AuthIdentity.objects.filter(id=identity).exists()


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
