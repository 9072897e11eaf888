"""Expired credentials (password reset tokens) are purged by the periodic task."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import PasswordResetToken
from tests.factories import customer_create

pytestmark = pytest.mark.django_db


def test_expired_reset_tokens_are_purged(email):
    from accounts.tasks import expired_credentials_purge_task

    customer = customer_create(email=email)
    provider_identity = customer.auth_identity.provider_identities.get()
    now = timezone.now()
    PasswordResetToken.objects.create(
        provider_identity=provider_identity,
        token_hash="a" * 64,
        created_at=now - timedelta(hours=1),
        expires_at=now - timedelta(minutes=1),
    )

    expired_credentials_purge_task()

    assert not PasswordResetToken.objects.exists()
