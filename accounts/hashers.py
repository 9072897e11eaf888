"""Password hashers: Argon2id for every new hash, Medusa's scrypt-kdf to verify.

Hashes imported from Medusa (scrypt-kdf, logN 15, r 8, p 1; the 96-byte
format of docs/medusa-contract.md, "Password hashes") are stored as
`medusa_scrypt$<base64 blob>`. Django's `check_password` re-hashes them with
the first hasher of PASSWORD_HASHERS (Argon2id) at the next successful login.

Argon2id hashes on the process's hashing threads (`on_hashing_thread`,
PASSWORD_HASHING_THREADS, default 1): each hash allocates 19 MiB, and
glibc keeps a freed block that size in the arena of the thread that hashed,
so a web worker whose four request threads all hashed held four such
blocks. One hashing thread keeps one, and a worker then hashes one password
at a time: fewer logins per second at the peak for less memory
(docs/performance.md, "Prepared statements, one hashing thread, the web
server"). The web server's glibc tunables (devstack/stack.py, web_env)
hand even that one back after each hash. Medusa's scrypt needs a little
over 32 MiB, above the largest block glibc keeps (its mmap threshold stops
at 32 MiB): mapped and handed back at every hash, it stays on the caller's
thread.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.contrib.auth.hashers import (
    Argon2PasswordHasher,
    BasePasswordHasher,
    check_password,
    make_password,
)
from django.utils.crypto import constant_time_compare

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise  # the stubs' lazy str


T = TypeVar("T")
HASHING_THREAD = "password-hashing"
_hashing: ThreadPoolExecutor | None = None
_hashing_lock = threading.Lock()


def on_hashing_thread(work: Callable[..., T], *args: Any) -> T:
    """`work(*args)` on this process's hashing threads, started at first use
    (a forked child, a web server or Celery worker, starts its own)."""
    if threading.current_thread().name.startswith(HASHING_THREAD):
        return work(*args)  # nested: waiting on itself would hang
    return _hashing_threads().submit(work, *args).result()


def _hashing_threads() -> ThreadPoolExecutor:
    global _hashing
    with _hashing_lock:
        if _hashing is None:
            _hashing = ThreadPoolExecutor(
                settings.PASSWORD_HASHING_THREADS, thread_name_prefix=HASHING_THREAD
            )
        return _hashing


def _forget_hashing_threads() -> None:
    """In a forked child: the parent's threads, and whoever held the lock,
    do not exist there."""
    global _hashing, _hashing_lock
    _hashing, _hashing_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_hashing_threads)


class Argon2idHasher(Argon2PasswordHasher):
    """OWASP Password Storage Cheat Sheet's first Argon2id option (m=19 MiB,
    t=2, p=1): strong enough, and cheap enough that a 2-core web host can
    serve logins; see docs/performance.md for the measured cost."""

    time_cost = 2
    memory_cost = 19 * 1024
    parallelism = 1

    def encode(self, password: str, salt: str) -> str:
        return on_hashing_thread(super().encode, password, salt)

    def verify(self, password: str, encoded: str) -> bool:
        return on_hashing_thread(super().verify, password, encoded)


SCRYPT_HEADER = b"scrypt"
SCRYPT_BLOB_BYTES = 96
# Medusa's parameters need 32 MiB; allow 8x that for stronger imports.
SCRYPT_MAX_MEMORY = 256 * 1024 * 1024
# ... and 4x Medusa's CPU cost (N * r * p), about 0.4 s per verify here.
SCRYPT_MAX_WORK = 4 * 2**15 * 8 * 1


def medusa_scrypt_blob(
    password: str, *, salt: bytes, log_n: int = 15, r: int = 8, p: int = 1
) -> str:
    head = SCRYPT_HEADER + bytes([0, log_n]) + r.to_bytes(4, "big")
    head += p.to_bytes(4, "big") + salt
    head += hashlib.sha256(head).digest()[:16]
    derived = _scrypt(password, salt=salt, log_n=log_n, r=r, p=p)
    signature = hmac.new(derived[32:], head, hashlib.sha256).digest()
    return base64.b64encode(head + signature).decode()


def medusa_scrypt_key(blob: str) -> bytes | None:
    """The decoded blob if it is a well-formed scrypt-kdf key with parameters
    we are willing to run, else None (no scrypt work is done here)."""
    try:
        key = base64.b64decode(blob, validate=True)
    except ValueError:
        return None
    if len(key) != SCRYPT_BLOB_BYTES or not key.startswith(SCRYPT_HEADER + b"\0"):
        return None
    if not hmac.compare_digest(hashlib.sha256(key[:48]).digest()[:16], key[48:64]):
        return None
    log_n, r, p = _scrypt_parameters(key)
    if not 1 <= log_n <= 20 or not 1 <= p <= 16 or not 1 <= r <= 32:
        return None
    if 128 * r * 2**log_n > SCRYPT_MAX_MEMORY:
        return None  # a blob that would cost gigabytes is refused, not run
    if 2**log_n * r * p > SCRYPT_MAX_WORK:
        return None  # nor one that would take seconds of CPU per attempt
    return key


def medusa_scrypt_verify(password: str, blob: str) -> bool:
    key = medusa_scrypt_key(blob)
    if key is None:
        return False
    log_n, r, p = _scrypt_parameters(key)
    derived = _scrypt(password, salt=key[16:48], log_n=log_n, r=r, p=p)
    expected = hmac.new(derived[32:], key[:64], hashlib.sha256).digest()
    return hmac.compare_digest(expected, key[64:96])


def medusa_scrypt_encoded(blob: str) -> str:
    """How a Medusa `provider_metadata.password` blob is stored here."""
    return f"{MedusaScryptHasher.algorithm}${blob}"


def _scrypt_parameters(key: bytes) -> tuple[int, int, int]:
    return key[7], int.from_bytes(key[8:12], "big"), int.from_bytes(key[12:16], "big")


def _scrypt(password: str, *, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=2**log_n,
        r=r,
        p=p,
        # OpenSSL's default limit (32 MiB) is below what N=2^15, r=8 needs.
        maxmem=2 * 128 * r * (2**log_n + p) + 1024 * 1024,
        dklen=64,
    )


class MedusaScryptHasher(BasePasswordHasher):
    algorithm = "medusa_scrypt"

    def salt(self) -> str:
        return base64.b64encode(os.urandom(32)).decode()

    def encode(self, password: str, salt: str) -> str:
        salt_bytes = base64.b64decode(salt)
        if len(salt_bytes) != 32:
            salt_bytes = hashlib.sha256(salt.encode()).digest()
        return medusa_scrypt_encoded(medusa_scrypt_blob(password, salt=salt_bytes))

    def decode(self, encoded: str) -> dict[str, str]:
        algorithm, blob = encoded.split("$", 1)
        assert algorithm == self.algorithm  # noqa: S101  (Django's hasher contract)
        return {"algorithm": algorithm, "hash": blob, "salt": blob[22:64]}

    def verify(self, password: str, encoded: str) -> bool:
        algorithm, _, blob = encoded.partition("$")
        if not constant_time_compare(algorithm, self.algorithm):
            return False
        return medusa_scrypt_verify(password, blob)

    def safe_summary(self, encoded: str) -> dict[str | _StrPromise, Any]:
        return {"algorithm": self.algorithm, "hash": "********"}

    def must_update(self, encoded: str) -> bool:
        return True

    def harden_runtime(self, password: str, encoded: str) -> None:
        pass


MEDUSA_HASH_PREFIX = f"{MedusaScryptHasher.algorithm}$"


@functools.cache
def _dummy_hashes() -> tuple[str, str]:
    """An Argon2id and a Medusa scrypt hash of a password nobody knows."""
    unknown = secrets.token_urlsafe(24)
    scrypt = medusa_scrypt_blob(unknown, salt=os.urandom(32))
    return make_password(unknown), medusa_scrypt_encoded(scrypt)


def failed_login_work(password: str, *, spent: str | None, medusa_hashes: bool) -> None:
    """Give every failed login the same hashing work, whatever the account:
    one Argon2id verification and, while imported Medusa hashes remain, one
    scrypt verification (5x the cost). Timing then tells neither an unknown
    address from an account nor an imported account not yet re-hashed from
    the others. `spent` is the hash the login already verified (None: none)."""
    argon2_dummy, scrypt_dummy = _dummy_hashes()
    spent_algorithm = (spent or "").partition("$")[0]
    if spent_algorithm != Argon2idHasher.algorithm:
        check_password(password, argon2_dummy)
    if medusa_hashes and spent_algorithm != MedusaScryptHasher.algorithm:
        check_password(password, scrypt_dummy)
