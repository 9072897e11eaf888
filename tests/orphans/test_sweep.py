"""The sweep: dry run, execute, cut-off, customers and holds untouched,
audit rows, batches, and the command's interface."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from accounts.models import AuthIdentity, Customer, PasswordResetToken, ProviderIdentity
from core.emails import email_hash
from core.metrics import orphans_cleaned
from orphans import services
from orphans.models import OrphanDeletion, OrphanHold, SweepRun, Trigger
from orphans.selectors import orphans_older_than
from tests.factories import customer_create
from tests.orphans.conftest import DAY, OLD, YOUNG, orphan_create, orphans_bulk_create

pytestmark = pytest.mark.django_db

REGISTER = "/auth/customer/emailpass/register"


@pytest.fixture
def world(email):
    """One of each: old orphan, young orphan, old customer, old held orphan."""
    old = orphan_create(email="old." + email, age=OLD)
    young = orphan_create(email="young." + email, age=YOUNG)
    customer = customer_create(email="customer." + email)
    AuthIdentity.objects.filter(customer=customer).update(
        created_at=timezone.now() - OLD, updated_at=timezone.now() - OLD
    )
    held = orphan_create(email="held." + email, age=OLD)
    OrphanHold.objects.create(auth_identity=held)
    return {"old": old, "young": young, "customer": customer, "held": held}


def sweep(**kwargs):
    return services.orphans_sweep(
        older_than=kwargs.pop("older_than", DAY),
        batch_size=kwargs.pop("batch_size", 100),
        trigger=kwargs.pop("trigger", Trigger.COMMAND),
        now=timezone.now(),
        **kwargs,
    )


def test_dry_run_deletes_nothing(world):
    before = AuthIdentity.objects.count()
    out = StringIO()

    call_command("sweep_orphans", stdout=out)

    assert AuthIdentity.objects.count() == before
    assert "1 to delete, 1 on hold" in out.getvalue()
    assert world["old"].id in out.getvalue()
    assert "Dry run: nothing deleted" in out.getvalue()
    assert not OrphanDeletion.objects.exists()


def test_execute_deletes_exactly_the_old_unheld_orphans(world):
    out = StringIO()

    call_command("sweep_orphans", "--execute", stdout=out)

    remaining = set(AuthIdentity.objects.values_list("id", flat=True))
    assert world["old"].id not in remaining
    assert {world["young"].id, world["held"].id} <= remaining
    assert Customer.objects.filter(pk=world["customer"].pk).exists()
    assert AuthIdentity.objects.filter(customer=world["customer"]).exists()
    assert not ProviderIdentity.objects.filter(
        auth_identity_id=world["old"].id
    ).exists()
    assert "Deleted 1 orphans" in out.getvalue()


def test_every_deletion_is_audited_without_the_plain_email(world, email):
    sweep()

    row = OrphanDeletion.objects.get()
    assert row.auth_identity_id == world["old"].id
    assert row.email_hash == email_hash("old." + email)
    assert row.providers == ["emailpass"]
    assert row.identity_created_at == world["old"].created_at
    assert row.trigger == "command"
    assert row.sweep_run.deleted == 1
    assert row.sweep_run.status == "finished"
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(d)::text FROM orphans_orphandeletion d")
        assert email not in cursor.fetchone()[0]


def test_an_abandoned_social_sign_up_is_audited_by_its_email(email):
    """A provider login never followed by the profile step: swept as any
    orphan, its audit hashing the provider's email, not its subject."""
    from accounts import services as accounts

    login = accounts.identity_for_social_login(
        account=accounts.ProviderAccount(
            provider="google",
            subject="10769150350006150715",
            email=email,
            email_verified=True,
        ),
        now=timezone.now() - OLD,
    )
    AuthIdentity.objects.filter(pk=login.identity.pk).update(
        created_at=timezone.now() - OLD
    )

    sweep()

    row = OrphanDeletion.objects.get(auth_identity_id=login.identity.id)
    assert row.email_hash == email_hash(email)
    assert row.providers == ["google"]


def test_the_same_email_can_register_again_after_the_sweep(api, email, password):
    orphan_create(email=email, age=OLD)
    refused = api.post(
        "/auth/customer/emailpass/register",
        {"email": email, "password": "another passphrase"},
        format="json",
    )
    sweep()

    again = api.post(
        "/auth/customer/emailpass/register",
        {"email": email, "password": "another passphrase"},
        format="json",
    )

    assert refused.status_code == 401
    assert again.status_code == 200


