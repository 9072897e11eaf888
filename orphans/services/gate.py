"""The signup gate (circuit breaker): paused automatically when our
failures pile up, or by staff; resumed by staff. Every change is audited."""

import logging
from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction

from core.errors import Unavailable
from orphans import selectors
from orphans.models import (
    SignupGate,
    SignupGateChange,
)

logger = logging.getLogger("orphans")


SIGNUPS_PAUSED_MESSAGE = (
    "New signups are paused while we fix a problem; please try again later"
)


@transaction.atomic
def signups_pause(*, staff_user: User | None, reason: str, now: datetime) -> bool:
    """Pause new signups; False if they already were (one audit row per
    pause even when many requests cross the threshold at once)."""
    SignupGate.objects.get_or_create(pk=1)
    changed = SignupGate.objects.filter(pk=1, paused_at__isnull=True).update(
        paused_at=now, reason=reason[:200]
    )
    if changed:
        SignupGateChange.objects.create(
            action=SignupGateChange.Action.PAUSE,
            at=now,
            staff_user=staff_user,
            automatic=staff_user is None,
            reason=reason[:200],
        )
        logger.error(
            "Signups paused", extra={"reason": reason, "automatic": staff_user is None}
        )
    return bool(changed)


@transaction.atomic
def signups_resume(*, staff_user: User, reason: str, now: datetime) -> bool:
    changed = SignupGate.objects.filter(pk=1, paused_at__isnull=False).update(
        paused_at=None, reason=""
    )
    if changed:
        SignupGateChange.objects.create(
            action=SignupGateChange.Action.RESUME,
            at=now,
            staff_user=staff_user,
            reason=reason[:200],
        )
        logger.warning(
            "Signups resumed", extra={"staffUser": staff_user.get_username()}
        )
    return bool(changed)


def signups_open_check() -> None:
    if selectors.signups_paused():
        raise Unavailable(SIGNUPS_PAUSED_MESSAGE, code="signups_paused")
