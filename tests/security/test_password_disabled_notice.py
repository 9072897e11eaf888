"""The notice that a code login switched off an unproven password crosses
the broker sealed and reaches the mailbox through the live worker, whose
reset link then works: neither the address, nor the code, nor the reset
token the worker issued is in Redis or the worker's log
(tests/security/test_broker.py's search)."""

import re

from core.emails import email_hash
from tests.factories import PASSWORD, customer_create
from tests.mailbox import delivered_text
from tests.security.test_broker import (
    SEND,
    UPDATE,
    VERIFY,
    LogTail,
    digits,
    found_in,
    plain,
    queued_messages,
    redis_contents,
    redis_monitor,
    reset_token_in,
    worker_not_consuming,
)
from tests.waiting import wait_for

LOGIN = "/auth/customer/emailpass"
NEW_PASSWORD = "a brand new passphrase"


def test_the_notice_is_sealed_masked_and_its_link_sets_a_password(
    live, email, mail_dir
):
    customer_create(email=email)  # registered with a password, never confirmed
    assert live.post(SEND, json={"email": email}).status_code == 200
    code = re.search(
        r"code is (\d+)", delivered_text(mail_dir, to=email, subject="sign-in code")
    ).group(1)
    worker_log = LogTail("worker.log")

    with redis_monitor() as commands:
        with worker_not_consuming():
            verified = live.post(VERIFY, json={"email": email, "code": code})
            assert verified.status_code == 200, verified.text
            hashed = email_hash(email).encode()
            wait_for(
                "the notice in the queue",
                lambda: any(hashed in message for message in queued_messages()),
            )
            stored = redis_contents()
        text = delivered_text(
            mail_dir, to=email, subject="Your password was switched off"
        )
        token = reset_token_in(text)
        updated = live.post(UPDATE, token=token, json={"password": NEW_PASSWORD})

    assert updated.json() == {"success": True}
    old = live.post(LOGIN, json={"email": email, "password": PASSWORD})
    new = live.post(LOGIN, json={"email": email, "password": NEW_PASSWORD})
    assert (old.status_code, new.status_code) == (401, 200)
    secrets = {
        "email": plain(email),
        "email's local part": plain(email.split("@")[0]),
        "code": digits(code),
        "reset token": plain(token),
    }
    assert not found_in(stored, secrets)
    assert not found_in(commands, secrets)
    logged = worker_log.new()
    assert "password_disabled_email_send_task" in logged
    for secret in (email, token):
        assert secret not in logged
