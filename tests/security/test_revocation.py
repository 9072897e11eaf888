"""Revocation is exact: a password reset or the first proof of the mailbox
refuses every token issued before it, even one signed in the same second,
and a client refreshing in a loop across the reset loses its access."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import AuthIdentity
from accounts.services import password_reset_token_issue
from otp.services import otp_challenge_replace
from tests.factories import customer_create

pytestmark = pytest.mark.django_db

LOGIN = "/auth/customer/emailpass"
REFRESH = "/auth/token/refresh"
ME = "/store/customers/me"
NEW_PASSWORD = "a brand new passphrase"


class Clock:
    """The views' clock, moved by the test: every request reads `now`."""

    def __init__(self, start: datetime):
        self.now = start

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    # A whole second plus 0.1 s: the next 0.9 s stay in the same second.
    start = timezone.now().replace(microsecond=100_000)
    clock = Clock(start)
    monkeypatch.setattr("django.utils.timezone.now", lambda: clock.now)
    return clock


def login(api, email: str, password: str) -> str:
    response = api.post(LOGIN, {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def reset(api, email: str, now: datetime) -> None:
    token = password_reset_token_issue(identifier=email, provider="emailpass", now=now)
    response = api.post(
        "/auth/customer/emailpass/update",
        {"password": NEW_PASSWORD},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200, response.content


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_a_token_from_the_second_of_a_reset_is_refused_after_it(
    api, email, password, clock
):
    customer_create(email=email, password=password)
    token = login(api, email, password)
    session = api.post("/auth/session", **bearer(token))
    assert session.status_code == 200

    clock.advance(0.5)  # the same second
    reset(api, email, clock.now)

    assert api.get(ME, **bearer(token)).status_code == 401
    assert api.post(REFRESH, **bearer(token)).status_code == 401
    # The cookie session opened from that token ends with it.
    assert api.get(ME).status_code == 401
    api.cookies.clear()
    assert api.get(ME, **bearer(login(api, email, NEW_PASSWORD))).status_code == 200


def test_a_refresh_loop_running_across_a_reset_loses_access(
    api, email, password, clock
):
    customer_create(email=email, password=password)
    token = login(api, email, password)
    for _ in range(4):  # a client refreshing every 0.1 s
        clock.advance(0.1)
        response = api.post(REFRESH, **bearer(token))
        assert response.status_code == 200
        token = response.json()["token"]

    clock.advance(0.1)  # the reset lands in the second of the last refresh
    reset(api, email, clock.now)
    answers = []
    for _ in range(15):  # the loop goes on, into the next seconds
        clock.advance(0.1)
        response = api.post(REFRESH, **bearer(token))
        answers.append(response.status_code)
        if response.status_code == 200:
            token = response.json()["token"]

    assert answers == [401] * 15
    assert api.get(ME, **bearer(token)).status_code == 401


def test_a_squatters_token_from_the_second_of_the_owners_proof_is_refused(
    api, email, clock
):
    squatter = api.post(
        "/auth/customer/emailpass/register",
        {"email": email, "password": "the squatters passphrase"},
        format="json",
    ).json()["token"]

    clock.advance(0.3)  # the owner proves the mailbox in the same second
    otp_challenge_replace(email=email, code="123456", now=clock.now)
    owner = api.post(
        "/store/auth/otp/verify", {"email": email, "code": "123456"}, format="json"
    )

    assert owner.status_code == 200
    assert api.post(REFRESH, **bearer(squatter)).status_code == 401
    assert api.post(REFRESH, **bearer(owner.json()["token"])).status_code == 200


def test_a_medusa_token_from_the_second_of_a_reset_is_refused(api, email, password):
    """Medusa's tokens (an imported shop's) carry no generation: only their
    whole-second iat, so the second of the revocation itself is refused."""
    import jwt
    from django.conf import settings

    customer = customer_create(email=email, password=password)
    identity = AuthIdentity.objects.get(customer=customer)
    now = timezone.now().replace(microsecond=500_000)
    claims = {
        "actor_id": customer.id,
        "actor_type": "customer",
        "auth_identity_id": identity.id,
        "auth_provider": "emailpass",
        "app_metadata": {"customer_id": customer.id},
        "user_metadata": {},
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + 3600,
    }
    medusa_token = jwt.encode(claims, settings.JWT_SECRET, algorithm="HS256")
    assert api.get(ME, **bearer(medusa_token)).status_code == 200

    AuthIdentity.objects.filter(pk=identity.pk).update(tokens_valid_after=now)

    assert api.get(ME, **bearer(medusa_token)).status_code == 401


def test_refresh_is_limited_per_identity(api, email, password, settings):
    settings.REFRESH_LIMIT_PER_IDENTITY = 3
    token = api.post(
        "/auth/customer/emailpass/register",
        {"email": email, "password": password},
        format="json",
    ).json()["token"]

    answers = [api.post(REFRESH, **bearer(token)) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[3].json()["type"] == "too_many_requests"
    assert int(answers[3]["Retry-After"]) > 0
