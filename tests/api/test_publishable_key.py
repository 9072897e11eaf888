"""Web processes remember an active publishable key for a few seconds
(PUBLISHABLE_KEY_CACHE_SECONDS), so a /store request does not always pay a
database lookup for it; unknown keys are never remembered."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import PublishableApiKey

pytestmark = pytest.mark.django_db


def _me(client, key):
    # /store/customers/me without a token: 400 for a bad key, else 401.
    return client.get("/store/customers/me", HTTP_X_PUBLISHABLE_API_KEY=key)


def test_an_active_key_is_trusted_for_the_cache_time(settings, publishable_key):
    settings.PUBLISHABLE_KEY_CACHE_SECONDS = 60
    client = APIClient()
    assert _me(client, publishable_key).status_code == 401

    PublishableApiKey.objects.filter(token=publishable_key).update(
        revoked_at=timezone.now()
    )

    assert _me(client, publishable_key).status_code == 401


def test_without_the_cache_a_revoked_key_is_refused_at_once(settings, publishable_key):
    settings.PUBLISHABLE_KEY_CACHE_SECONDS = 0
    client = APIClient()
    assert _me(client, publishable_key).status_code == 401

    PublishableApiKey.objects.filter(token=publishable_key).update(
        revoked_at=timezone.now()
    )

    assert _me(client, publishable_key).status_code == 400


def test_an_unknown_key_is_asked_every_time(settings, publishable_key):
    settings.PUBLISHABLE_KEY_CACHE_SECONDS = 60
    client = APIClient()
    assert _me(client, "pk_unknown").status_code == 400

    PublishableApiKey.objects.create(token="pk_unknown", title="created later")

    assert _me(client, "pk_unknown").status_code == 401
