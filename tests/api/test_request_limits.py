"""Request limits that strangers cannot turn against the owner: failed logins
count per (address, client) and, from clients that never logged in to the
address, per address; IPv6 clients count per /64; a refused registration
counts per address (it tests a password against an unlinked identity)."""

import pytest
from django.conf import settings

from tests.factories import customer_create, identity_create

pytestmark = pytest.mark.django_db

LOGIN = "/auth/customer/emailpass"
REGISTER = "/auth/customer/emailpass/register"
OWNER_IP = "198.51.100.7"


def login(api, email: str, password: str, ip: str):
    return api.post(
        LOGIN, {"email": email, "password": password}, format="json", REMOTE_ADDR=ip
    )


def test_a_stranger_guessing_cannot_lock_the_owner_out(api, email, password):
    customer_create(email=email, password=password)

    stranger = [
        login(api, email, f"guess {n}", "203.0.113.9").status_code for n in range(30)
    ]
    owner = login(api, email, password, OWNER_IP)

    assert stranger[:10] == [401] * 10
    assert set(stranger[10:]) == {429}
    assert owner.status_code == 200


def test_the_owners_right_password_does_not_count_as_a_failure(
    api, email, password, settings
):
    settings.LOGIN_FAILURES_PER_EMAIL_CLIENT = 3
    customer_create(email=email, password=password)

    answers = [login(api, email, password, OWNER_IP).status_code for _ in range(6)]

    assert answers == [200] * 6


def test_guesses_from_many_clients_stop_at_the_ceiling_but_not_the_owners_client(
    api, email, password, settings
):
    settings.LOGIN_FAILURES_PER_EMAIL = 20
    customer_create(email=email, password=password)
    assert login(api, email, password, OWNER_IP).status_code == 200  # known client

    botnet = [
        login(api, email, "guess", f"203.0.113.{n}").status_code for n in range(1, 31)
    ]
    newcomer = login(api, email, password, "192.0.2.50")
    owner = login(api, email, password, OWNER_IP)

    assert botnet[:20] == [401] * 20
    assert set(botnet[20:]) == {429}
    assert newcomer.status_code == 429
    assert int(newcomer["Retry-After"]) > 0
    assert owner.status_code == 200


def test_ipv6_clients_are_counted_per_64(api, email, password, settings):
    settings.LOGIN_LIMIT_PER_IP = 2
    customer_create(email=email, password=password)

    same_64 = [
        login(api, email, password, f"2001:db8:1:2::{n}").status_code for n in (1, 2, 3)
    ]
    other_64 = login(api, email, password, "2001:db8:1:3::1")

    assert same_64 == [200, 200, 429]
    assert other_64.status_code == 200


def test_registration_is_no_password_oracle_for_an_unlinked_identity(
    api, email, password, settings
):
    settings.SIGNUP_FAILURES_PER_EMAIL = 5
    identity_create(email=email, password=password)

    guesses = [
        api.post(
            REGISTER,
            {"email": email, "password": f"guess number {n}"},
            format="json",
            REMOTE_ADDR=f"203.0.113.{n}",
        ).status_code
        for n in range(1, 8)
    ]
    right = api.post(
        REGISTER,
        {"email": email, "password": password},
        format="json",
        REMOTE_ADDR="203.0.113.99",
    )

    assert guesses == [401] * 5 + [429] * 2
    assert right.status_code == 429


def test_registrations_that_succeed_do_not_use_up_the_limit(
    api, email, password, settings
):
    """A new address, then the self-heal of its unlinked identity, again and
    again: none of them is a refused guess."""
    settings.SIGNUP_FAILURES_PER_EMAIL = 1

    answers = [
        api.post(
            REGISTER, {"email": email, "password": password}, format="json"
        ).status_code
        for _ in range(3)
    ]

    assert answers == [200, 200, 200]


def test_failed_logins_are_throttled_per_email_and_client(api, email, settings):
    settings.LOGIN_FAILURES_PER_EMAIL_CLIENT = 3

    answers = [
        api.post(LOGIN, {"email": email, "password": "guess number n"}, format="json")
        for _ in range(4)
    ]

    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert answers[3].json()["type"] == "too_many_requests"
    assert int(answers[3]["Retry-After"]) > 0


def test_reset_requests_are_throttled_per_email(api, email):
    answers = [
        api.post(
            "/auth/customer/emailpass/reset-password",
            {"identifier": email},
            format="json",
        )
        for _ in range(settings.RESET_LIMIT_PER_EMAIL + 1)
    ]

    assert answers[-1].status_code == 429
    assert {a.status_code for a in answers[:-1]} == {201}


def test_signups_are_throttled_per_ip(api, settings, password):
    settings.SIGNUP_LIMIT_PER_IP = 2

    answers = [
        api.post(
            REGISTER,
            {"email": f"ip{n}@example.com", "password": password},
            format="json",
        )
        for n in range(3)
    ]

    assert [a.status_code for a in answers] == [200, 200, 429]
