"""E-mail addresses: one normal form for lookups, one keyed hash for logs.

The normal form (docs/api.md, "E-mail addresses"):
surrounding whitespace (Unicode's too) stripped, Unicode NFC, lower case,
and the domain in its ASCII form under IDNA 2008 with UTS #46 mapping, so
`Foo@ＥXAMPLE.com `, `foo@exam<U+00AD>ple.com` and `foo@example.com` are one
account and `foo@例え.jp` is `foo@xn--r8jz45g.jp`. A valid address is its own
normal form, printable ASCII (no SMTPUTF8 local parts), with a DNS domain:
IP literals, dotless hosts, numeric top-level labels and what IDNA refuses
are not addresses here.

Threat model: logs leak (shipped to vendors, kept for months). A plain email
in them is personal data; an unkeyed hash of it is reversible by guessing.
HMAC-SHA256 with EMAIL_HASH_KEY lets on-call staff correlate events for one
address without being able to read it.
"""

import functools
import hashlib
import hmac
import re
import unicodedata

import idna
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from core.errors import InvalidData

EMAIL_MAX_LENGTH = 254
# Longer input cannot become a valid domain (253 characters); IDNA is not
# run over it (a megabyte of domain would cost a request a second).
_DOMAIN_INPUT_MAX = 1024
# What a stored address may hold; the same rule is a CHECK in PostgreSQL
# (accounts.models: provid_entity_id_printable_ascii and
# customer_registered_email_printable_ascii).
PRINTABLE_ASCII = r"^[!-~]+$"
_printable_ascii = re.compile(PRINTABLE_ASCII)

_validate = EmailValidator(allowlist=[])


@functools.lru_cache(maxsize=4096)
def _domain_ascii(domain: str) -> str | None:
    """The domain's ASCII form (IDNA 2008, UTS #46 non-transitional), or None
    when IDNA refuses it (an IP literal's brackets, a symbol, bad hyphens or
    Punycode). Cached: a batch of a million addresses has few domains."""
    if len(domain) > _DOMAIN_INPUT_MAX:
        return None
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


def email_normalize(email: str) -> str:
    """The normal form, for any string: never raises. A domain IDNA refuses
    is kept as typed (lower-cased); `email_is_valid` then refuses it, and a
    lookup by it finds nothing."""
    email = unicodedata.normalize("NFC", email.strip()).lower()
    local, at, domain = email.rpartition("@")
    if not at:
        return email
    ascii_domain = _domain_ascii(domain)
    if ascii_domain is None:
        return email
    return f"{local}@{ascii_domain}"


def email_is_printable_ascii(email: str) -> bool:
    """What the database's CHECKs require of a stored address."""
    return _printable_ascii.match(email) is not None


def email_is_valid(email: str) -> bool:
    """An address in the normal form that we store and mail."""
    if len(email) > EMAIL_MAX_LENGTH or not email_is_printable_ascii(email):
        return False
    if email_normalize(email) != email:
        return False
    domain = email.rpartition("@")[2]
    labels = domain.split(".")
    # A DNS name with a top-level label that is not all digits: no
    # `user@localhost`, `user@127.0.0.1` or `user@[127.0.0.1]`.
    if len(labels) < 2 or labels[-1].isdigit() or _domain_ascii(domain) != domain:
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


def email_parse(email: str) -> str:
    """The normal form of what must be an address: 400 `Invalid email
    address` otherwise (docs/api.md, "E-mail addresses")."""
    normalized = email_normalize(email)
    if not email_is_valid(normalized):
        raise InvalidData("Invalid email address")
    return normalized
