"""Forged, expired, misdirected and revoked tokens are refused everywhere a
token is accepted."""

import base64
import json
from datetime import timedelta
from types import SimpleNamespace

import jwt
import pytest
from django.conf import settings
from django.utils import timezone

from accounts import tokens
from accounts.models import AuthIdentity
from accounts.services import identity_tokens_revoke
from accounts.tokens import reset_token_issue
from tests.factories import customer_create, token_for, token_without_session

pytestmark = pytest.mark.django_db


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims_for(customer) -> dict:
    return jwt.decode(token_for(customer), settings.JWT_SECRET, algorithms=["HS256"])


def forged(customer, name: str) -> str:
    good = claims_for(customer)
    now = int(timezone.now().timestamp())
    if name == "alg none":
        return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(good)}."
    if name == "wrong secret":
        return jwt.encode(good, "not the secret" * 4, algorithm="HS256")
    if name == "expired":
        return jwt.encode(
            {**good, "iat": now - 90_000, "exp": now - 10},
            settings.JWT_SECRET,
            algorithm="HS256",
        )
    if name == "wrong actor_type":
        return jwt.encode(
            {**good, "actor_type": "user"}, settings.JWT_SECRET, algorithm="HS256"
        )
    if name == "another customer's actor":
        return jwt.encode(
            {**good, "actor_id": "cus_01NOTTHEONE"},
            settings.JWT_SECRET,
            algorithm="HS256",
        )
    if name == "no iat":
        return jwt.encode(
            {k: v for k, v in good.items() if k != "iat"},
            settings.JWT_SECRET,
            algorithm="HS256",
        )
    if name == "HS512":
        return jwt.encode(good, settings.JWT_SECRET, algorithm="HS512")
    if name == "reset token":
        return reset_token_issue(
            entity_id=customer.email, provider="emailpass", jti="x", now=timezone.now()
        )
    raise AssertionError(name)


ATTACKS = [
    "alg none",
    "wrong secret",
    "expired",
    "wrong actor_type",
    "another customer's actor",
    "no iat",
    "HS512",
    "reset token",
]


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/store/customers/me"),
        ("post", "/auth/token/refresh"),
        ("post", "/auth/session"),
        ("post", "/store/customers"),
    ],
)
def test_bad_tokens_are_refused(api, email, attack, method, path):
    customer = customer_create(email=email)

    response = getattr(api, method)(
        path, HTTP_AUTHORIZATION=f"Bearer {forged(customer, attack)}"
    )

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_tokens_issued_before_a_password_change_are_revoked(api, email):
    customer = customer_create(email=email)
    identity = AuthIdentity.objects.get(customer=customer)
    old = token_without_session(
        identity, issued_at=timezone.now() - timedelta(minutes=5)
    )
    identity_tokens_revoke(
        identity_id=identity.pk, now=timezone.now() - timedelta(minutes=1)
    )

    stale = api.get("/store/customers/me", HTTP_AUTHORIZATION=f"Bearer {old}")
    fresh = api.get(
        "/store/customers/me", HTTP_AUTHORIZATION=f"Bearer {token_for(customer)}"
    )

    assert stale.status_code == 401
    assert fresh.status_code == 200


def test_a_medusa_issued_token_with_the_shared_secret_is_accepted(api, email):
    """Medusa signs with jsonwebtoken: same claims and secret; only the
    header's key order may differ. A cut-over keeps sessions."""
    customer = customer_create(email=email)
    good = claims_for(customer)
    header = {"alg": "HS256", "typ": "JWT"}
    medusa_token = jwt.encode(
        good, settings.JWT_SECRET, algorithm="HS256", headers=header
    )

    assert (
        api.get(
            "/store/customers/me", HTTP_AUTHORIZATION=f"Bearer {medusa_token}"
        ).status_code
        == 200
    )


def test_a_token_from_a_host_whose_clock_runs_ahead_is_accepted(api, email):
    customer = customer_create(email=email)
    good = claims_for(customer)
    ahead = jwt.encode(
        {**good, "iat": good["iat"] + 30, "exp": good["exp"] + 30},
        settings.JWT_SECRET,
        algorithm="HS256",
    )

    me = api.get("/store/customers/me", HTTP_AUTHORIZATION=f"Bearer {ahead}")

    assert me.status_code == 200
    assert me.json()["customer"]["id"] == customer.id


def test_admin_login_is_csrf_protected(client):
    from django.contrib.auth.models import User
    from django.test import Client

    User.objects.create_superuser("root", password="pw-for-tests-only")
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(
        "/admin/login/", {"username": "root", "password": "pw-for-tests-only"}
    )

    assert response.status_code == 403


def test_a_token_accepted_once_is_still_refused_when_it_expires(
    api, email, monkeypatch
):
    """A verified token's signature is not checked again (accounts/tokens.py
    `_verified`), but its expiry is, on every request: here the token's
    clock reaches its `exp` second between two requests."""
    customer = customer_create(email=email)
    soon = int(timezone.now().timestamp()) + 60
    short = jwt.encode(
        {**claims_for(customer), "exp": soon}, settings.JWT_SECRET, algorithm="HS256"
    )
    me = api.get("/store/customers/me", HTTP_AUTHORIZATION=f"Bearer {short}")
    monkeypatch.setattr(tokens, "time", SimpleNamespace(time=lambda: soon))

    again = api.get("/store/customers/me", HTTP_AUTHORIZATION=f"Bearer {short}")

    assert me.status_code == 200
    assert (again.status_code, again.json()) == (401, {"message": "Unauthorized"})


def test_a_token_accepted_once_is_refused_after_the_secret_changes(
    api, email, settings
):
    customer = customer_create(email=email)
    token = token_for(customer)
    me = api.get("/store/customers/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    settings.JWT_SECRET = "a new secret of at least 32 bytes!!"

    again = api.get("/store/customers/me", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert me.status_code == 200
    assert again.status_code == 401
