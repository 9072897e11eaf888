"""E-mail addresses: one normal form for lookups, one keyed hash for logs.

Threat model: logs leak (shipped to vendors, kept for months). A plain email
in them is personal data; an unkeyed hash of it is reversible by guessing.
HMAC-SHA256 with EMAIL_HASH_KEY lets on-call staff correlate events for one
address without being able to read it.
"""

import hashlib
import hmac

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

_validate = EmailValidator()


def email_normalize(email: str) -> str:
    # Medusa compares exact strings; we treat `Foo@X.com ` and `foo@x.com` as
    # one account (API.md, improvement 1).
    return email.strip().lower()


def email_is_valid(email: str) -> bool:
    if len(email) > 254:
        return False
    try:
        _validate(email)
    except ValidationError:
        return False
    return True


def email_hash(email: str) -> str:
    key = settings.EMAIL_HASH_KEY.encode()
    message = email_normalize(email).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def email_hashes(emails: list[str]) -> list[str]:
    """`email_hash` of each, keying the HMAC once (the orphan sweep hashes a
    thousand emails a batch)."""
    keyed = hmac.new(settings.EMAIL_HASH_KEY.encode(), digestmod=hashlib.sha256)
    hashes = []
    for email in emails:
        mac = keyed.copy()
        mac.update(email_normalize(email).encode())
        hashes.append(mac.hexdigest())
    return hashes
