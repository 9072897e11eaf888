"""Through the live stack: the web server, PostgreSQL, Redis and a Celery worker."""

import re
import time
import uuid

from accounts.models import AuthIdentity, Customer
from tests.mailbox import delivered_text

NEW_PASSWORD = "a brand new passphrase"


def mailed_reset_token(mail_dir: str, recipient: str) -> str:
    text = delivered_text(mail_dir, to=recipient, subject="Reset your password")
    return re.search(r"token=([\w.\-]+)", text).group(1)


def test_two_step_signup_then_password_reset_through_the_worker(
    live, email, password, mail_dir
):
    registered = live.post(
        "/auth/customer/emailpass/register", json={"email": email, "password": password}
    )
    assert registered.status_code == 200
    created = live.post(
        "/store/customers", token=registered.json()["token"], json={"email": email}
    )
    assert created.status_code == 200
    customer_id = created.json()["customer"]["id"]

    reset = live.post(
        "/auth/customer/emailpass/reset-password", json={"identifier": email}
    )

    assert (reset.status_code, reset.text) == (201, "Created")
    token = mailed_reset_token(mail_dir, email)
    updated = live.post(
        "/auth/customer/emailpass/update", token=token, json={"password": NEW_PASSWORD}
    )
    assert updated.json() == {"success": True}
    login = live.post(
        "/auth/customer/emailpass", json={"email": email, "password": NEW_PASSWORD}
    )
    me = live.get("/store/customers/me", token=login.json()["token"])
    assert me.json()["customer"]["id"] == customer_id
    assert Customer.objects.filter(email=email).count() == 1
    assert AuthIdentity.objects.get(customer_id=customer_id).tokens_valid_after


def test_live_server_answers_bad_input_with_json_4xx(live):
    response = live.post(
        "/auth/customer/emailpass",
        data=b'{"email":',
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["type"] == "invalid_data"


def test_live_server_serves_health_admin_login_and_static_files(live):
    health = live.get("/health")
    login = live.get("/admin/login/")
    css = re.search(r'href="(/static/admin/css/[^"]+\.css)"', login.text).group(1)

    assert (health.status_code, health.text) == (200, "OK")
    assert login.status_code == 200
    assert live.get(css).status_code == 200


def test_the_worker_keeps_its_database_connection_from_task_to_task(live, mail_dir):
    """Each code mail's task reads the address's language (no request
    language here); Celery's Django fixup used to close the connection
    around every task, so each task made PostgreSQL fork and authenticate
    a new session (CELERY_DB_REUSE_MAX, config/celery.py)."""
    from django.db import connection

    def sessions() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT sessions FROM pg_stat_database"
                " WHERE datname = current_database()"
            )
            return cursor.fetchone()[0]

    addresses = [f"reuse{i}.{uuid.uuid4().hex[:8]}@example.com" for i in range(12)]
    live.post("/store/auth/otp/send", json={"email": "warm-up@example.com"})
    delivered_text(mail_dir, to="warm-up@example.com", subject="code")
    before = sessions()
    for address in addresses:
        sent = live.post("/store/auth/otp/send", json={"email": address})
        assert sent.status_code == 200
    for address in addresses:
        delivered_text(mail_dir, to=address, subject="code")
    # pg_stat_database counts a session when it ends or reports: give the
    # statistics a moment, then compare. The web and beat may open a few.
    time.sleep(1.5)

    assert sessions() - before < 6
