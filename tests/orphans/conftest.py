from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuthIdentity
from tests.factories import identities_bulk_create, identity_create


def orphan_create(*, email: str, age: timedelta) -> AuthIdentity:
    """An emailpass identity without a customer, `age` old."""
    identity = identity_create(email=email)
    then = timezone.now() - age
    AuthIdentity.objects.filter(pk=identity.pk).update(created_at=then, updated_at=then)
    identity.refresh_from_db()
    return identity


def orphans_bulk_create(count: int, *, age: timedelta, prefix: str) -> list[str]:
    identities = identities_bulk_create(
        count, prefix=prefix, created_at=timezone.now() - age
    )
    return [identity.id for identity in identities]


DAY = timedelta(hours=24)
OLD = timedelta(hours=25)
YOUNG = timedelta(hours=1)


@pytest.fixture
def support_user(db):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(
        "support.agent", password="pw-for-tests-only", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Support"))
    return user
