"""The mixed load of tests/hardening/test_load.py (its scenarios and its
client, over HTTPS at nginx with the topology's certificate pinned) while,
one after the other: a web node's master and workers are SIGKILLed
and the node restarted, PgBouncer restarted as an operator restarts it (its
safe shutdown, SIGINT, then a new one on the same port), and a Celery worker
SIGKILLed (and restarted).

Afterwards: every sign-up the client saw acknowledged has its rows; every
answer the scenarios did not expect is a 502 or 503 with Retry-After that
overlapped a fault window (or, while a web node was dead, an answer the
node's death cut off); every code mail acknowledged is in the mail
folders (the topology's and the test stack's: _mails) exactly once (and
no mail asked for is there twice), the message the killed worker held
included (acks_late, redelivered after the broker's
visibility timeout). Figures: var/artifacts/topology-faults.json
(docs/deploy.md, "Faults on the topology")."""

import json
import os
import random
import re
import signal
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from devstack.util import wait_for_health
from tests.hardening.test_load import Outcome, codes_open, rows_check, scenario_play
from tests.hardening.traffic import Traffic
from tests.mailbox import texts_by_recipient
from tests.topology.conftest import VISIBILITY_TIMEOUT

pytestmark = pytest.mark.topology

ARTIFACT = Path(__file__).resolve().parents[2] / "var" / "artifacts"
THREADS = 8
WARM_UP = 3.0  # seconds of load before the first fault
BETWEEN = 3.0  # seconds of load between faults, and after the last
# An answer to a request that started before a window closed and ended
# after it opened belongs to that window; GRACE widens it on both sides for
# nginx's passive health check and the clocks of two processes.
GRACE = 1.0
OTP_LOGINS = 120  # codes opened beforehand; the load stops using them when out
WEIGHTS = {"one_step": 3, "otp_login": 2, "otp_send": 4}

# A worker's log lines for a task received, and ended (run, failed or to be
# retried).
TASK = re.compile(r"Task (\S+)\[([0-9a-f-]{36})\] (received|succeeded|raised|retry)")


def _tasks(path: Path, offset: int = 0) -> dict[str, set[str]]:
    """Ids of the mail tasks (and code mail drains) a worker log shows
    received, and ended."""
    found: dict[str, set[str]] = {"received": set(), "ended": set()}
    for name, task_id, what in TASK.findall(_read(path, offset)):
        if name.endswith(("_send_task", "_mail_drain_task")):
            found["received" if what == "received" else "ended"].add(task_id)
    return found


def _read(path: Path, offset: int = 0) -> str:
    with path.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def _story(topology, task_ids: set[str]) -> list[str]:
    """Every line of the workers' logs that names one of TASK_IDS."""
    return [
        f"{name}: {line}"
        for name in ("worker1", "worker2")
        for line in _read(topology.log_dir / f"{name}.log").splitlines()
        if any(task_id in line for task_id in task_ids)
    ]


def _mails(topology, stack_mail_dir: str) -> dict[str, list[str]]:
    """Every mail of the topology's folder and of the test stack's, by
    recipient: the topology runs on the test stack's database
    (tests/topology/conftest.py), so the test stack's code-mail drains
    (its beat kicks one each minute) take the topology's waiting rows too
    and send them into their own folder. Delivered once means once in
    both."""
    found: dict[str, list[str]] = {}
    for folder in (topology.mail_dir, stack_mail_dir):
        for to, texts in texts_by_recipient(folder).items():
            found.setdefault(to, []).extend(texts)
    return found


def _restart(topology, name: str) -> None:
    process = topology.processes[name]
    log = topology.log_dir / f"{name}.log"
    topology.children.start(name, process.argv, process.env, log)


