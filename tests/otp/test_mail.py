"""The code mails' outbox (otp/mail.py): a challenge's mail is a sealed
row written with it, and a drain sends each row once. Here the drain is
called as the worker calls it; the live worker's own drains are exercised
by every live code login (tests/otp/test_otp_live.py) and under faults by
tests/topology/test_faults.py."""

import re
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import DatabaseError, connection
from django.db.models.functions import Now
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Customer
from core import delivery
from core.locale import request_language_set
from core.queued import DrainQueued
from core.seal import seal, unseal
from otp import mail as otp_mail
from otp.mail import DRAIN, SEAL_LABEL, code_mail, mail_sealed, mails_drain
from otp.models import OtpChallenge, OtpMail
from otp.services import otp_send
from tests.api.test_mail_language import assert_written_in, the_mail
from tests.db_faults import refusing_trigger
from tests.factories import customer_create
from tests.mailbox import texts_by_recipient
from tests.otp.conftest import mailed_code, time_passes

pytestmark = pytest.mark.django_db


def asked(email: str) -> OtpMail:
    """A code asked for; its mail waits (the test's transaction never
    commits, so no drain was queued)."""
    otp_send(email=email, ip="203.0.113.9", now=timezone.now())
    return OtpMail.objects.get(challenge__email=email, challenge__replaced_at=None)


def to(email: str) -> list:
    return [m for m in mail.outbox if m.to == [email]]


def test_a_drain_sends_each_waiting_mail_once_and_deletes_its_row(email):
    addresses = [f"{n}.{email}" for n in range(3)]
    for address in addresses:
        asked(address)

    first = mails_drain()
    again = mails_drain()

    assert (first.sent, again.sent) == (3, 0)
    assert [len(to(address)) for address in addresses] == [1, 1, 1]
    assert not OtpMail.objects.filter(challenge__email__in=addresses).exists()


def test_the_row_holds_neither_the_address_nor_the_code(email):
    row = asked(email)
    code = unseal(row.sealed, task=SEAL_LABEL)["context"]["code"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM otp_otpmail WHERE id = %s", [row.id])
        stored = repr(cursor.fetchone())

    assert email not in stored
    assert code not in stored
    mails_drain()
    assert mailed_code(email) == code


def test_a_replaced_challenge_s_mail_is_dropped_unsent(email, verify):
    asked(email)
    time_passes(61, email=email)  # the resend cooldown
    asked(email)

    drained = mails_drain()

    assert (drained.sent, drained.dropped) == (1, 1)
    assert len(to(email)) == 1  # the new code only
    assert verify(email, mailed_code(email)).status_code == 200


def test_an_expired_challenge_s_mail_is_dropped(email):
    asked(email)
    time_passes(11 * 60, email=email)

    drained = mails_drain()

    assert (drained.sent, drained.dropped) == (0, 1)
    assert not to(email)
    assert not OtpMail.objects.filter(challenge__email=email).exists()


def test_a_mail_server_down_defers_the_mail_and_it_goes_later(email, settings):
    row = asked(email)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 1  # nobody listens

    failed = mails_drain()
    waiting = OtpMail.objects.get(pk=row.pk)
    too_soon = mails_drain()

    assert (failed.sent, failed.deferred) == (0, 1)
    assert (waiting.attempts, waiting.leased_by) == (1, "")
    assert too_soon.sent == too_soon.deferred == 0  # backing off
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    OtpMail.objects.filter(pk=row.pk).update(send_after=Now())  # 5 s later
    assert mails_drain().sent == 1
    assert mailed_code(email)


def test_a_live_drain_s_lease_is_left_alone_and_a_dead_one_s_taken_over(email):
    row = asked(email)
    held = timezone.now() + timedelta(minutes=2)
    OtpMail.objects.filter(pk=row.pk).update(
        send_after=held, leased_by=delivery.process_tag()
    )
    assert mails_drain().sent == 0

    dead = 2**22 + 12345  # above pid_max's default: no such process
    assert delivery.process_gone(f"{delivery._machine()} {dead}")
    OtpMail.objects.filter(pk=row.pk).update(leased_by=f"{delivery._machine()} {dead}")
    assert mails_drain(dead_leases=False).sent == 0  # a last look: its first did it
    drained = mails_drain()

    assert (drained.taken_over, drained.sent) == (1, 1)
    assert len(to(email)) == 1


def test_a_seal_that_does_not_open_drops_the_mail_and_says_so(email, caplog):
    row = asked(email)
    OtpMail.objects.filter(pk=row.pk).update(sealed="not a seal")

    drained = mails_drain()

    assert drained.dropped == 1
    assert "otp_mail_unreadable" in caplog.text
    assert not OtpMail.objects.filter(pk=row.pk).exists()


def test_the_challenge_purge_takes_its_mails(email):
    from otp.services import otp_challenges_purge

    asked(email)
    OtpChallenge.objects.filter(email=email).update(
        created_at=timezone.now() - timedelta(days=2),
        expires_at=timezone.now() - timedelta(days=2) + timedelta(minutes=10),
    )

    assert otp_challenges_purge(now=timezone.now()) >= 1
    assert not OtpMail.objects.filter(challenge__email=email).exists()


@pytest.mark.django_db(transaction=True)
def test_parallel_drains_send_each_mail_once(mail_dir, broker_down):
    run = uuid.uuid4().hex[:8]
    addresses = [f"parallel.{run}.{n}@example.com" for n in range(30)]
    for address in addresses:
        asked(address)  # committed, its kick refused by the broker down
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def drain() -> None:
        try:
            barrier.wait()
            mails_drain(batch_size=4)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=drain) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    # The live stack's worker drains committed rows too (beat's minute):
    # a mail it sent is in its directory, once, and not here.
    live = texts_by_recipient(mail_dir)
    sent = {a: len(to(a)) + len(live.get(a, [])) for a in addresses}
    assert sent == dict.fromkeys(addresses, 1)
    assert not OtpMail.objects.filter(challenge__email__in=addresses).exists()


