"""The only module that makes or compares one-time codes.

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
from django.utils.crypto import constant_time_compare


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
