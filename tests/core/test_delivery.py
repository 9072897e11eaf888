"""Mail tasks send once per task id (core/delivery.py), in-process against
the test stack's Redis: a second run of the same id sends nothing, and
Redis down fails the task instead of dropping or duplicating the mail.
The live worker's side: tests/hardening/test_mail_once.py."""

import uuid

import pytest
import redis
from celery.exceptions import Retry
from django.core import mail

from accounts.tasks import email_change_undone_email_send_task
from core import delivery


def _send(email: str, task_id: str) -> None:
    email_change_undone_email_send_task.apply(
        kwargs={"email": email, "language": "en"}, task_id=task_id
    )


def test_one_task_id_run_twice_sends_one_mail(email):
    task_id = str(uuid.uuid4())

    _send(email, task_id)
    _send(email, task_id)

    assert [m.to for m in mail.outbox] == [[email]]


def test_two_task_ids_send_two_mails(email):
    _send(email, str(uuid.uuid4()))
    _send(email, str(uuid.uuid4()))

    assert len(mail.outbox) == 2


def test_the_record_names_no_address_and_outlives_every_message(email, settings):
    task_id = str(uuid.uuid4())

    _send(email, task_id)

    store = redis.Redis.from_url(settings.CELERY_BROKER_URL, decode_responses=True)
    assert store.get(delivery.PREFIX + task_id) == delivery.DONE
    assert store.ttl(delivery.PREFIX + task_id) > 24 * 3600  # NOTICE_EXPIRES
    assert not [key for key in store.scan_iter(match="mail-once:*") if "@" in key]


def test_redis_down_retries_the_task_and_sends_nothing(email, settings):
    """Neither sent without its record (a redelivery would send it again)
    nor dropped: retried as an outage, 5 s later (a worker whose broker is
    down cannot acknowledge the message either: it comes back)."""
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens

    with pytest.raises(Retry) as raised:
        _send(email, str(uuid.uuid4()))

    assert isinstance(raised.value.exc, redis.ConnectionError)
    assert raised.value.when == 5
    assert mail.outbox == []
