"""Request limits counted per client: the client address, taken from
X-Forwarded-For only as far as the configured proxies reach."""

import pytest
from django.test import RequestFactory

from core.ratelimit import client_ip


def test_client_ip_trusts_only_the_configured_proxies(settings):
    request = RequestFactory().get(
        "/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9", REMOTE_ADDR="10.0.0.2"
    )

    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.9"


class Refused(Exception):
    pass


def _stored_counts() -> dict[str, int]:
    from django.core.cache import cache

    client = cache._cache.get_client()
    return {
        key.decode(): int(client.get(key))
        for key in client.scan_iter(match="*ratelimit:test-*")
    }


def test_only_failed_attempts_use_up_a_failure_limit():
    from core.errors import TooManyRequests
    from core.ratelimit import failures_limited

    limits = (("test-a", "client", 2, 60), ("test-b", "email", 5, 60))
    for _ in range(3):
        with failures_limited(*limits, failure=Refused):
            pass  # succeeded: given back
    assert sorted(_stored_counts().values()) == [0, 0]
    for _ in range(2):
        with pytest.raises(Refused), failures_limited(*limits, failure=Refused):
            raise Refused
    assert sorted(_stored_counts().values()) == [2, 2]
    with pytest.raises(TooManyRequests), failures_limited(*limits, failure=Refused):
        pass


def test_a_count_whose_window_ended_is_not_given_back_below_zero():
    from django.core.cache import cache

    from core.ratelimit import failures_limited

    client = cache._cache.get_client()
    with failures_limited(("test-c", "client", 2, 60), failure=Refused):
        for key in client.scan_iter(match="*ratelimit:test-c*"):
            client.delete(key)  # the window rolled over meanwhile

    assert _stored_counts() == {}


def test_request_limits_count_every_request_and_answer_429_over_the_limit():
    from core.errors import TooManyRequests
    from core.ratelimit import rate_limit

    for _ in range(3):
        rate_limit(("test-d", "client", 3, 60))
    with pytest.raises(TooManyRequests) as refused:
        rate_limit(("test-d", "client", 3, 60))

    assert refused.value.retry_after >= 1
    assert list(_stored_counts().values()) == [4]


def test_a_request_refused_by_one_limit_uses_up_none_after_it():
    """Limits count in order, all in one round trip (a Redis script), and
    stop at the first over: a client refused for flooding does not use up
    the per-address limit of the addresses it names."""
    from core.errors import TooManyRequests
    from core.ratelimit import rate_limit

    limits = (("test-e", "client", 1, 60), ("test-f", "email", 5, 60))
    rate_limit(*limits)
    for _ in range(3):
        with pytest.raises(TooManyRequests):
            rate_limit(*limits)

    assert sorted(_stored_counts().values()) == [1, 4]
