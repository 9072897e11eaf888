import logging

from django.conf import settings

from core.tasks import BROKER_ERRORS, BrokerUnavailable, publish
from replica.queued import queued_forget, queued_mark

logger = logging.getLogger(__name__)


def drain_kick() -> None:
    """Queue a drain now, unless one is queued already. Never fails the
    caller: the change is in the outbox, and beat drains every minute."""
    if not settings.MEDUSA_DATABASE_URL:
        return
    from replica.tasks import replica_drain_task

    try:
        if queued_mark():
            publish(replica_drain_task, kwargs={})
    except (BrokerUnavailable, *BROKER_ERRORS) as exc:
        logger.warning("replica_kick_failed", extra={"error": type(exc).__name__})
        queued_forget()
