"""The Celery app, and the one way services publish a task."""

import logging
import os
from typing import Any

import kombu.exceptions
import redis.exceptions
from celery import Celery, Task

# Production unless told otherwise: a forgotten variable fails closed
# (missing secrets refuse to start) instead of running unhardened.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("storefront_auth")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger("config.celery")

BROKER_ERRORS = (
    kombu.exceptions.OperationalError,
    redis.exceptions.RedisError,
    OSError,
)


class BrokerUnavailable(Exception):
    pass


def publish(
    task: Task,
    *,
    kwargs: dict[str, Any],
    kwargsrepr: dict[str, Any] | None = None,
    expires: float | None = None,
) -> None:
    """Queue `task`; raise BrokerUnavailable instead of hanging or a 500.

    `kwargsrepr` is what the worker logs instead of the real arguments: pass
    it whenever the arguments carry a code, a token or an email.
    """
    try:
        task.apply_async(
            kwargs=kwargs,
            kwargsrepr=repr(kwargsrepr if kwargsrepr is not None else kwargs),
            expires=expires,
        )
    except BROKER_ERRORS as exc:
        raise BrokerUnavailable(type(exc).__name__) from exc
