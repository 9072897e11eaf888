"""Sessions and devices: every login opens a session, its tokens and cookies
carry it, the customer lists and ends them, staff end them all
(docs/account.md, "Sessions and devices")."""

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuthIdentity, LoginSession
from accounts.services import identity_tokens_revoke
from accounts.tasks import expired_credentials_purge_task
from accounts.tokens import access_token_decode
from tests.api_client import CommittingAPIClient as APIClient
from tests.factories import PASSWORD, customer_create, token_for, token_without_session
from tests.otp.conftest import mailed_code

pytestmark = pytest.mark.django_db

SESSIONS = "/store/customers/me/sessions"
ME = "/store/customers/me"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1"
LAPTOP = "Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0"


def client_of(publishable_key: str, *, agent: str = LAPTOP, ip: str = "203.0.113.7"):
    return APIClient(
        HTTP_X_PUBLISHABLE_API_KEY=publishable_key,
        HTTP_USER_AGENT=agent,
        REMOTE_ADDR=ip,
    )


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def login(client: APIClient, email: str) -> str:
    response = client.post(
        "/auth/customer/emailpass",
        {"email": email, "password": PASSWORD},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()["token"]


def sessions(client: APIClient, token: str) -> list[dict]:
    response = client.get(SESSIONS, **bearer(token))
    assert response.status_code == 200, response.content
    return response.json()["sessions"]


def test_a_login_opens_a_session_its_token_names(publishable_key, email):
    customer_create(email=email)
    phone = client_of(publishable_key, agent=PHONE, ip="198.51.100.23")

    token = login(phone, email)
    listed = sessions(phone, token)

    assert len(listed) == 1
    session = listed[0]
    assert session["id"] == access_token_decode(token).session_id
    assert session["id"].startswith("sess_")
    assert session["current"] is True
    assert session["auth_provider"] == "emailpass"
    assert session["user_agent"] == PHONE
    assert session["ip_prefix"] == "198.51.100.0/24"  # never the address
    assert set(session) == {
        "id",
        "current",
        "created_at",
        "last_used_at",
        "user_agent",
        "ip_prefix",
        "auth_provider",
    }


def test_every_sign_up_and_login_path_opens_one(publishable_key, email):
    client = client_of(publishable_key)
    registered = client.post(
        "/auth/customer/emailpass/register",
        {"email": email, "password": PASSWORD},
        format="json",
    ).json()["token"]
    one_step = client.post(
        "/store/auth/signup",
        {"email": f"one.{email}", "password": PASSWORD},
        format="json",
    ).json()["token"]
    client.post("/store/auth/otp/send", {"email": f"otp.{email}"}, format="json")
    code = mailed_code(f"otp.{email}")
    by_code = client.post(
        "/store/auth/otp/verify", {"email": f"otp.{email}", "code": code}, format="json"
    ).json()["token"]

    providers = {
        access_token_decode(token).session_id: provider
        for token, provider in (
            (registered, "emailpass"),
            (one_step, "emailpass"),
            (by_code, "email-otp"),
        )
    }
    assert None not in providers
    stored = dict(
        LoginSession.objects.filter(id__in=providers).values_list("id", "auth_provider")
    )
    assert stored == providers


def test_a_refresh_stays_in_the_session(publishable_key, email):
    customer_create(email=email)
    client = client_of(publishable_key)
    token = login(client, email)

    refreshed = client.post("/auth/token/refresh", **bearer(token)).json()["token"]

    assert (
        access_token_decode(refreshed).session_id
        == access_token_decode(token).session_id
    )
    assert len(sessions(client, refreshed)) == 1


def test_ending_a_session_refuses_its_tokens(publishable_key, email):
    customer_create(email=email)
    laptop = client_of(publishable_key)
    phone = client_of(publishable_key, agent=PHONE)
    mine = login(laptop, email)
    lost = login(phone, email)
    lost_refreshed = phone.post("/auth/token/refresh", **bearer(lost)).json()["token"]
    lost_id = access_token_decode(lost).session_id

    ended = laptop.delete(f"{SESSIONS}/{lost_id}", **bearer(mine))

    assert ended.status_code == 200, ended.content
    assert ended.json() == {"id": lost_id, "object": "session", "deleted": True}
    assert phone.get(ME, **bearer(lost)).status_code == 401
    assert phone.get(ME, **bearer(lost_refreshed)).status_code == 401
    assert phone.post("/auth/token/refresh", **bearer(lost)).status_code == 401
    assert laptop.get(ME, **bearer(mine)).status_code == 200
    assert [s["id"] for s in sessions(laptop, mine)] == [
        access_token_decode(mine).session_id
    ]


def test_ending_the_current_session_is_logging_out(publishable_key, email):
    customer_create(email=email)
    client = client_of(publishable_key)
    token = login(client, email)
    session_id = access_token_decode(token).session_id

    assert client.delete(f"{SESSIONS}/{session_id}", **bearer(token)).status_code == 200
    assert client.get(ME, **bearer(token)).status_code == 401


def test_another_customers_session_is_not_found_and_stays(publishable_key, email):
    customer_create(email=email)
    customer_create(email=f"other.{email}")
    client = client_of(publishable_key)
    mine = login(client, email)
    theirs = login(client, f"other.{email}")
    their_id = access_token_decode(theirs).session_id

    for session_id in (their_id, "sess_unknown", "sess\x00nul"):
        response = client.delete(f"{SESSIONS}/{session_id}", **bearer(mine))
        assert response.status_code == 404, session_id
        assert response.json()["type"] == "not_found"

    assert client.get(ME, **bearer(theirs)).status_code == 200


def test_ending_every_other_session(publishable_key, email):
    customer = customer_create(email=email)
    client = client_of(publishable_key)
    mine = login(client, email)
    others = [login(client, email) for _ in range(2)]
    identity = AuthIdentity.objects.get(customer=customer)
    # A token from before sessions existed (no `sid`): it belongs to none.
    legacy = token_without_session(
        identity, issued_at=timezone.now() - timedelta(seconds=2)
    )
    assert client.get(ME, **bearer(legacy)).status_code == 200

    response = client.delete(SESSIONS, **bearer(mine))

    assert (response.status_code, response.json()) == (200, {"deleted": 2})
    for token in (*others, legacy):
        assert client.get(ME, **bearer(token)).status_code == 401
    assert client.get(ME, **bearer(mine)).status_code == 200
    assert len(sessions(client, mine)) == 1


def test_a_token_from_before_sessions_gets_one_at_refresh(publishable_key, email):
    customer = customer_create(email=email)
    identity = AuthIdentity.objects.get(customer=customer)
    legacy = token_without_session(identity, issued_at=timezone.now())
    client = client_of(publishable_key)

    assert sessions(client, legacy) == []
    refreshed = client.post("/auth/token/refresh", **bearer(legacy)).json()["token"]

    listed = sessions(client, refreshed)
    assert [s["id"] for s in listed] == [access_token_decode(refreshed).session_id]
    assert listed[0]["current"] is True


def test_a_cookie_session_belongs_to_its_tokens_session(publishable_key, email):
    customer_create(email=email)
    browser = client_of(publishable_key)
    token = login(browser, email)
    assert browser.post("/auth/session", **bearer(token)).status_code == 200

    listed = browser.get(SESSIONS).json()["sessions"]
    assert [(s["id"], s["current"]) for s in listed] == [
        (access_token_decode(token).session_id, True)
    ]

    # Logging out of the cookie session ends the login session: the token
    # that opened it is refused too.
    assert browser.delete("/auth/session").status_code == 200
    assert client_of(publishable_key).get(ME, **bearer(token)).status_code == 401
    assert LoginSession.objects.count() == 0


def test_ending_a_session_ends_its_cookie(publishable_key, email):
    customer_create(email=email)
    browser = client_of(publishable_key)
    laptop = client_of(publishable_key)
    browser.post("/auth/session", **bearer(login(browser, email)))
    mine = login(laptop, email)

    laptop.delete(SESSIONS, **bearer(mine))

    assert browser.get(ME).status_code == 401


def test_a_password_change_keeps_only_this_session(publishable_key, email):
    customer_create(email=email)
    client = client_of(publishable_key)
    mine = login(client, email)
    other = login(client, email)

    changed = client.post(
        "/store/customers/me/password",
        {"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        format="json",
        **bearer(mine),
    )

    assert changed.status_code == 200, changed.content
    new_token = changed.json()["token"]
    assert (
        access_token_decode(new_token).session_id
        == access_token_decode(mine).session_id
    )
    assert [s["id"] for s in sessions(client, new_token)] == [
        access_token_decode(mine).session_id
    ]
    assert client.get(ME, **bearer(other)).status_code == 401


def test_an_email_change_keeps_only_this_session(
    publishable_key, email, django_capture_on_commit_callbacks
):
    customer_create(email=email)
    client = client_of(publishable_key)
    mine = login(client, email)
    other = login(client, email)
    new = f"moved.{email}"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/store/customers/me/email", {"email": new}, format="json", **bearer(mine)
        )

    confirmed = client.post(
        "/store/customers/me/email/confirm",
        {"code": mailed_code(new)},
        format="json",
        **bearer(mine),
    )

    assert confirmed.status_code == 200, confirmed.content
    token = confirmed.json()["token"]
    assert [s["id"] for s in sessions(client, token)] == [
        access_token_decode(mine).session_id
    ]
    assert client.get(ME, **bearer(other)).status_code == 401


def test_last_use_is_written_at_most_once_a_minute(publishable_key, email):
    customer_create(email=email)
    client = client_of(publishable_key)
    token = login(client, email)
    session = LoginSession.objects.get()

    with CaptureQueriesContext(connection) as recent:
        assert client.get(ME, **bearer(token)).status_code == 200
    an_hour_ago = timezone.now() - timedelta(hours=1)
    LoginSession.objects.update(created_at=an_hour_ago, last_used_at=an_hour_ago)
    with CaptureQueriesContext(connection) as stale:
        assert client.get(ME, **bearer(token)).status_code == 200

    assert not any("UPDATE" in q["sql"] for q in recent.captured_queries)
    assert sum("UPDATE" in q["sql"] for q in stale.captured_queries) == 1
    session.refresh_from_db()
    assert session.last_used_at > an_hour_ago + timedelta(minutes=59)


def test_sessions_no_token_can_use_are_not_listed_then_purged(publishable_key, email):
    customer = customer_create(email=email)
    client = client_of(publishable_key)
    mine = login(client, email)
    login(client, email)
    login(client, email)
    ids = list(
        LoginSession.objects.exclude(id=access_token_decode(mine).session_id)
        .order_by("id")
        .values_list("id", flat=True)
    )
    unusable = timezone.now() - timedelta(days=2)
    forgotten = timezone.now() - timedelta(days=40)
    LoginSession.objects.filter(id=ids[0]).update(
        created_at=unusable, last_used_at=unusable
    )
    LoginSession.objects.filter(id=ids[1]).update(
        created_at=forgotten, last_used_at=forgotten
    )

    assert [s["id"] for s in sessions(client, mine)] == [
        access_token_decode(mine).session_id
    ]
    expired_credentials_purge_task()
    left = set(
        LoginSession.objects.filter(auth_identity__customer=customer).values_list(
            "id", flat=True
        )
    )
    assert left == {access_token_decode(mine).session_id, ids[0]}


def test_a_revocation_ends_every_session(publishable_key, email):
    customer = customer_create(email=email)
    client = client_of(publishable_key)
    tokens = [login(client, email) for _ in range(2)]

    identity_tokens_revoke(identity_id=customer.auth_identity.id, now=timezone.now())

    assert LoginSession.objects.count() == 0
    assert all(client.get(ME, **bearer(t)).status_code == 401 for t in tokens)


def test_sessions_need_a_customer_token(publishable_key, email):
    client = client_of(publishable_key)
    registration = client.post(
        "/auth/customer/emailpass/register",
        {"email": email, "password": PASSWORD},
        format="json",
    ).json()["token"]

    assert client.get(SESSIONS).status_code == 401
    assert client.get(SESSIONS, **bearer(registration)).status_code == 401
    assert (
        client.get(
            SESSIONS,
            {"limit": "1"},
            **bearer(token_for(customer_create(email=f"c.{email}"))),
        ).status_code
        == 400
    )


def test_staff_end_every_session_of_a_customer(client, publishable_key, email):
    from django.contrib.auth.models import Group

    from ops.support import SUPPORT_GROUP

    customer = customer_create(email=email)
    api = client_of(publishable_key)
    tokens = [login(api, email) for _ in range(2)]
    staff = User.objects.create_user(
        "support", password="pw-for-tests-only", is_staff=True
    )
    staff.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    client.force_login(staff)

    page = client.get(f"/admin/accounts/customer/{customer.id}/change/")
    assert page.status_code == 200
    assert "2 open" in page.content.decode()
    response = client.post(
        "/admin/accounts/customer/",
        {"action": "end_sessions", "_selected_action": [customer.id]},
    )

    assert response.status_code == 302
    assert all(api.get(ME, **bearer(t)).status_code == 401 for t in tokens)
    assert LoginSession.objects.count() == 0
    entry = LogEntry.objects.get(object_id=customer.id)
    assert (entry.user, entry.change_message) == (staff, "Ended every session")


def test_staff_without_the_permission_cannot(client, publishable_key, email):
    customer = customer_create(email=email)
    api = client_of(publishable_key)
    token = login(api, email)
    viewer = User.objects.create_user(
        "viewer", password="pw-for-tests-only", is_staff=True
    )
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(viewer)

    listed = client.get("/admin/accounts/customer/")
    refused = client.post(
        "/admin/accounts/customer/",
        {"action": "end_sessions", "_selected_action": [customer.id]},
    )

    assert listed.status_code == 200
    assert "end_sessions" not in listed.content.decode()
    assert refused.status_code == 200  # "No action selected", nothing done
    assert api.get(ME, **bearer(token)).status_code == 200
    assert not LogEntry.objects.filter(object_id=customer.id).exists()


def test_staff_cannot_end_every_session_of_a_whole_search(
    client, publishable_key, email
):
    customer = customer_create(email=email)
    api = client_of(publishable_key)
    token = login(api, email)
    client.force_login(User.objects.create_superuser("root", password="pw-x-tests"))

    client.post(
        "/admin/accounts/customer/",
        {
            "action": "end_sessions",
            "select_across": "1",
            "_selected_action": [customer.id],
        },
    )

    assert api.get(ME, **bearer(token)).status_code == 200
    assert not LogEntry.objects.filter(object_id=customer.id).exists()


def legacy_token(email: str) -> str:
    """A customer's token from before sessions, signed two seconds ago."""
    identity = AuthIdentity.objects.get(customer=customer_create(email=email))
    return token_without_session(
        identity, issued_at=timezone.now() - timedelta(seconds=2)
    )


def test_a_token_from_before_sessions_is_refused_after_end_others(
    publishable_key, email
):
    legacy = legacy_token(email)
    client = client_of(publishable_key)

    response = client.delete(SESSIONS, **bearer(legacy))

    assert response.status_code == 200
    # Its own too: it cannot be told apart from a stranger's.
    assert client.get(ME, **bearer(legacy)).status_code == 401


def test_ending_a_session_a_legacy_refresh_opened_refuses_the_legacy_token(
    publishable_key, email
):
    legacy = legacy_token(email)
    client = client_of(publishable_key)
    opened = client.post("/auth/token/refresh", **bearer(legacy)).json()["token"]
    mine = login(client, email)

    ended = client.delete(
        f"{SESSIONS}/{access_token_decode(opened).session_id}", **bearer(mine)
    )

    assert ended.status_code == 200
    assert client.post("/auth/token/refresh", **bearer(legacy)).status_code == 401
    assert client.get(ME, **bearer(opened)).status_code == 401
    assert client.get(ME, **bearer(mine)).status_code == 200


def test_an_ended_sessions_token_opens_no_cookie_session(publishable_key, email):
    customer_create(email=email)
    client = client_of(publishable_key)
    token = login(client, email)
    client.delete(
        SESSIONS + "/" + access_token_decode(token).session_id, **bearer(token)
    )

    assert client.post("/auth/session", **bearer(token)).status_code == 401


def test_a_session_used_within_the_token_lifetime_is_listed(publishable_key, email):
    customer_create(email=email)
    client = client_of(publishable_key)
    mine = login(client, email)
    login(client, email)
    other = LoginSession.objects.exclude(id=access_token_decode(mine).session_id)
    almost_a_day = timezone.now() - timedelta(hours=23, minutes=50)
    other.update(created_at=almost_a_day, last_used_at=almost_a_day)

    assert len(sessions(client, mine)) == 2


def test_the_sweep_takes_an_orphans_sessions_along(publishable_key, email):
    """The database cascades (accounts 0012): the sweep's own DELETE of
    identities needs no statement for sessions."""
    from orphans.models import Trigger
    from orphans.services import orphans_sweep

    client = client_of(publishable_key)
    client.post(
        "/auth/customer/emailpass/register",
        {"email": email, "password": PASSWORD},
        format="json",
    )
    long_ago = timezone.now() - timedelta(hours=30)
    AuthIdentity.objects.update(created_at=long_ago, updated_at=long_ago)
    assert LoginSession.objects.count() == 1

    run = orphans_sweep(
        older_than=timedelta(hours=24),
        batch_size=10,
        trigger=Trigger.COMMAND,
        now=timezone.now(),
    )

    assert run.deleted == 1
    assert not AuthIdentity.objects.exists()
    assert not LoginSession.objects.exists()


def test_queries_per_request(publishable_key, email):
    """docs/account.md, "Sessions and devices": what each request costs,
    authentication included; fails if a count changes."""
    customer_create(email=email)
    client = client_of(publishable_key)
    mine = login(client, email)
    other = access_token_decode(login(client, email)).session_id
    login(client, email)
    client.get(ME, **bearer(mine))  # the publishable key is cached from here
    counts = []
    for method, path in (
        ("get", ME),
        ("get", SESSIONS),
        ("delete", f"{SESSIONS}/{other}"),
        ("delete", SESSIONS),
    ):
        with CaptureQueriesContext(connection) as queries:
            response = getattr(client, method)(path, **bearer(mine))
        assert response.status_code == 200, response.content
        counts.append(len(queries))

    print("queries per me, list, end one, end others:", counts)  # noqa: T201
    assert counts == [1, 2, 5, 5]


def notices(email: str) -> list:
    return [m for m in mail.outbox if m.to == [email] and "new sign-in" in m.subject]


@pytest.fixture
def new_device_notice(settings, django_capture_on_commit_callbacks):
    """The setting on; a call runs what its request queued after the commit."""
    settings.NEW_DEVICE_NOTICE = True

    def committed(call, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return committed


def test_a_login_from_a_new_device_is_announced(
    publishable_key, email, new_device_notice
):
    customer_create(email=email)
    laptop = client_of(publishable_key)
    # The first sign-in we know of (nothing to compare), then a browser the
    # account has used.
    new_device_notice(login, laptop, email)
    new_device_notice(login, laptop, email)
    assert notices(email) == []

    phone = client_of(publishable_key, agent=PHONE, ip="198.51.100.23")
    new_device_notice(login, phone, email)

    (notice,) = notices(email)
    assert PHONE in notice.body
    assert "198.51.100.0/24" in notice.body
    assert "198.51.100.23" not in notice.body


def test_a_code_login_from_a_new_device_is_announced(
    publishable_key, email, new_device_notice
):
    # A proven mailbox: the code login keeps the password and the sessions
    # (an unproven one ends them, and the notice of that says more).
    customer = customer_create(email=email)
    AuthIdentity.objects.filter(customer=customer).update(
        email_verified_at=timezone.now()
    )
    login(client_of(publishable_key), email)
    phone = client_of(publishable_key, agent=PHONE)
    phone.post("/store/auth/otp/send", {"email": email}, format="json")

    verified = new_device_notice(
        phone.post,
        "/store/auth/otp/verify",
        {"email": email, "code": mailed_code(email)},
        format="json",
    )

    assert verified.status_code == 200, verified.content
    assert len(notices(email)) == 1


def test_a_browser_update_is_not_a_new_device(
    publishable_key, email, new_device_notice
):
    customer_create(email=email)
    new_device_notice(login, client_of(publishable_key, agent=LAPTOP), email)
    updated = LAPTOP.replace("132.0", "133.0.1")

    new_device_notice(login, client_of(publishable_key, agent=updated), email)

    assert notices(email) == []


def test_no_notice_unless_the_setting_is_on(
    publishable_key, email, django_capture_on_commit_callbacks
):
    customer_create(email=email)
    with django_capture_on_commit_callbacks(execute=True):
        login(client_of(publishable_key), email)
        login(client_of(publishable_key, agent=PHONE), email)

    assert notices(email) == []
