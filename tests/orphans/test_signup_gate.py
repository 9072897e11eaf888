"""The runbook's escalation, automated: too many failed profile creations of
ours an hour pause new signups until staff resume them; every pause and
resume is audited."""

import pytest

from orphans.models import OrphanEvent, SignupGate, SignupGateChange
from tests.db_faults import refusing_trigger
from tests.factories import customer_create, profile_create, registration_token

pytestmark = pytest.mark.django_db


def profile(api, email, password, **body):
    return profile_create(api, registration_token(api, email, password), email, **body)


def fail_profile(api, email, password) -> None:
    """Step 2 fails on our side: PostgreSQL refuses the identity's link."""
    with refusing_trigger(table="accounts_authidentity", event="UPDATE OF customer_id"):
        assert profile(api, email, password).status_code == 503


def test_crossing_the_threshold_pauses_signups_not_logins(
    api, settings, password, client
):
    settings.SIGNUPS_PAUSE_THRESHOLD = 2
    customer_create(email="known@example.com", password=password)
    fail_profile(api, "first@example.com", password)
    assert not SignupGate.objects.get().paused_at
    fail_profile(api, "second@example.com", password)

    register = api.post(
        "/auth/customer/emailpass/register",
        {"email": "new@example.com", "password": password},
        format="json",
    )
    signup = api.post(
        "/store/auth/signup",
        {"email": "new@example.com", "password": password},
        format="json",
    )
    login = api.post(
        "/auth/customer/emailpass",
        {"email": "known@example.com", "password": password},
        format="json",
    )

    assert register.status_code == signup.status_code == 503
    assert register.json()["code"] == "signups_paused"
    assert register.json()["type"] == "unavailable"
    assert login.status_code == 200
    change = SignupGateChange.objects.get()
    assert change.action == "pause"
    assert change.automatic


def test_refused_profiles_are_counted_but_never_pause_signups(api, settings, password):
    """Otherwise anyone could pause the shop's signups with a few dozen
    registrations and bad profiles an hour."""
    settings.SIGNUPS_PAUSE_THRESHOLD = 2
    for n in range(3):
        assert (
            profile(api, f"bad.{n}@example.com", password, first_name=5).status_code
            == 400
        )

    register = api.post(
        "/auth/customer/emailpass/register",
        {"email": "new@example.com", "password": password},
        format="json",
    )

    assert register.status_code == 200
    assert not SignupGate.objects.filter(paused_at__isnull=False).exists()
    assert list(OrphanEvent.objects.values_list("rejected", flat=True)) == [True] * 3


def test_our_failure_on_a_retry_after_refused_input_counts(api, settings, password):
    settings.SIGNUPS_PAUSE_THRESHOLD = 1
    email = "retry@example.com"
    token = registration_token(api, email, password)

    def step_2(**body):
        return profile_create(api, token, email, **body).status_code

    refused = step_2(first_name=5)
    with refusing_trigger(table="accounts_authidentity", event="UPDATE OF customer_id"):
        failed = step_2()

    assert (refused, failed) == (400, 503)
    assert OrphanEvent.objects.get().rejected is False
    assert SignupGate.objects.get().paused_at is not None


def test_staff_resume_and_the_admin_banner(api, client, password):
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from orphans.services import signups_pause

    signups_pause(staff_user=None, reason="test", now=timezone.now())
    lead = User.objects.create_user("lead", password="pw-for-tests-only", is_staff=True)
    lead.groups.add(Group.objects.get(name="Support"))
    client.force_login(lead)
    assert b'id="signups-paused-banner"' in client.get("/admin/").content

    client.post(
        "/admin/orphans/signupgate/", {"action": "resume", "_selected_action": ["1"]}
    )

    assert SignupGate.objects.get().paused_at is None
    assert b'id="signups-paused-banner"' not in client.get("/admin/").content
    resume = SignupGateChange.objects.get(action="resume")
    assert resume.staff_user == lead
    ok = api.post(
        "/auth/customer/emailpass/register",
        {"email": "after@example.com", "password": password},
        format="json",
    )
    assert ok.status_code == 200
