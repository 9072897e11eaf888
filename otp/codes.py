"""The only module that makes or compares one-time codes (and the links
that carry a challenge instead of its code).

Threat model: codes are guessable by design (10^6 for six digits), so the
defence is the attempt limit kept in PostgreSQL, not the code. This module
makes the code unpredictable (the OS CSPRNG via `secrets`), never stores it
(only HMAC-SHA256 keyed with the server secret and bound to the challenge, so
a database dump does not reveal codes and a hash cannot be replayed on
another challenge), and compares in constant time.
"""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare

LINK_SALT = "otp.link"


def code_generate() -> str:
    length = settings.OTP_LENGTH
    return str(secrets.randbelow(10**length)).zfill(length)


def code_hash(*, challenge_id: str, code: str) -> str:
    key = settings.OTP_HMAC_KEY.encode()
    return hmac.new(key, f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


def code_matches(*, challenge_id: str, code: str, expected_hash: str) -> bool:
    return constant_time_compare(
        code_hash(challenge_id=challenge_id, code=code), expected_hash
    )


def code_is_well_formed(code: object) -> bool:
    return (
        isinstance(code, str)
        and len(code) == settings.OTP_LENGTH
        and code.isascii()
        and code.isdigit()
    )


def link_token_issue(*, challenge_id: str) -> str:
    """The token of a mailed link: the challenge id, signed with the code
    key (HMAC-SHA256, its own salt), URL-safe. It names the challenge and
    cannot be forged; expiry and single use are the challenge's, checked
    under its row lock like a code."""
    return signing.dumps(
        {"c": challenge_id}, key=settings.OTP_HMAC_KEY, salt=LINK_SALT, compress=False
    )


def link_token_challenge_id(token: object) -> str | None:
    """The challenge a link token names, or None for anything we did not
    sign."""
    if not isinstance(token, str) or not token or len(token) > 512:
        return None
    try:
        payload = signing.loads(token, key=settings.OTP_HMAC_KEY, salt=LINK_SALT)
    except signing.BadSignature:
        return None
    challenge_id = payload.get("c") if isinstance(payload, dict) else None
    return challenge_id if isinstance(challenge_id, str) and challenge_id else None
