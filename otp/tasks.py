import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from django.db import DatabaseError

from core.tasks import BROKER_ERRORS, outage_backoff, retry_countdown
from otp.mail import DRAIN, LINGER_SECONDS, mail_kick, mails_drain

logger = logging.getLogger("otp")

DRAIN_RETRY_MAX_SECONDS = 30


# The code mails' drain (otp/mail.py). It keeps the drain's mark while it
# sends and lingers, so the kicks of the mails committed meanwhile publish
# nothing but wake it (it sends them); it clears the mark, then looks once
# more, for the rows whose kick found the mark still set (core/queued.py).
# acks_late: a worker killed mid-batch leaves its message to redeliver, and
# the rows it had leased to a drain that sees its process dead. A database
# outage (a PgBouncer restart, a failover) is retried, 5 s, 10 s, ... 30 s
# apart, kicks kept quiet meanwhile: the routes have answered, so the codes
# must go. A deferred mail (the mail server failing) gets a kick when its
# wait ends. No arguments: nothing to seal, nothing in the broker.
@shared_task(bind=True, ignore_result=True, acks_late=True, max_retries=20)
def otp_mail_drain_task(self: Task[..., Any]) -> None:
    # Run eagerly (in a request's process: tests), it must not wait.
    linger = 0.0 if self.request.is_eager else LINGER_SECONDS
    DRAIN.keep(0)  # this drain holds the mark from its start
    try:
        result = mails_drain(linger=linger, wait=DRAIN.wait)
        DRAIN.forget()
        last = mails_drain(dead_leases=False)
    except DatabaseError as exc:
        countdown = retry_countdown(
            outage_backoff(self.request.retries, most=DRAIN_RETRY_MAX_SECONDS)
        )
        DRAIN.keep(countdown)  # one retry chain, not one per kick
        logger.warning(
            "otp_mail_drain_failed",
            extra={"error": type(exc).__name__, "retry_in_seconds": countdown},
        )
        raise self.retry(countdown=countdown) from None
    for done in (result, last):
        if done.sent or done.dropped or done.deferred:
            logger.info("otp_mails_drained", extra=done.__dict__)
    if result.more or last.more:
        mail_kick()
    retry_in = min(filter(None, (result.retry_in, last.retry_in)), default=None)
    if retry_in is not None:
        # A deferred mail goes when its wait ends, not at beat's next minute.
        try:
            otp_mail_drain_kick_task.apply_async(countdown=retry_countdown(retry_in))
        except BROKER_ERRORS:
            pass  # beat's minute kick


# Beat's minute: mails whose backoff ended, kicks lost (Redis down when the
# request committed), leases of a worker that died.
@shared_task(ignore_result=True)
def otp_mail_drain_kick_task() -> None:
    mail_kick()


@worker_ready.connect
def otp_mails_at_start(**kwargs: Any) -> None:
    """What waited while no worker ran goes out at once."""
    mail_kick()


@shared_task(ignore_result=True)
def otp_challenges_purge_task() -> None:
    from django.utils import timezone

    from otp.services import otp_challenges_purge

    otp_challenges_purge(now=timezone.now())
