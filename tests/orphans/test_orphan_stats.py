"""The dashboard's figures, counted in the database."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orphans.models import OrphanDeletion, OrphanHold, Trigger
from orphans.selectors import orphan_stats
from tests.orphans.conftest import orphan_create

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def test_cleaned_within_24h_counts_deletions_in_time_against_late_and_overdue(email):
    """Sweepable after 24 h, so "in time" is deleted within 48 h of signup;
    an orphan still there past 48 h is overdue, a held one is not."""
    now = timezone.now()
    OrphanDeletion.objects.bulk_create(
        OrphanDeletion(
            auth_identity_id=f"authid_stats_{lived}",
            email_hash="",
            identity_created_at=now - 3 * HOUR - lived,
            deleted_at=now - 3 * HOUR,
            trigger=Trigger.BEAT,
        )
        for lived in (30 * HOUR, 48 * HOUR, 49 * HOUR)
    )
    orphan_create(email="overdue." + email, age=50 * HOUR)
    held = orphan_create(email="held." + email, age=50 * HOUR)
    OrphanHold.objects.create(auth_identity=held)
    orphan_create(email="recent." + email, age=30 * HOUR)

    stats = orphan_stats(now=now)

    assert stats["cleaned_within_24h"] == pytest.approx(2 / 4)
    assert stats["overdue"] == 1
    assert sum(day["cleaned"] for day in stats["days"]) == 3