@pytest.mark.django_db(transaction=True)
def test_the_database_failing_mid_batch_hands_back_the_mails_not_sent(
    broker_down, mail_dir, settings
):
    # The lease is sure for 7 - 6 x 1 s: a sent row's delete is retried
    # that long (below, by default a minute).
    settings.MAIL_CLAIM_SECONDS, settings.EMAIL_TIMEOUT = 7, 1
    for _ in range(3):
        run = uuid.uuid4().hex[:8]
        first, second, third = (asked(f"batch.{run}.{n}@example.com") for n in range(3))
        with refusing_trigger(
            table="otp_otpmail", event="DELETE", when=f"OLD.id = {second.id}"
        ):
            try:
                mails_drain()
            except DatabaseError:
                break
        # The live stack's drain, lingering after an earlier test and woken
        # by these rows' kick, leased them first: again, with new rows.
    else:
        pytest.fail("the live stack's drain took the batch three times")
    rows = {
        row.id: row
        for row in OtpMail.objects.filter(pk__in=[first.id, second.id, third.id])
    }
    now = timezone.now()

    assert first.id not in rows  # sent, deleted
    # Sent, its delete refused past the lease's sure part: it waits for
    # its lease (a duplicate then).
    assert rows[second.id].send_after > now
    assert rows[second.id].leased_by == delivery.process_tag()
    # Not sent: handed back at once.
    assert rows[third.id].send_after <= now
    assert rows[third.id].leased_by == ""
    mails_drain()
    # Each mailed once (the live stack's worker may have drained the third:
    # then it is in its directory, not here).
    addresses = [
        OtpChallenge.objects.get(pk=row.challenge_id).email
        for row in (first, second, third)
    ]
    live = texts_by_recipient(mail_dir)
    sent = {a: len(to(a)) + len(live.get(a, [])) for a in addresses}
    assert sent == dict.fromkeys(addresses, 1)


