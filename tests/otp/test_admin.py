"""Staff see challenges without the hash and clear lockouts, audited."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User

from otp.models import OtpChallenge, OtpFailureBudget

pytestmark = pytest.mark.django_db


def staff(*perms: str) -> User:
    user = User.objects.create_user(
        "support", password="pw-for-tests-only", is_staff=True
    )
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


def test_challenge_list_never_shows_the_hash(client, email, send_code):
    send_code(email)
    client.force_login(staff("view_otpchallenge"))
    challenge = OtpChallenge.objects.get(email=email)

    listing = client.get("/admin/otp/otpchallenge/")
    detail = client.get(f"/admin/otp/otpchallenge/{challenge.id}/change/")

    assert listing.status_code == detail.status_code == 200
    assert email in listing.content.decode()
    assert challenge.code_hash not in listing.content.decode()
    assert challenge.code_hash not in detail.content.decode()


def test_clear_lockout_resets_the_budget_and_is_audited(client, email):
    OtpFailureBudget.objects.create(email=email, consecutive_failures=100)
    user = staff("view_otpfailurebudget", "clear_otp_lockout")
    client.force_login(user)

    response = client.post(
        "/admin/otp/otpfailurebudget/",
        {"action": "clear_lockout", "_selected_action": [email]},
    )

    assert response.status_code == 302
    budget = OtpFailureBudget.objects.get(email=email)
    assert budget.consecutive_failures == 0
    assert budget.cleared_at is not None
    entry = LogEntry.objects.get(object_id=email)
    assert entry.user == user
    assert entry.change_message == "Cleared OTP lockout"
    # The admin's messages still work (staff.middleware keeps them to it).
    shown = client.get(response["Location"])
    assert "Cleared the OTP lockout of 1 email(s)." in shown.content.decode()


def test_no_admin_url_is_named_by_an_email(client, email):
    """The budget's primary key is the email: its list shows every field,
    and no page of its own (nor the admin log's link to one) exists."""
    from django.contrib.admin.utils import quote
    from django.urls import NoReverseMatch, reverse

    OtpFailureBudget.objects.create(email=email, consecutive_failures=3)
    client.force_login(staff("view_otpfailurebudget", "clear_otp_lockout"))
    client.post(
        "/admin/otp/otpfailurebudget/",
        {"action": "clear_lockout", "_selected_action": [email]},
    )

    listing = client.get("/admin/otp/otpfailurebudget/").content.decode()

    assert email in listing
    assert quote(email) not in listing
    # Asked by name, not by URL: a request would log the email's path.
    for page in ("change", "history", "delete"):
        with pytest.raises(NoReverseMatch):
            reverse(f"admin:otp_otpfailurebudget_{page}", args=["x"])
    assert LogEntry.objects.get().get_admin_url() is None


def test_clear_lockout_needs_the_permission(client, email):
    OtpFailureBudget.objects.create(email=email, consecutive_failures=100)
    client.force_login(staff("view_otpfailurebudget"))

    client.post(
        "/admin/otp/otpfailurebudget/",
        {"action": "clear_lockout", "_selected_action": [email]},
    )

    assert OtpFailureBudget.objects.get(email=email).consecutive_failures == 100
    assert not LogEntry.objects.exists()


def test_non_staff_cannot_open_the_admin(client, email):
    client.force_login(
        User.objects.create_user("shopper", password="pw-for-tests-only")
    )

    response = client.get("/admin/otp/otpchallenge/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