def test_batches_delete_everything_and_count_it(email):
    ids = orphans_bulk_create(25, age=OLD, prefix="batch")
    progress = []
    cleaned_before = orphans_cleaned._value.get()

    run = sweep(batch_size=4, progress=lambda r: progress.append(r.deleted))

    assert run.deleted == 25
    assert progress == [4, 8, 12, 16, 20, 24, 25]
    assert not AuthIdentity.objects.filter(id__in=ids).exists()
    assert OrphanDeletion.objects.filter(auth_identity_id__in=ids).count() == 25
    assert orphans_cleaned._value.get() - cleaned_before == 25


def test_dependents_of_an_orphan_go_with_it(email):
    orphan = orphan_create(email=email, age=OLD)
    PasswordResetToken.objects.create(
        provider_identity=orphan.provider_identities.get(),
        token_hash="0" * 64,
        expires_at=timezone.now() + DAY,
    )

    sweep()

    assert not PasswordResetToken.objects.exists()


def test_a_hold_placed_while_its_batch_is_locked_keeps_the_orphan(
    email, support_user, monkeypatch
):
    """The hold commits after the batch's locking statement took its
    snapshot (here: placed between the batch's two statements); the delete
    must see it, or the database cascade would delete the hold as well."""
    orphan = orphan_create(email=email, age=OLD)
    hashes = services.deletion.email_hashes

    def held_meanwhile(emails):
        services.orphan_hold(
            auth_identity_id=orphan.id,
            staff_user=support_user,
            reason="checking a complaint",
            now=timezone.now(),
        )
        return hashes(emails)

    monkeypatch.setattr(services.deletion, "email_hashes", held_meanwhile)

    run = sweep()

    assert run.deleted == 0
    assert AuthIdentity.objects.filter(id=orphan.id).exists()
    assert OrphanHold.objects.filter(auth_identity_id=orphan.id).exists()
    assert not OrphanDeletion.objects.exists()


def test_a_second_run_finds_nothing(world):
    sweep()

    again = sweep()

    assert again.found == 0
    assert again.deleted == 0
    assert OrphanDeletion.objects.count() == 1


def test_a_running_sweep_saves_its_count_as_it_goes(email, monkeypatch):
    orphans_bulk_create(10, age=OLD, prefix="saved")
    monkeypatch.setattr(services.sweep, "PROGRESS_SAVE_SECONDS", 0)
    saved = []

    sweep(
        batch_size=4,
        progress=lambda run: saved.append(SweepRun.objects.get(pk=run.pk).deleted),
    )

    assert saved == [4, 8, 10]


def test_an_interrupted_sweep_fails_its_run_with_the_count_so_far(email):
    orphans_bulk_create(10, age=OLD, prefix="interrupted")

    def interrupt(run):
        raise KeyboardInterrupt  # Ctrl-C on sweep_orphans --execute

    with pytest.raises(KeyboardInterrupt):
        sweep(batch_size=4, progress=interrupt)

    run = SweepRun.objects.get()
    assert (run.status, run.error, run.deleted) == (
        SweepRun.Status.FAILED,
        "KeyboardInterrupt",
        4,
    )
    assert OrphanDeletion.objects.count() == 4


def test_ctrl_c_between_a_batch_commit_and_its_count_still_counts_it(
    email, monkeypatch
):
    orphans_bulk_create(10, age=OLD, prefix="uncounted")
    batch = services.orphans_delete_batch
    calls = []

    def interrupted_after_second_commit(**kwargs):
        deleted = batch(**kwargs)
        calls.append(deleted)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return deleted

    monkeypatch.setattr(
        services.sweep, "orphans_delete_batch", interrupted_after_second_commit
    )

    with pytest.raises(KeyboardInterrupt):
        sweep(batch_size=4)

    run = SweepRun.objects.get()
    assert (run.status, run.deleted) == (SweepRun.Status.FAILED, 8)
    assert OrphanDeletion.objects.filter(sweep_run_id=run.pk).count() == 8


def test_a_run_whose_worker_died_is_closed_with_its_audited_count(world):
    now = timezone.now()

    def run_started(ago: timedelta) -> SweepRun:
        return SweepRun.objects.create(
            trigger=Trigger.BEAT, cutoff=now - DAY, batch_size=10, started_at=now - ago
        )

    dead, live = run_started(timedelta(hours=7)), run_started(timedelta(hours=1))
    OrphanDeletion.objects.bulk_create(
        OrphanDeletion(
            auth_identity_id=f"authid_dead_{n}",
            email_hash="",
            identity_created_at=now - OLD,
            deleted_at=now - timedelta(hours=7),
            trigger=Trigger.BEAT,
            sweep_run=dead,
        )
        for n in range(3)
    )

    sweep()

    dead.refresh_from_db()
    live.refresh_from_db()
    assert (dead.status, dead.error, dead.deleted) == (
        SweepRun.Status.FAILED,
        "interrupted",
        3,
    )
    assert (live.status, live.deleted) == (SweepRun.Status.RUNNING, 0)


