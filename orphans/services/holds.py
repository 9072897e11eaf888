"""Holds: staff keep an orphan from the sweep while they look into it."""

import logging
from datetime import datetime

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from orphans.models import OrphanHold

logger = logging.getLogger("orphans")


def orphan_hold(
    *, auth_identity_id: str, staff_user: User, reason: str, now: datetime
) -> bool:
    """Keep an orphan from the sweep; False if it was held already, or is
    gone (a sweep deleted it a moment ago)."""
    try:
        with transaction.atomic():
            _, created = OrphanHold.objects.get_or_create(
                auth_identity_id=auth_identity_id,
                defaults={
                    "held_by": staff_user,
                    "held_at": now,
                    "reason": reason[:200],
                },
            )
    except IntegrityError:
        return False
    return created


def orphan_release(*, auth_identity_id: str) -> bool:
    deleted, _ = OrphanHold.objects.filter(auth_identity_id=auth_identity_id).delete()
    return bool(deleted)
