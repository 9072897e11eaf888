"""The admin's second factor with ADMIN_REQUIRE_2FA on (as production
settings have it), through the test client: a TOTP device enrolled with
`staff_totp enrol`, its code on the login form, no way in without it."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import F
from django.test import Client

from tests.staff.conftest import (
    STAFF_PASSWORD,
    SUPPORT_PAGE,
    another_code,
    code_for,
    enrol,
    login,
    reaches_admin,
)

pytestmark = pytest.mark.django_db


def throttle_passes() -> None:
    """django-otp refuses a device's codes for 2^(n-1) s after n wrong ones;
    move the last failure back past that, as if the wait had passed."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.update(
        throttling_failure_timestamp=F("throttling_failure_timestamp")
        - timedelta(minutes=10)
    )


REFUSED = b"password and authenticator code"


@pytest.fixture(autouse=True)
def _second_factor_required(settings):
    settings.ADMIN_REQUIRE_2FA = True


def test_the_login_form_asks_for_the_code(client):
    page = client.get("/admin/login/")

    assert page.status_code == 200
    assert b'name="otp_token"' in page.content


def test_support_with_the_right_code_reaches_the_admin(client, support_staff):
    key, _ = enrol("support.staff")

    response = login(client, "support.staff", STAFF_PASSWORD, code=code_for(key))

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert reaches_admin(client)


def test_support_without_a_device_cannot_get_in(client, support_staff):
    for code in (None, "", "123456"):
        response = login(client, "support.staff", STAFF_PASSWORD, code=code)

        assert response.status_code == 200
        assert REFUSED in response.content
        assert not reaches_admin(client)


def test_a_wrong_code_is_refused_as_a_wrong_password_is(client, support_staff):
    key, _ = enrol("support.staff")

    wrong_code = login(
        client, "support.staff", STAFF_PASSWORD, code=another_code(code_for(key))
    )
    wrong_password = login(client, "support.staff", "not-it", code=code_for(key))

    assert wrong_code.status_code == 200
    assert not reaches_admin(client)
    # The same words: the page does not tell that the password was right.
    assert wrong_code.context["form"].non_field_errors() == (
        wrong_password.context["form"].non_field_errors()
    )
    assert REFUSED in wrong_code.content
    # The failure is on record for a superuser, without the code typed.
    from axes.models import AccessAttempt

    (attempt,) = AccessAttempt.objects.filter(username="support.staff")
    assert attempt.failures_since_start == 2
    assert "otp_token=****" in attempt.post_data
    assert another_code(code_for(key)) not in attempt.post_data


def test_wrong_codes_count_towards_the_lockout(client, support_staff):
    key, _ = enrol("support.staff")

    statuses = [
        login(
            client, "support.staff", STAFF_PASSWORD, code=another_code(code_for(key))
        ).status_code
        for _ in range(5)
    ]

    assert statuses == [200, 200, 200, 200, 429]
    assert not reaches_admin(client)


def test_a_code_cannot_be_used_twice(support_staff):
    key, _ = enrol("support.staff")
    code = code_for(key)
    first, second = Client(), Client()

    used = login(first, "support.staff", STAFF_PASSWORD, code=code)
    replayed = login(second, "support.staff", STAFF_PASSWORD, code=code)

    assert used.status_code == 302
    assert reaches_admin(first)
    assert replayed.status_code == 200
    assert REFUSED in replayed.content
    assert not reaches_admin(second)


def test_after_a_wrong_code_even_the_right_one_waits(client, support_staff):
    key, _ = enrol("support.staff")
    login(client, "support.staff", STAFF_PASSWORD, code=another_code(code_for(key)))

    at_once = login(client, "support.staff", STAFF_PASSWORD, code=code_for(key))
    throttle_passes()
    later = login(client, "support.staff", STAFF_PASSWORD, code=code_for(key))

    assert at_once.status_code == 200
    assert later.status_code == 302
    assert reaches_admin(client)


def test_a_password_only_session_does_not_reach_the_admin(client, support_staff):
    enrol("support.staff")
    client.force_login(support_staff)  # a session with no device verified

    page = client.get(SUPPORT_PAGE)

    assert page.status_code == 302
    assert page["Location"].startswith("/admin/login/")


def test_a_superuser_needs_a_code_too(client, superuser):
    without = login(client, "root.staff", STAFF_PASSWORD)
    assert without.status_code == 200
    assert not reaches_admin(client)

    key, _ = enrol("root.staff")
    response = login(client, "root.staff", STAFF_PASSWORD, code=code_for(key))

    assert response.status_code == 302
    assert reaches_admin(client)


def test_another_users_device_does_not_help(client, support_staff, superuser):
    their_key, _ = enrol("root.staff")
    enrol("support.staff")

    response = login(client, "support.staff", STAFF_PASSWORD, code=code_for(their_key))

    assert response.status_code == 200
    assert not reaches_admin(client)


def test_enrol_prints_an_authenticator_uri_and_refuses_to_replace_silently(
    support_staff,
):
    from django.core.management.base import CommandError

    _, printed = enrol("support.staff")

    assert "otpauth://totp/Storefront%20Auth%3Asupport.staff?secret=" in printed
    assert "&issuer=Storefront%20Auth" in printed
    with pytest.raises(CommandError, match="has a device already"):
        enrol("support.staff")


def test_enrol_draws_the_qr_code_on_the_terminal(support_staff):
    out = io.StringIO()
    call_command("staff_totp", "enrol", "support.staff", stdout=out)

    printed = out.getvalue()
    assert printed.count("█") > 100  # the QR code's modules
    assert "otpauth://totp/" in printed


def test_a_replaced_device_stops_working(client, support_staff):
    old_key, _ = enrol("support.staff")
    new_key, _ = enrol("support.staff", "--replace")

    old = login(client, "support.staff", STAFF_PASSWORD, code=code_for(old_key))
    assert old.status_code == 200
    assert not reaches_admin(client)
    throttle_passes()  # the old code was a wrong code for the new device
    new = login(client, "support.staff", STAFF_PASSWORD, code=code_for(new_key))
    assert new.status_code == 302
    assert reaches_admin(client)


def test_enrol_refuses_a_user_who_is_not_staff(db):
    from django.contrib.auth.models import User
    from django.core.management.base import CommandError

    User.objects.create_user("a.customer.user", password=STAFF_PASSWORD)

    with pytest.raises(CommandError, match="not staff"):
        enrol("a.customer.user")


def test_with_the_setting_off_a_password_is_enough(client, support_staff, settings):
    settings.ADMIN_REQUIRE_2FA = False

    response = login(client, "support.staff", STAFF_PASSWORD)

    assert response.status_code == 302
    assert reaches_admin(client)