def test_older_than_batch_size_and_workers_options(world):
    # Inside the test's transaction the sweep runs on one connection (helpers
    # would not see its rows): this checks the option is accepted; three
    # workers really run in tests/orphans/test_orphans_live.py.
    out = StringIO()

    call_command(
        "sweep_orphans",
        "--execute",
        "--older-than",
        "30m",
        "--batch-size",
        "1",
        "--workers",
        "3",
        "--force",
        stdout=out,
    )

    assert not AuthIdentity.objects.filter(id=world["young"].id).exists()
    run = SweepRun.objects.get(dry_run=False)
    assert (run.batch_size, run.deleted) == (1, 2)


@pytest.mark.parametrize(
    "args",
    [
        ["--older-than", "yesterday"],
        ["--batch-size", "0"],
        ["--workers", "0"],
        ["--dry-run", "--execute"],
        # Below JWT_EXPIRES_IN without --force: signups in progress would
        # lose their identity.
        ["--execute", "--older-than", "30m"],
    ],
)
def test_command_refuses_bad_arguments(args):
    from django.core.management.base import CommandError

    with pytest.raises((CommandError, SystemExit)):
        call_command("sweep_orphans", *args, stdout=StringIO(), stderr=StringIO())


def explain(sql: str, params) -> str:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_authidentity")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.fixture
def mostly_linked_identities():
    """What production looks like: many customers, few orphans."""
    month_ago = timezone.now() - timedelta(days=30)
    customers = Customer.objects.bulk_create(
        Customer(email=f"linked.{n}@example.com", has_account=True)
        for n in range(20_000)
    )
    AuthIdentity.objects.bulk_create(
        AuthIdentity(customer=customer, created_at=month_ago, updated_at=month_ago)
        for customer in customers
    )
    orphans_bulk_create(500, age=OLD, prefix="plan")


def test_the_sweep_batch_uses_the_partial_index(mostly_linked_identities):
    # A batch is small next to the backlog (1000 of 10^5 in production).
    plan = explain(
        services.LOCK_BATCH_SQL,
        {"cutoff": timezone.now() - DAY, "limit": 20, "ids": None},
    )

    assert "authid_orphan_created_idx" in plan, plan


def test_counting_orphans_never_scans_all_identities(mostly_linked_identities):
    plan = explain(
        *orphans_older_than(cutoff=timezone.now() - DAY).query.sql_with_params()
    )

    assert "Seq Scan on accounts_authidentity" not in plan


def test_admin_delete_refuses_a_linked_identity(email, support_user):
    customer = customer_create(email=email)
    identity = AuthIdentity.objects.get(customer=customer)

    deleted, refused = services.orphans_delete_selected(
        auth_identity_ids=[identity.id], staff_user=support_user, now=timezone.now()
    )

    assert (deleted, refused) == ([], [identity.id])
    assert AuthIdentity.objects.filter(pk=identity.pk).exists()


def test_an_orphan_deleted_once_before_is_swept_again_keeping_its_first_audit():
    """A Medusa import pass can bring back an orphan the sweep deleted (it
    ran between the pass's check and its write); the next sweep deletes it
    again instead of failing on the audit's unique identity id."""
    identity = orphan_create(email="swept.again@example.com", age=2 * DAY)
    OrphanDeletion.objects.create(
        auth_identity_id=identity.id,
        email_hash="0" * 64,
        identity_created_at=identity.created_at,
        deleted_at=timezone.now() - DAY,
        trigger=Trigger.BEAT,
    )

    run = services.orphans_sweep(
        older_than=timedelta(hours=24), batch_size=10, trigger=Trigger.COMMAND,
        now=timezone.now(),
    )  # fmt: skip

    assert run.deleted >= 1
    assert not AuthIdentity.objects.filter(id=identity.id).exists()
    assert OrphanDeletion.objects.filter(auth_identity_id=identity.id).count() == 1


def test_a_resumed_signup_is_not_swept_under_its_token(api, email, password):
    orphan = orphan_create(email=email, age=OLD)
    # The owner comes back 25 hours later and registers again to finish.
    resumed = api.post(REGISTER, {"email": email, "password": password}, format="json")

    services.orphans_sweep(
        older_than=DAY, batch_size=10, trigger=Trigger.COMMAND, now=timezone.now()
    )

    assert resumed.status_code == 200
    assert AuthIdentity.objects.filter(pk=orphan.pk).exists()