@pytest.mark.django_db(transaction=True)
def test_a_sent_mail_s_delete_is_retried_while_the_database_fails(
    broker_down, mail_dir, caplog
):
    """A PgBouncer restart or a failover between a mail leaving and its
    row's delete: the drain waits for the database (on a new connection)
    rather than leave the row to be sent again. (A live stack's drain,
    woken by the kicks' bell, may take the rows instead: each is then
    still mailed once, from there.)"""
    run = uuid.uuid4().hex[:8]
    first, second = (asked(f"retried.{run}.{n}@example.com") for n in range(2))
    with refusing_trigger(
        table="otp_otpmail",
        event="DELETE",
        when=f"OLD.id = {first.id}",
        times=2,
        disconnect=True,
    ):
        drained = mails_drain()
    addresses = [
        OtpChallenge.objects.get(pk=row.challenge_id).email for row in (first, second)
    ]
    live = texts_by_recipient(mail_dir)

    assert not OtpMail.objects.filter(pk__in=[first.id, second.id]).exists()
    assert {a: len(to(a)) + len(live.get(a, [])) for a in addresses} == dict.fromkeys(
        addresses, 1
    )
    assert drained.sent + sum(len(live.get(a, [])) for a in addresses) == 2
    if to(addresses[0]):  # this drain sent it (not the live stack's: above)
        retried = [
            r for r in caplog.records if r.getMessage() == "otp_mail_delete_retried"
        ]
        assert [r.mailId for r in retried] == [first.id, first.id]


def test_metrics_show_the_mails_waiting(client, email, settings):
    settings.METRICS_TOKEN = ""
    before = OtpMail.objects.count()  # the live stack's, if any
    row = asked(email)
    OtpMail.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - timedelta(minutes=3)
    )

    body = client.get("/metrics").content.decode()

    waiting = re.search(r"^code_mails_waiting (\S+)$", body, re.MULTILINE)
    oldest = re.search(r"^code_mails_oldest_waiting_seconds (\S+)$", body, re.MULTILINE)
    assert float(waiting.group(1)) == before + 1
    assert float(oldest.group(1)) >= 180  # CodeMailsStuck's business
    mails_drain()
    body = client.get("/metrics").content.decode()
    after = re.search(r"^code_mails_waiting (\S+)$", body, re.MULTILINE)
    assert float(after.group(1)) <= before


@pytest.mark.django_db(transaction=True)
def test_a_lingering_drain_sends_a_mail_committed_while_it_waits(broker_down, mail_dir):
    address = f"linger.{uuid.uuid4().hex[:8]}@example.com"

    def ask_later() -> None:
        try:
            time.sleep(0.1)
            asked(address)  # its own connection, committed
        finally:
            connection.close()

    asking = threading.Thread(target=ask_later)
    asking.start()
    drained = mails_drain(linger=1.0)
    asking.join()

    live = len(texts_by_recipient(mail_dir).get(address, []))
    assert drained.sent + live == 1
    assert len(to(address)) + live == 1


@pytest.mark.django_db(transaction=True)
def test_a_drain_waiting_on_its_bell_is_woken_by_a_kick(
    broker_down, mail_dir, monkeypatch
):
    """The drain holds the mark, so the kick of a mail committed meanwhile
    publishes nothing but rings; the drain wakes and sends it. A mark and
    bell of the test's own: a live stack's drain waiting on the shared bell
    could take the ring (its mark could be cleared under the test's)."""
    address = f"bell.{uuid.uuid4().hex[:8]}@example.com"
    drain = DrainQueued(
        f"otp-mail-test-{uuid.uuid4().hex[:8]}", seconds=DRAIN.seconds, bell=True
    )
    monkeypatch.setattr(otp_mail, "DRAIN", drain)  # the kick's (mail_kick)
    drain.keep(0)
    woken: list[bool] = []

    def wait(seconds: float) -> None:
        woken.append(drain.wait(seconds))

    def ask_later() -> None:
        try:
            time.sleep(0.1)
            asked(address)  # committed; its kick finds the mark and rings
        finally:
            connection.close()

    asking = threading.Thread(target=ask_later)
    asking.start()
    try:
        drained = mails_drain(linger=1.0, wait=wait)
    finally:
        asking.join()
        drain.forget()

    live = len(texts_by_recipient(mail_dir).get(address, []))
    assert True in woken  # not the second the wait would have taken
    assert drained.sent + live == 1
    assert len(to(address)) + live == 1


