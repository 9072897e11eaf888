"""Failed logins to /admin/ lock out, through the test client: a username
after ADMIN_LOGIN_FAILURES_PER_USERNAME (5) failures, a client address
after ADMIN_LOGIN_FAILURES_PER_CLIENT (20), both for
ADMIN_LOGIN_COOLOFF_SECONDS (900) after the last try; a locked-out login
answers 429 with Retry-After even with the right password. Client
addresses are read as the request limits read them (TRUSTED_PROXY_COUNT)."""

import logging
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import F
from django.test import Client

from tests.staff.conftest import STAFF_PASSWORD, login, reaches_admin

pytestmark = pytest.mark.django_db

PER_USERNAME = 5
PER_CLIENT = 20
COOLOFF = 900


def fail(client, username: str, times: int, **kwargs) -> list[int]:
    return [
        login(client, username, "not-the-password", **kwargs).status_code
        for _ in range(times)
    ]


def locked_out(response) -> bool:
    return response.status_code == 429 and b"Too many failed logins" in (
        response.content
    )


def stranger() -> str:
    return f"nobody.{uuid.uuid4().hex[:8]}"


def test_wrong_passwords_lock_the_username_even_with_the_right_password(
    client, support_staff
):
    statuses = fail(client, "support.staff", PER_USERNAME)
    right = login(client, "support.staff", STAFF_PASSWORD)

    assert statuses == [200] * (PER_USERNAME - 1) + [429]
    assert locked_out(right)
    assert right["Retry-After"] == str(COOLOFF)
    assert not reaches_admin(client)


def test_the_username_stays_locked_from_another_address(client, support_staff):
    fail(client, "support.staff", PER_USERNAME, ip="198.51.100.7")

    elsewhere = Client()
    right = login(elsewhere, "support.staff", STAFF_PASSWORD, ip="203.0.113.99")

    assert locked_out(right)
    assert not reaches_admin(elsewhere)


def test_fewer_failures_than_the_limit_do_not_lock(client, support_staff):
    fail(client, "support.staff", PER_USERNAME - 1)

    right = login(client, "support.staff", STAFF_PASSWORD)

    assert right.status_code == 302
    assert reaches_admin(client)


def test_a_client_guessing_across_usernames_is_locked_out(client, support_staff):
    # One failure each for many usernames: no username reaches its limit.
    statuses = [fail(client, stranger(), 1)[0] for _ in range(PER_CLIENT)]
    right = login(client, "support.staff", STAFF_PASSWORD)
    other_client = Client()
    from_elsewhere = login(other_client, "support.staff", STAFF_PASSWORD, ip="::1")

    assert statuses == [200] * (PER_CLIENT - 1) + [429]
    assert locked_out(right)
    assert not reaches_admin(client)
    # The user is not locked: their own office can still get in.
    assert from_elsewhere.status_code == 302
    assert reaches_admin(other_client)


def test_a_login_of_its_own_does_not_clear_a_clients_count(client, support_staff):
    # A stuffing client with one valid account of its own logs in between
    # guesses, hoping to start its count afresh.
    for _ in range(PER_CLIENT - 1):
        fail(client, stranger(), 1)
    own = login(Client(), "support.staff", STAFF_PASSWORD)

    next_guess = fail(client, stranger(), 1)

    assert own.status_code == 302
    assert next_guess == [429]


def test_a_client_cannot_leave_its_lockout_by_claiming_another_address(
    client, support_staff, settings
):
    settings.TRUSTED_PROXY_COUNT = 0  # no proxy: X-Forwarded-For is a claim
    for n in range(PER_CLIENT):
        client.post(
            "/admin/login/",
            {"username": stranger(), "password": "wrong"},
            REMOTE_ADDR="198.51.100.7",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )

    right = client.post(
        "/admin/login/",
        {"username": "support.staff", "password": STAFF_PASSWORD},
        REMOTE_ADDR="198.51.100.7",
        HTTP_X_FORWARDED_FOR="192.0.2.200",
    )

    assert locked_out(right)


