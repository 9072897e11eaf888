"""The password-changed notice crosses the broker sealed and reaches the
mailbox through the live worker: neither the address, nor the client's
user agent or network, nor the new password is in Redis or the worker's log
(tests/security/test_broker.py's search)."""

import uuid

from core.emails import email_hash
from tests.factories import PASSWORD, customer_create
from tests.mailbox import delivered_text
from tests.security.test_broker import (
    LogTail,
    found_in,
    plain,
    queued_messages,
    redis_contents,
    redis_monitor,
    worker_not_consuming,
)
from tests.waiting import wait_for

CHANGE = "/store/customers/me/password"
LOGIN = "/auth/customer/emailpass"
NEW_PASSWORD = "a brand new passphrase"


def test_the_notice_is_sealed_in_redis_and_masked_in_the_worker_log(
    live, email, mail_dir
):
    customer_create(email=email)
    token = live.post(LOGIN, json={"email": email, "password": PASSWORD}).json()[
        "token"
    ]
    agent = f"NoticeProbe/{uuid.uuid4().hex[:12]}"
    worker_log = LogTail("worker.log")

    with redis_monitor() as commands:
        with worker_not_consuming():
            changed = live.post(
                CHANGE,
                token=token,
                json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                headers={"User-Agent": agent},
            )
            assert changed.status_code == 200, changed.text
            hashed = email_hash(email).encode()
            wait_for(
                "the notice in the queue",
                lambda: any(hashed in message for message in queued_messages()),
            )
            stored = redis_contents()
        text = delivered_text(mail_dir, to=email, subject="Your password was changed")

    assert agent in text
    secrets = {
        "email": plain(email),
        "email's local part": plain(email.split("@")[0]),
        "user agent": plain(agent),
        "new password": plain(NEW_PASSWORD),
    }
    assert not found_in(stored, secrets)
    assert not found_in(commands, secrets)
    logged = worker_log.new()
    assert "password_changed_email_send_task" in logged
    for secret in (email, agent, NEW_PASSWORD):
        assert secret not in logged