def test_a_mail_that_fails_otherwise_is_deferred_and_holds_no_other(email):
    broken, fine = asked(f"broken.{email}"), asked(email)
    sealed = unseal(broken.sealed, task=SEAL_LABEL)
    OtpMail.objects.filter(pk=broken.pk).update(
        sealed=seal(
            task=SEAL_LABEL,
            kwargs={**sealed, "templates": "otp/no-such-templates/"},
            expires_at=None,
        )
    )

    drained = mails_drain()

    assert (drained.sent, drained.deferred) == (1, 1)
    assert mailed_code(email)
    waiting = OtpMail.objects.get(pk=broken.pk)
    assert (waiting.attempts, waiting.leased_by) == (1, "")
    assert waiting.send_after > timezone.now()
    assert not OtpMail.objects.filter(pk=fine.pk).exists()


def test_a_batch_reads_the_languages_its_requests_did_not_name_with_its_lease(email):
    remembered, named, unknown = f"zh.{email}", f"en.{email}", f"new.{email}"
    customer_create(email=remembered)
    Customer.objects.filter(email=remembered).update(locale="zh-hans")
    customer_create(email=named)
    Customer.objects.filter(email=named).update(locale="zh-hans")
    # Neither a guest nor an erased customer of the address has a say.
    Customer.objects.create(email=unknown, has_account=False, locale="zh-hans")
    Customer.objects.create(
        email=unknown, has_account=True, deleted_at=timezone.now(), locale="zh-hans"
    )
    for address in (remembered, unknown):
        asked(address)  # no request language
    otp_send_in(named, "en")

    with CaptureQueriesContext(connection) as queries:
        drained = mails_drain()

    assert drained.sent == 3
    assert_written_in(the_mail(remembered), "otp", "zh-hans")
    assert_written_in(the_mail(named), "otp", "en")  # the request's wins
    assert_written_in(the_mail(unknown), "otp", "en")  # the default
    reads = [
        q["sql"] for q in queries.captured_queries if "accounts_customer" in q["sql"]
    ]
    assert len(reads) == 1, reads
    assert reads[0].lstrip().startswith("UPDATE otp_otpmail"), reads  # the lease


def test_a_code_s_mail_goes_only_to_the_address_its_challenge_proves(email):
    challenge = OtpChallenge(email=email, expires_at=timezone.now())
    elsewhere = code_mail(
        to=f"other.{email}", templates="otp/email/", code="1", language=None
    )

    with pytest.raises(ValueError, match="address its challenge proves"):
        mail_sealed(challenge=challenge, mail=elsewhere)


def otp_send_in(email: str, language: str) -> None:
    """A code asked for by a request in `language`."""
    with request_language_set(language):
        otp_send(email=email, ip="203.0.113.9", now=timezone.now())


def test_only_a_mail_that_says_its_code_alone_is_rendered_once(email):
    """A login code's mail comes from the render kept per language
    (core/mail.py); a verification mail, whose link differs from mail to
    mail, is rendered each time and leaves nothing in that cache."""
    from core.mail import _texts_marked
    from flows.email_verify import verification_send
    from tests.factories import identity_create

    verification_send(
        identity=identity_create(email=f"verify.{email}"),
        ip="203.0.113.9",
        now=timezone.now(),
    )
    before = _texts_marked.cache_info()
    assert mails_drain().sent == 1
    after_verify = _texts_marked.cache_info()
    asked(f"code.{email}")
    assert mails_drain().sent == 1
    after_code = _texts_marked.cache_info()

    assert after_verify == before
    looked_up = after_code.hits + after_code.misses
    assert looked_up == after_verify.hits + after_verify.misses + 1
    (verify_mail,) = to(f"verify.{email}")
    assert "token=" in verify_mail.body
