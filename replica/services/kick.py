from django.conf import settings

from replica.queued import DRAIN


def drain_kick() -> None:
    """Queue a drain now, unless one is queued already. Never fails the
    caller: the change is in the outbox, and beat drains every minute."""
    if not settings.MEDUSA_DATABASE_URL:
        return
    from replica.tasks import replica_drain_task

    DRAIN.kick(replica_drain_task)
