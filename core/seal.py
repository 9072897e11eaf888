"""Sealed task arguments: what a task carries through the broker, encrypted.

Threat model: whoever reads Redis (a shell on its host, a copy of its dump or
append-only file, a replica, a misconfigured ACL) reads every queued message.
A message with a one-time code or an email in its arguments would let them
log in as whoever asked for the code, or learn who uses the shop. Sealed
arguments are Fernet tokens (AES-128-CBC + HMAC-SHA256, cryptography's
recipe): unreadable and tamper-evident without a key the web and worker
processes derive from their environment, never sent to Redis. A seal names
its task (it cannot be replayed into another) and carries a deadline (it
cannot be opened after the message would have expired).

Not defended: someone who can read the web or worker processes' environment
(they have SECRET_KEY and every other secret too), or who deletes or
reorders messages (they can stop mail, not read it).

Keys: TASK_SEAL_KEYS, a list of secrets; the first seals, every one opens
(MultiFernet), so a key is rotated without losing queued messages. Each
secret is turned into a Fernet key by HMAC-SHA256 under a fixed label, so any
long random string serves, and the default (SECRET_KEY) gives a key distinct
from every other use of SECRET_KEY.
"""

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

LABEL = b"storefront-auth task arguments v1"


class SealBroken(Exception):
    """A seal that cannot be opened: `reason` says why, never what it held."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _fernet() -> MultiFernet:
    secrets = settings.TASK_SEAL_KEYS
    if not secrets:
        raise ValueError("TASK_SEAL_KEYS is empty")
    return MultiFernet(
        [
            Fernet(
                base64.urlsafe_b64encode(
                    hmac.new(secret.encode(), LABEL, hashlib.sha256).digest()
                )
            )
            for secret in secrets
        ]
    )


def deadline(expires: float | datetime | str | None, *, now: float) -> float | None:
    """Celery's `expires` (seconds from now, a datetime, or the ISO string a
    retry passes on) as a Unix time."""
    if expires is None:
        return None
    if isinstance(expires, str):
        expires = datetime.fromisoformat(expires)
    if isinstance(expires, datetime):
        return expires.timestamp()
    return now + float(expires)


def seal(*, task: str, kwargs: dict[str, Any], expires_at: float | None) -> str:
    plain = json.dumps({"task": task, "kwargs": kwargs, "exp": expires_at})
    return _fernet().encrypt(plain.encode()).decode()


def unseal(token: str, *, task: str, now: float | None = None) -> dict[str, Any]:
    """The arguments `seal` put in `token` for `task`; SealBroken otherwise."""
    try:
        opened = json.loads(_fernet().decrypt(token.encode()))
    except (InvalidToken, TypeError, ValueError, AttributeError):
        # A key rotated away, or the token was altered: nothing to tell apart.
        raise SealBroken("invalid") from None
    if not isinstance(opened, dict) or not isinstance(opened.get("kwargs"), dict):
        raise SealBroken("invalid")  # sealed, so ours: not what seal() makes
    if opened.get("task") != task:
        raise SealBroken("another task")
    expires_at = opened.get("exp")
    if expires_at is not None and (time.time() if now is None else now) > expires_at:
        raise SealBroken("expired")
    kwargs: dict[str, Any] = opened["kwargs"]
    return kwargs
