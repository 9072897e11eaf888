"""Redis (cache and broker) down: logins and signups go on, OTP attempts
are still counted in PostgreSQL, and what could not be queued says so.

These run on the live stack ./dev test starts (docs/reliability.md)."""

import re

from accounts.models import (
    PasswordResetToken,
)
from otp.models import OtpChallenge, OtpMail
from tests.factories import PASSWORD, customer_create
from tests.hardening.faults import (
    JSON,
    NEW_PASSWORD,
    LogTail,
    code_for,
    figures_record,
    mail_wait,
    no_partial_rows,
    processes_alive,
    reset_token_in,
    stopped,
    timed,
    worker_delivers,
)
from tests.otp.conftest import wrong


def test_redis_stopped_logins_signups_and_otp_attempt_limits_keep_working(
    live, email, mail_dir
):
    customer = customer_create(email=f"login.{email}")
    otp_email = f"otp.{email}"
    code = code_for(otp_email)
    web_log = LogTail("web.log")

    with stopped("redis"):
        login = timed(
            live.post,
            "/auth/customer/emailpass",
            json={"email": customer.email, "password": PASSWORD},
        )
        assert login.status_code == 200, login.text
        me = timed(live.get, "/store/customers/me", token=login.json()["token"])
        assert me.json()["customer"]["id"] == customer.id
        refreshed = timed(live.post, "/auth/token/refresh", token=login.json()["token"])
        assert refreshed.status_code == 200

        signup = timed(
            live.post,
            "/store/auth/signup",
            json={"email": f"one.{email}", "password": PASSWORD},
        )
        assert signup.status_code == 200, signup.text
        registered = timed(
            live.post,
            "/auth/customer/emailpass/register",
            json={"email": f"two.{email}", "password": PASSWORD},
        )
        assert registered.status_code == 200, registered.text
        created = timed(
            live.post,
            "/store/customers",
            token=registered.json()["token"],
            json={"email": f"two.{email}"},
        )
        assert created.status_code == 200, created.text

        # The attempt limit lives in PostgreSQL: the 5th wrong code locks,
        # and then even the right code is refused.
        answers = [
            timed(
                live.post,
                "/store/auth/otp/verify",
                json={"email": otp_email, "code": wrong(code)},
            ).json()["code"]
            for _ in range(5)
        ]
        assert answers == ["otp_invalid"] * 4 + ["otp_locked"]
        right = timed(
            live.post,
            "/store/auth/otp/verify",
            json={"email": otp_email, "code": code},
        )
        assert (right.status_code, right.json()["code"]) == (400, "otp_locked")

        health = timed(live.get, "/health", headers=JSON)
        assert (health.status_code, health.json()["redis"]) == (200, "unavailable")

    challenge = OtpChallenge.objects.get(email=otp_email)
    assert challenge.attempts == 5
    assert challenge.locked_at is not None
    log = web_log.new()
    assert "Rate limit store unavailable; limit not applied" in log
    assert "Internal Server Error" not in log
    rows = no_partial_rows()
    processes_alive()
    worker_delivers(live, mail_dir)
    figures_record(
        "redis_stopped",
        web_log,
        rows_checked=rows,
        otp_attempts_counted=challenge.attempts,
        rate_limit_warnings=log.count("Rate limit store unavailable"),
    )


def test_broker_unreachable_otp_send_is_200_and_its_mail_goes_once_it_is_back(
    live, email, mail_dir
):
    """The code's mail is a row committed with its challenge (otp/mail.py):
    the broker down delays it, it is not lost. The reset is queued in the
    request: the broker down logs it and answers 201 (no enumeration)."""
    customer = customer_create(email=email)
    otp_email = f"otp.{email}"
    web_log = LogTail("web.log")

    with stopped("redis"):
        sent = timed(live.post, "/store/auth/otp/send", json={"email": otp_email})
        assert sent.json() == {"success": True, "expiresIn": 600}
        reset = timed(
            live.post,
            "/auth/customer/emailpass/reset-password",
            json={"identifier": email},
        )
        assert (reset.status_code, reset.text) == (201, "Created")
        # The code's mail waits with its challenge.
        assert OtpMail.objects.filter(challenge__email=otp_email).exists()

    # No reset token was made.
    assert not PasswordResetToken.objects.filter(
        provider_identity__auth_identity__customer=customer
    ).exists()
    log = web_log.new()
    assert "Password reset e-mail could not be queued" in log
    assert "otp-mail_kick_failed" in log
    assert email not in log  # the hashed userId only
    assert "Internal Server Error" not in log
    processes_alive()

    # Redis is back: the next code asked for (or beat's minute) queues a
    # drain, which sends the waiting mail too; the reset is asked again.
    other = f"other.{email}"
    assert live.post("/store/auth/otp/send", json={"email": other}).status_code == 200
    reset = live.post(
        "/auth/customer/emailpass/reset-password", json={"identifier": email}
    )
    assert reset.status_code == 201
    texts, missing = mail_wait(mail_dir, {otp_email, other, email})
    assert not missing, "the worker did not recover within 60 s"
    assert len(texts[otp_email]) == 1
    code = re.search(r"code is (\d+)", texts[otp_email][-1]).group(1)
    verified = live.post(
        "/store/auth/otp/verify", json={"email": otp_email, "code": code}
    )
    assert verified.status_code == 200, verified.text
    updated = live.post(
        "/auth/customer/emailpass/update",
        token=reset_token_in(texts[email][-1]),
        json={"password": NEW_PASSWORD},
    )
    assert updated.json() == {"success": True}
    figures_record(
        "broker_unreachable",
        web_log,
        reset_tokens_left=0,
        queue_failures_logged=log.count("could not be queued"),
    )
