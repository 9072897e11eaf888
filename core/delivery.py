"""One mail per task id: the record that makes a mail task's delivery
at-most-once when its message is delivered more than once.

Why a message comes twice: the Redis broker hands a message a worker has
not acknowledged (acks_late) to another worker once it is
CELERY_VISIBILITY_TIMEOUT old; the first worker may still hold it (a long
countdown, a slow task) or may have died after sending. And a pool process
killed mid-task has its message put back at once (reject_on_worker_lost).

The record, in the broker's Redis (the same failure domain as the message:
if it is down, the message can be neither taken nor acknowledged), one key
per task id (`mail-once:<id>`, holding no address, code or token):
- claimed: `claim <machine> <pid> <nonce>` for MAIL_CLAIM_SECONDS, set
  (SET NX, in a script) before the task body runs; the body's database work
  (a reset token) and the send happen under it;
- done: `done` for MAIL_DONE_KEEP_SECONDS (two days: every mail message
  expires within a day of its publishing, retries included), written once
  the body has returned.

A delivery that finds `done` is acknowledged without running. One that
finds a claim of a live process retries a few seconds later (the claim's
owner will have finished, or died). A claim whose owner is gone is taken
over at once when the owner ran on this machine (same boot, same PID
namespace: its PID is checked), else when the claim expires.

Crash windows (docs/deploy.md, "Mail delivered once"):
- killed before the send: the claim stays. The redelivered message (at
  once for a pool process killed, after the visibility timeout for a whole
  worker) takes it over (same machine) or waits for it to expire (another
  machine: up to MAIL_CLAIM_SECONDS late). Delivered, late, never lost.
- killed between the send and `done`: the mail has left, the record says
  claimed; the redelivered message sends it again. One duplicate, in a
  window of the microseconds between the send returning and one Redis SET.
- a body longer than MAIL_CLAIM_SECONDS (a database lock wait, SMTP
  timeouts in a row) whose message is delivered again meanwhile: the
  claim has expired, the second delivery sends too.
- Redis lost between the send and `done` (or the write of `done` failing):
  logged; a later redelivery of that message would send again.
- a mail server that took the message and failed the answer (a timeout
  after DATA): the send raised, the claim is given up, a retry sends again.
"""

import logging
import os
import secrets
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import redis
from django.conf import settings

logger = logging.getLogger("core.tasks")

PREFIX = "mail-once:"
DONE = "done"

# KEYS[1] the record; ARGV: our claim, its seconds. Returns the record's
# value before (nil if we claimed it) and its milliseconds to live.
_CLAIM = """
local held = redis.call('GET', KEYS[1])
if held then return {held, redis.call('PTTL', KEYS[1])} end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return {false, 0}
"""
# KEYS[1] the record; ARGV: the claim seen, ours, its seconds. Takes over a
# dead owner's claim, unless someone else did first.
_TAKE_OVER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""
# KEYS[1] the record; ARGV[1] our claim. Gives the claim up if still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Claim:
    key: str
    value: str  # ours, if `ours`
    ours: bool
    done: bool = False
    retry_in: float = 0.0  # not ours: seconds before looking again


_clients: dict[str, redis.Redis] = {}


def _redis() -> redis.Redis:
    """The broker's Redis (one pool a process; redis-py renews it after a
    fork)."""
    url = settings.CELERY_BROKER_URL
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=5, decode_responses=True
        )
    return _clients[url]


@cache
def _machine() -> str:
    """This machine's boot and PID namespace: a claim's PID can be checked
    only by a process that shares both."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return f"{socket.gethostname()}-unchecked"
    return f"{socket.gethostname()}/{boot}/{namespace}"


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def process_tag() -> str:
    """This process, as a claim or a lease names its holder."""
    return f"{_machine()} {os.getpid()}"


def process_gone(tag: str) -> bool:
    """True when `tag` (process_tag's) names a process of this machine that
    has died (a worker SIGKILLed, its pool process killed)."""
    try:
        machine, pid = tag.split(" ")
    except ValueError:
        return False
    if machine != _machine() or machine.endswith("-unchecked"):
        return False
    return not _pid_alive(int(pid))


def _owner_gone(held: str) -> bool:
    """True when `held` is a claim of a dead process of this machine."""
    parts = held.split(" ")
    return len(parts) == 4 and process_gone(" ".join(parts[1:3]))


def claim(task_id: str) -> Claim:
    """Claim the mail of `task_id`, or say why not. Raises RedisError."""
    client = _redis()
    key = PREFIX + task_id
    ours = f"claim {process_tag()} {secrets.token_hex(4)}"
    seconds = settings.MAIL_CLAIM_SECONDS
    held, ttl_ms = client.eval(_CLAIM, 1, key, ours, seconds)
    if not held:
        return Claim(key, ours, ours=True)
    if held == DONE:
        return Claim(key, held, ours=False, done=True)
    if _owner_gone(held) and client.eval(_TAKE_OVER, 1, key, held, ours, seconds):
        logger.warning(
            "Mail claim of a dead worker process taken over (id=%s)",
            task_id,
            extra={"taskId": task_id},
        )
        return Claim(key, ours, ours=True)
    return Claim(key, held, ours=False, retry_in=min(max(ttl_ms, 0) / 1000 + 1, 10))


def done(held: Claim) -> None:
    """The body returned (the mail left, or there was none to send): later
    deliveries of the task id are acknowledged without running. A failure
    to record it is logged, not raised: the mail has left."""
    try:
        _redis().set(held.key, DONE, ex=settings.MAIL_DONE_KEEP_SECONDS)
    except redis.RedisError as exc:
        logger.error(
            "Mail sent but not recorded as sent; a redelivery would send it"
            " again (id=%s error=%s)",
            held.key.removeprefix(PREFIX),
            type(exc).__name__,
        )


def release(held: Claim) -> None:
    """Give the claim up after the body raised (a retry, a failed send), so
    the next delivery runs it at once; if Redis is down, it expires."""
    try:
        _redis().eval(_RELEASE, 1, held.key, held.value)
    except redis.RedisError:
        pass