def test_behind_a_proxy_each_client_is_counted_on_its_own(
    client, support_staff, settings
):
    settings.TRUSTED_PROXY_COUNT = 1  # the load balancer appends the client
    proxy = "10.0.0.2"
    for _ in range(PER_CLIENT):
        client.post(
            "/admin/login/",
            {"username": stranger(), "password": "wrong"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR="203.0.113.5",
        )
    # The attacker puts the colleague's address first; the proxy appends
    # the attacker's real one, which is what counts.
    spoofed = client.post(
        "/admin/login/",
        {"username": "support.staff", "password": STAFF_PASSWORD},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR="203.0.113.6, 203.0.113.5",
    )
    colleague = Client()
    right = colleague.post(
        "/admin/login/",
        {"username": "support.staff", "password": STAFF_PASSWORD},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR="203.0.113.6",
    )

    assert locked_out(spoofed)
    assert right.status_code == 302
    assert reaches_admin(colleague)


def test_an_ipv6_client_counts_by_its_64(client, support_staff):
    statuses = [
        fail(client, stranger(), 1, ip=f"2001:db8:1:2::{n:x}")[0]
        for n in range(PER_CLIENT)
    ]
    same_network = login(
        Client(), "support.staff", STAFF_PASSWORD, ip="2001:db8:1:2::ff"
    )
    neighbour = Client()
    right = login(neighbour, "support.staff", STAFF_PASSWORD, ip="2001:db8:1:3::1")

    assert statuses[-1] == 429
    assert locked_out(same_network)
    assert right.status_code == 302
    assert reaches_admin(neighbour)


def test_the_lockout_ends_after_the_cool_off(client, support_staff):
    from axes.models import AccessAttempt

    fail(client, "support.staff", PER_USERNAME)

    def time_passes(seconds: int) -> None:
        AccessAttempt.objects.update(
            attempt_time=F("attempt_time") - timedelta(seconds=seconds)
        )

    time_passes(COOLOFF - 60)
    # A try while locked out counts and starts the wait again.
    assert locked_out(login(client, "support.staff", STAFF_PASSWORD))
    time_passes(COOLOFF - 60)
    assert locked_out(login(Client(), "support.staff", STAFF_PASSWORD, ip="::1"))
    time_passes(COOLOFF + 1)
    right = login(client, "support.staff", STAFF_PASSWORD)

    assert right.status_code == 302
    assert reaches_admin(client)


def test_an_engineer_lifts_a_lockout_with_axes_reset_username(client, support_staff):
    fail(client, "support.staff", PER_USERNAME)

    call_command("axes_reset_username", "support.staff")
    right = login(client, "support.staff", STAFF_PASSWORD)

    assert right.status_code == 302
    assert reaches_admin(client)


def test_a_superuser_lifts_a_lockout_in_admin_and_support_cannot(
    client, support_staff, superuser
):
    from axes.models import AccessAttempt

    fail(client, "support.staff", PER_USERNAME)
    ids = [str(pk) for pk in AccessAttempt.objects.values_list("pk", flat=True)]
    support = Client()
    support.force_login(support_staff)
    admin = Client()
    admin.force_login(superuser)

    support_sees = support.get("/admin/axes/accessattempt/")
    listed = admin.get("/admin/axes/accessattempt/")
    admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    right = login(client, "support.staff", STAFF_PASSWORD)

    assert support_sees.status_code == 403
    assert listed.status_code == 200
    assert b"support.staff" in listed.content
    assert right.status_code == 302
    assert reaches_admin(client)


def test_lockout_logs_name_neither_the_username_nor_the_address(
    client, support_staff, caplog
):
    # Staff may type an email as their username; the log scan
    # (tests/security/test_logs.py) would catch it too.
    typed = f"staff.{uuid.uuid4().hex[:8]}@example.com"
    with caplog.at_level(logging.INFO, logger="axes"):
        fail(client, typed, PER_USERNAME, ip="198.51.100.77")

    axes_lines = [r.getMessage() for r in caplog.records if r.name.startswith("axes")]
    assert any("Locking out" in line for line in axes_lines), axes_lines
    assert not [line for line in axes_lines if typed in line]
    assert not [line for line in axes_lines if "198.51.100.77" in line]