def _sigkill(topology, name: str) -> None:
    """SIGKILL to a process group (a web node's master and its workers, a
    Celery worker and its pool): a host gone, nothing cleaned up."""
    process = topology.children.procs[name]
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_mixed_load_through_a_web_node_pgbouncer_and_worker_restart(
    topology, through, capsys, mail_dir
):
    run = uuid.uuid4().hex[:8]
    codes = codes_open([f"faults.{run}.otp.{n}@example.com" for n in range(OTP_LOGINS)])
    unused = list(codes)
    traffic = Traffic(
        topology.url, through.publishable_key, timeout=30, verify=topology.cert
    )
    outcomes: list[Outcome] = []
    asked: set[str] = set()  # every code mail the load asked for
    failed: Counter = Counter()
    lock = threading.Lock()
    stop = threading.Event()
    windows: dict[str, tuple[float, float]] = {}
    measured: dict[str, float | int | list[str]] = {}
    numbers = iter(range(10**9))

    def play(seed: int) -> None:
        rng = random.Random(f"{run}.{seed}")
        kinds, weights = zip(*WEIGHTS.items(), strict=True)
        while not stop.is_set():
            (kind,) = rng.choices(kinds, weights)
            with lock:
                if kind == "otp_login" and not unused:
                    kind = "one_step"
                email = (
                    unused.pop()
                    if kind == "otp_login"
                    else f"faults.{run}.{kind}.{next(numbers)}@example.com"
                )
                if kind == "otp_send":
                    asked.add(email)
            scenario_play(traffic, kind, email, codes, outcomes, failed, lock)

    threads = [threading.Thread(target=play, args=(n,)) for n in range(THREADS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        time.sleep(WARM_UP)

        # 1. A web node gone (master and workers, SIGKILL), then back.
        opened = time.monotonic()
        _sigkill(topology, "web1")
        time.sleep(BETWEEN)  # nginx meets the dead node
        _restart(topology, "web1")
        port = topology.prod.web_ports[0]
        assert wait_for_health(f"http://127.0.0.1:{port}/health", 60)
        windows["web1 killed"] = (opened, time.monotonic())
        time.sleep(BETWEEN)

        # 2. PgBouncer restarted: SIGINT, its safe shutdown (what systemd's
        # stop sends), then a new one on the same port.
        opened = time.monotonic()
        topology.prod.stop_pgbouncer()
        topology.prod.start_pgbouncer(topology.log_dir / "pgbouncer.log")
        windows["pgbouncer restarted"] = (opened, time.monotonic())
        measured["pgbouncer_restart_seconds"] = round(
            windows["pgbouncer restarted"][1] - opened, 2
        )
        time.sleep(BETWEEN)

        # 3. A worker SIGKILLed, at a moment it holds a mail task if one
        # comes within 5 s; then started again, as its supervisor would.
        worker_log = topology.log_dir / "worker1.log"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            seen = _tasks(worker_log)
            if seen["received"] - seen["ended"]:
                break
            time.sleep(0.005)
        _sigkill(topology, "worker1")
        killed_at = time.monotonic()
        seen = _tasks(worker_log)
        held = seen["received"] - seen["ended"]
        measured["worker_tasks_held_at_kill"] = sorted(held)
        after_kill = worker_log.stat().st_size
        time.sleep(1)
        _restart(topology, "worker1")
        time.sleep(BETWEEN)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    elapsed = time.monotonic() - started

    # Every code mail acknowledged arrives; the killed worker's message
    # comes back after the visibility timeout, at a live worker's next
    # sweep. Wait past that before counting, so a duplicate would be seen.
    sends = {o.email for o in outcomes if o.kind == "otp_send"}
    deadline = killed_at + VISIBILITY_TIMEOUT + 30
    while time.monotonic() < deadline:
        mails = _mails(topology, mail_dir)
        redone = set()
        for name in ("worker1", "worker2"):
            path = topology.log_dir / f"{name}.log"
            redone |= _tasks(path, after_kill if name == "worker1" else 0)["ended"]
        if sends <= mails.keys() and held <= redone:
            break
        time.sleep(0.5)
    measured["worker_redelivery_seconds"] = round(time.monotonic() - killed_at, 1)
    time.sleep(1)  # a late duplicate
    mails = _mails(topology, mail_dir)
    delivered = Counter({to: len(texts) for to, texts in mails.items() if to in asked})
    # Any mail of this run (the sign-ups' verification mails too) delivered
    # twice: the same text to the same address (a redelivered task renders
    # the same code or link).
    twice = {
        to: n
        for to, texts in mails.items()
        if f".{run}." in to
        for n in Counter(texts).values()
        if n > 1
    }
    rows = rows_check([o for o in outcomes if o.kind != "otp_send"])

    def in_window(call) -> str | None:
        for label, (opened, closed) in windows.items():
            if (
                call.started <= closed + GRACE
                and call.started + call.elapsed >= opened - GRACE
            ):
                return label
        return None

    def excused(call) -> bool:
        """A 502/503 with Retry-After in a fault window; or, while a node
        was dead, an answer cut off: nginx had passed on the node's headers
        when the node died before its body (a server may send them apart), and
        can only close the connection. The client got no answer, not a
        wrong one; see docs/deploy.md."""
        window = in_window(call)
        if call.status in (502, 503):
            return bool(call.retry_after) and window is not None
        return call.status == 0 and window == "web1 killed"

    outside = [call for call in traffic.unexpected if not excused(call)]
    errors = Counter(
        (call.status, call.retry_after, in_window(call))
        for call in traffic.server_errors
    )
    figures = {
        **traffic.figures("tests/topology/test_faults.py", elapsed),
        "threads": THREADS,
        "windows_seconds": {
            label: [round(opened - started, 1), round(closed - started, 1)]
            for label, (opened, closed) in windows.items()
        },
        "server_errors": {
            f"{status} retry-after={after} in={label}": n
            for (status, after, label), n in errors.items()
        },
        "answers_cut_off": sum(1 for call in traffic.unexpected if call.status == 0),
        "worker_held_story": _story(topology, held),
        "otp_drains_seen": {
            what: len(
                {
                    task_id
                    for name in ("worker1", "worker2")
                    for task, task_id, w in TASK.findall(
                        _read(topology.log_dir / f"{name}.log")
                    )
                    if task.endswith("otp_mail_drain_task") and w == what
                }
            )
            for what in ("received", "succeeded")
        },
        "mail_tasks_failed": [
            f"{name}: {line[:300]}"
            for name in ("worker1", "worker2")
            for line in _read(topology.log_dir / f"{name}.log").splitlines()
            if re.search(r"_send_task\[\S+\] (raised|retry)", line)
        ],
        "scenarios_done": dict(Counter(o.kind for o in outcomes)),
        "scenarios_failed": dict(failed),
        "rows_checked": rows,
        "otp_mails_asked": len(asked),
        "otp_mails_acknowledged": len(sends),
        "otp_mails_delivered": sum(delivered.values()),
        "otp_mails_duplicated": sum(1 for n in delivered.values() if n > 1),
        "mails_of_the_run": sum(len(t) for to, t in mails.items() if f".{run}." in to),
        "mails_of_the_run_twice": len(twice),
        # core/delivery.py at work: copies of a sent mail's message
        # acknowledged without a mail, copies that met a claim and waited,
        # claims of a killed worker's process taken over, and the code mails
        # a killed worker's drain had leased, taken over (otp/mail.py).
        "mail_copies": {
            what: sum(
                _read(topology.log_dir / f"{name}.log").count(line)
                for name in ("worker1", "worker2")
            )
            for what, line in (
                ("acknowledged_as_sent", "Mail already sent; message acknowledged"),
                ("waited_for_a_claim", "Mail claimed by another worker"),
                ("claims_taken_over", "Mail claim of a dead worker process"),
                ("code_mail_leases_taken_over", "otp_mail_lease_taken_over"),
            )
        },
        **measured,
        "by_route": traffic.by_route(),
    }
    ARTIFACT.mkdir(parents=True, exist_ok=True)
    (ARTIFACT / "topology-faults.json").write_text(json.dumps(figures, indent=2) + "\n")
    for name in ("worker1", "worker2", "web1", "web2"):  # the processes' story
        text = _read(topology.log_dir / f"{name}.log")
        (ARTIFACT / f"topology-faults-{name}.log").write_text(text)
    with capsys.disabled():
        print(f"\ntopology faults: {json.dumps(figures, indent=2)}")  # noqa: T201

    assert not outside, outside[:10]
    assert sends <= delivered.keys(), sorted(sends - delivered.keys())[:10]
    assert max(delivered.values(), default=1) == 1, delivered.most_common(5)
    assert not twice, twice
    assert held <= redone, _story(topology, held)
    assert len(sends) > 50
    assert rows["signups_acknowledged"] > 50


def test_a_message_held_past_the_visibility_timeout_sends_one_mail(topology):
    """A worker that holds a message longer than the visibility timeout (a
    countdown longer than it, a queue of tasks before it) is taken for dead:
    the broker hands the message to a worker again, and both copies run.
    The mail goes out once (core/delivery.py): the copy that comes second
    finds the task id claimed or sent (docs/deploy.md, "Mail delivered
    once"). This is how the fault test once saw a code mailed twice."""
    from accounts.tasks import email_changed_email_send_task as task
    from config.celery import app
    from core.emails import email_hash

    address = f"held.{uuid.uuid4().hex[:8]}@example.com"
    task_id = str(uuid.uuid4())
    countdown = VISIBILITY_TIMEOUT + 8
    logs = {name: topology.log_dir / f"{name}.log" for name in ("worker1", "worker2")}
    offsets = {name: path.stat().st_size for name, path in logs.items()}
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        url = topology.processes["worker1"].env["REDIS_URL"]
        with app.connection_for_write(url) as connection:
            task.apply_async(
                kwargs={
                    "email": address,
                    "changed_at": "2026-12-06T10:00:00+00:00",
                    "token": "111222",
                    "language": "en",
                },
                kwargsrepr=repr({"email": email_hash(address), "token": "******"}),
                expires=600,
                countdown=countdown,
                task_id=task_id,
                connection=connection,
            )
    finally:
        app.conf.task_always_eager = eager

    deadline = time.monotonic() + countdown + 30
    while time.monotonic() < deadline:
        if address in texts_by_recipient(topology.mail_dir):
            break
        time.sleep(0.2)
    time.sleep(VISIBILITY_TIMEOUT + 5)  # a copy redelivered later still runs
    story = "".join(_read(path, offsets[name]) for name, path in logs.items())
    received = story.count(f"{task.name.rsplit('.', 1)[1]}[{task_id}] received")
    mails = texts_by_recipient(topology.mail_dir).get(address, [])

    assert received >= 2, story  # the broker did deliver it again
    assert len(mails) == 1, (len(mails), story)
    assert address not in story
