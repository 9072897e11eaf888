"""Publishing tasks: the one way services queue one, and sealed arguments.

Tasks are declared with `celery.shared_task`, so this module needs no Celery
app (config/celery.py makes it, and binds every shared task to it)."""

import logging
import time
from typing import Any

import kombu.exceptions
import redis.exceptions
from celery import Task, shared_task
from celery.exceptions import Ignore
from celery.result import AsyncResult
from django.conf import settings
from django.db import DatabaseError

from core import delivery
from core.mail import TransientMailFailure
from core.seal import SealBroken, deadline, seal, unseal

logger = logging.getLogger("core.tasks")

BROKER_ERRORS = (
    kombu.exceptions.OperationalError,
    redis.exceptions.RedisError,
    OSError,
)


class BrokerUnavailable(Exception):
    pass


SEALED = "_sealed"


class SealedTask(Task[..., Any]):
    """A task whose keyword arguments cross the broker sealed (core/seal.py):
    the message holds one Fernet token under `_sealed`, the task body gets
    its arguments as declared. Use it for any task whose arguments carry a
    code, a token or an email (`@shared_task(base=SealedTask, ...)`).

    Sealing happens in apply_async, so every way of queueing seals: publish,
    delay, and a retry (which re-seals the arguments with the message's
    original deadline). A message whose seal cannot be opened (its key was
    rotated away, it was altered, it expired) is logged without its content
    and dropped: acknowledged, never retried, since no retry could open it.
    """

    # Celery's argument check would see only `_sealed`: it runs here instead,
    # on the arguments before they are sealed.
    typing = False

    def apply_async(
        self,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        *more: Any,
        **options: Any,
    ) -> AsyncResult[Any]:
        if args:
            raise TypeError(f"{self.name} takes keyword arguments only")
        if kwargs and SEALED not in kwargs:
            check_arguments = getattr(self, "__header__", None)
            if check_arguments is not None:
                check_arguments(**kwargs)
            expires_at = deadline(options.get("expires"), now=time.time())
            kwargs = {
                SEALED: seal(task=self.name, kwargs=kwargs, expires_at=expires_at)
            }
        return super().apply_async(args, kwargs, *more, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if SEALED in kwargs:
            try:
                kwargs = unseal(kwargs[SEALED], task=self.name)
            except SealBroken as broken:
                # The worker's log is Celery's plain text: the facts go in
                # the message too, not only in the extras.
                logger.error(
                    "Task arguments could not be opened; message dropped"
                    " (task=%s id=%s reason=%s)",
                    self.name,
                    self.request.id,
                    broken.reason,
                    extra={
                        "task": self.name,
                        "taskId": self.request.id,
                        "reason": broken.reason,
                    },
                )
                raise Ignore(f"sealed arguments: {broken.reason}") from None
        return super().__call__(*args, **kwargs)


def publish(
    task: Task[..., Any],
    *,
    kwargs: dict[str, Any],
    kwargsrepr: dict[str, Any] | None = None,
    expires: float | None = None,
) -> None:
    """Queue `task`; raise BrokerUnavailable instead of hanging or a 500.

    Arguments that carry a code, a token or an email need both defences: the
    task is a SealedTask (the broker holds them encrypted) and `kwargsrepr`
    masks them (the worker logs it, and it travels in a plain header). Each
    without the other is refused here, so a new caller cannot forget one.
    """
    sealed = isinstance(task, SealedTask)
    if sealed != (kwargsrepr is not None):
        raise TypeError(
            f"{task.name}: a SealedTask needs a masked kwargsrepr, and masked "
            "arguments need a SealedTask"
        )
    try:
        # celery-types knows neither `kwargsrepr` (Celery passes it on to the
        # message header) nor None for `expires` (Celery's own default).
        task.apply_async(  # type: ignore[call-arg]
            kwargs=kwargs,
            kwargsrepr=repr(kwargsrepr if kwargsrepr is not None else kwargs),
            expires=expires,  # type: ignore[arg-type]
        )
    except BROKER_ERRORS as exc:
        raise BrokerUnavailable(type(exc).__name__) from exc


# A security notice a day late is still worth sending; a message not
# delivered within a day is dropped (the address may be someone else's by
# then).
NOTICE_EXPIRES = 24 * 3600


def notice_publish(
    task: Task[..., Any],
    *,
    kwargs: dict[str, Any],
    kwargsrepr: dict[str, Any],
    what: str,
) -> None:
    """Queue a notice mail about something that has already happened (and
    committed): a broker outage is logged, never raised, since failing the
    request would not undo the change. The log names `what` and the
    address's HMAC (`kwargsrepr["email"]`), never the address."""
    try:
        publish(task, kwargs=kwargs, kwargsrepr=kwargsrepr, expires=NOTICE_EXPIRES)
    except BrokerUnavailable as exc:
        logger.error(
            f"{what} notice could not be queued",
            extra={"userId": kwargsrepr.get("email"), "error": str(exc)},
        )


def retry_countdown(seconds: float) -> float:
    """`seconds`, capped at TASK_RETRY_COUNTDOWN_MAX (half the broker's
    visibility timeout): a message a worker holds for its countdown must be
    acknowledged before the broker thinks its worker dead and hands it to
    another one (docs/deploy.md, "The visibility timeout"). Every countdown
    goes through here."""
    return min(seconds, settings.TASK_RETRY_COUNTDOWN_MAX)


def outage_backoff(tries: int, *, most: float = 120) -> float:
    """How long to wait after `tries` failed tries of an outage: 5 s, 10 s,
    20 s, ... up to `most`."""
    return float(min(5 * 2 ** min(tries, 10), most))


def outage_retry(task: SealedTask, exc: Exception) -> Exception:
    """The retry of a sealed task that met an outage (raise it): 5 s, 10 s,
    ... up to 120 s (and half the visibility timeout), its masked
    kwargsrepr kept."""
    return task.retry(
        exc=exc,
        countdown=retry_countdown(outage_backoff(task.request.retries)),
        # celery-types does not list `kwargsrepr`; Celery passes it on.
        kwargsrepr=getattr(task.request, "kwargsrepr", None),  # type: ignore[call-arg]
    )


class MailTask(SealedTask):
    """A sealed task that sends one mail: at most once per task id, however
    often the broker delivers its message (core/delivery.py has the record
    and its crash windows). A retry keeps the task id, so a retried mail is
    still one mail.

    Around the task body: a message whose id is done is acknowledged
    without running; one whose id a live worker has claimed is retried
    once the claim can have ended; else the body runs under the claim, and
    the id is marked done when it returns. An exception (a retry, a failed
    send) gives the claim up, so the next delivery runs the body again.
    A database error in the body (a PgBouncer restart, a failover: the
    route has answered, the mail must not be lost), a transient mail
    failure (the SMTP server down or answering 4xx, core/mail.py) and Redis
    down are retried as outages (outage_retry): the mail is late, never
    dropped. A permanent one (5xx: a refused address) is not retried. So a
    body does its database work before it sends, never after.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        task_id = self.request.id
        if self.request.called_directly or not task_id:
            return super().__call__(*args, **kwargs)
        try:
            claim = delivery.claim(task_id)
        except redis.exceptions.RedisError as exc:
            raise outage_retry(self, exc) from None
        if claim.done:
            logger.info(
                "Mail already sent; message acknowledged (task=%s id=%s)",
                self.name,
                task_id,
                extra={"task": self.name, "taskId": task_id},
            )
            return None
        if not claim.ours:
            # Another worker runs it now (a redelivered copy): look again
            # once it can be done or its claim has expired.
            countdown = retry_countdown(claim.retry_in)
            logger.info(
                "Mail claimed by another worker; retried in %s s (task=%s id=%s)",
                countdown,
                self.name,
                task_id,
                extra={"task": self.name, "taskId": task_id},
            )
            raise self.retry(
                countdown=countdown,
                # Never exhausted: the claim ends (done, or expired) within
                # MAIL_CLAIM_SECONDS. It does count in request.retries.
                max_retries=self.request.retries + 1,
                kwargsrepr=getattr(self.request, "kwargsrepr", None),  # type: ignore[call-arg]
            )
        try:
            result = super().__call__(*args, **kwargs)
        except (DatabaseError, TransientMailFailure) as exc:
            delivery.release(claim)
            raise outage_retry(self, exc) from None
        except BaseException:
            delivery.release(claim)
            raise
        delivery.done(claim)
        return result


# 5 s, 10 s, 20 s, 40 s, 80 s, 120 s: a database or Redis outage of about
# 5 minutes, within every mail's lifetime (a code's 10 minutes).
MAIL_RETRIES = 6
# The decorator of every task that sends a mail (accounts, privacy; code
# mails leave through otp/mail.py's outbox):
# sealed arguments, once per task id, retried through an outage, no result.
mail_task = shared_task(
    base=MailTask, ignore_result=True, acks_late=True, max_retries=MAIL_RETRIES
)
