"""Through the live stack: gunicorn, PostgreSQL, Redis and a Celery worker."""

import email as email_lib
import re
import time
from pathlib import Path

import pytest

from accounts.models import AuthIdentity, Customer

NEW_PASSWORD = "a brand new passphrase"


def mailed_reset_token(mail_dir: str, recipient: str, timeout: float = 30.0) -> str:
    """Wait for the worker to deliver the reset mail; return its token."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(Path(mail_dir).glob("*.log")):
            for raw in path.read_text().split("-" * 79):
                message = email_lib.message_from_string(raw.strip())
                if message["To"] != recipient:
                    continue
                for part in message.walk():
                    if part.get_content_type() == "text/plain":
                        body = part.get_payload(decode=True).decode()
                        return re.search(r"token=([\w.\-]+)", body).group(1)
        time.sleep(0.2)
    pytest.fail(f"no reset mail for the recipient in {mail_dir} after {timeout}s")


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
