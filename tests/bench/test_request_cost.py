"""bench/request_cost.py measures real requests: each route answers 2xx
through the whole handler, and the statements it counts are the request's
(the numbers docs/performance.md states). No timing here."""

import random

import pytest

from bench import request_cost

pytestmark = pytest.mark.django_db


@pytest.fixture
def store_key(settings):
    from accounts.models import PublishableApiKey

    settings.STORE_PUBLISHABLE_KEY = "pk_bench_request_cost"
    PublishableApiKey.objects.create(
        token=settings.STORE_PUBLISHABLE_KEY, title="bench"
    )


@pytest.mark.parametrize(
    ("route", "statements"), [("me", 1), ("verify", 7), ("send", 2), ("login", 4)]
)
def test_each_route_is_measured_on_real_answers(loaded, store_key, route, statements):
    # As the bench stack counts them ("send": the limits read, then the
    # challenge and its mail written in one statement; otp/services.py).
    measured = request_cost.measure(route, loaded, 25, random.Random(5))

    assert measured["requests"] == 24
    assert measured["queries"] == statements
    assert measured["cpu_ms"] > 0


def test_a_refused_request_fails_the_measurement(loaded, store_key, settings):
    settings.STORE_PUBLISHABLE_KEY = "pk_nobody_has"

    with pytest.raises(RuntimeError, match="not 2xx"):
        request_cost.measure("me", loaded, 25, random.Random(5))
