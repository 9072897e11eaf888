from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from orphans import selectors, services
from orphans.models import Trigger


# Idempotent: it re-reads the world and deletes what is still sweepable, so a
# redelivery after a killed worker (acks_late, reject_on_worker_lost) finishes
# the job. Beat passes `expires` so a backlog never stacks runs.
@shared_task(ignore_result=True, acks_late=True)
def orphans_sweep_task(
    *,
    trigger: str = Trigger.BEAT,
    staff_user_id: int | None = None,
    batch_size: int | None = None,
) -> None:
    staff_user = (
        get_user_model().objects.filter(pk=staff_user_id).first()
        if staff_user_id
        else None
    )
    services.orphans_sweep(
        older_than=selectors.orphan_max_age(),
        batch_size=batch_size or settings.ORPHAN_SWEEP_BATCH_SIZE,
        workers=settings.ORPHAN_SWEEP_WORKERS,
        trigger=trigger,
        staff_user=staff_user,
        now=timezone.now(),
    )
