"""The soak (`./dev bench --soak`, bench/soak.py) without timing anything:
the workers' RSS read from a real process tree, the summary of the
samples, the addresses each loop takes, the options and the command line
./dev builds."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import soak
from bench.peer_compare import WARMUP, workers_rss_mib, workers_shared_mib


def test_the_workers_rss_is_read_for_each_child_of_the_master():
    child = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", "import time; b = bytearray(40 << 20); time.sleep(30)"]
    )
    try:
        for _ in range(50):  # until it has its 40 MiB
            rss = workers_rss_mib(os.getpid())
            if rss.get(child.pid, 0) > 40:
                break
            time.sleep(0.1)
        childless = workers_rss_mib(child.pid)
    finally:
        child.kill()
        child.wait()

    assert rss[child.pid] > 40
    assert childless == {}


def test_a_workers_shared_pages_are_divided_and_its_own_counted():
    """Two children share 40 MiB their parent wrote before the fork; each
    writes 20 MiB of its own after it: each one's PSS holds a third of the
    shared part, its private memory only its own part (the page cache's and the
    interpreter's pages aside)."""
    code = (
        "import os, time\n"
        "shared = bytearray(b'x' * (40 << 20))\n"
        "r, w = os.pipe()\n"
        "for _ in range(2):\n"
        "    if os.fork() == 0:\n"
        "        own = bytearray(b'y' * (20 << 20))\n"
        "        os.write(w, b'.')\n"
        "        time.sleep(30)\n"
        "        os._exit(0)\n"
        "os.read(r, 1); os.read(r, 1)\n"
        "print('ready', flush=True)\n"
        "time.sleep(30)\n"
    )
    parent = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert parent.stdout.readline() == "ready\n"
        rss = workers_rss_mib(parent.pid)
        shared = workers_shared_mib(parent.pid)
    finally:
        os.killpg(parent.pid, signal.SIGKILL)  # the children with it
        parent.wait()

    assert set(shared) == set(rss)
    assert len(rss) == 2
    for pid, memory in shared.items():
        assert rss[pid] > 60  # both parts, whole
        # Its own 20 and a third of the 40 (the parent maps them too).
        assert 30 < memory["pss"] < rss[pid] - 20
        assert 20 <= memory["private"] < 35  # its own 20, not the shared 40


def sample(second, **rss):
    return {
        "second": second,
        "load_1m": 1.0,
        "rss_mib": {int(p[1:]): v for p, v in rss.items()},
    }


def test_the_summary_takes_each_workers_least_and_most_of_the_warm_and_last_minute():
    samples = [
        sample(0, p1=84.0, p2=85.0),
        sample(30, p1=120.0, p2=110.0),
        sample(60, p1=111.0, p2=130.0),  # warm minute: 60 to 120 s
        sample(90, p1=130.0, p2=112.0),
        sample(120, p1=111.5, p2=112.0),
        sample(150, p1=125.0, p2=112.0),
        sample(540, p1=112.0, p2=131.0),  # last minute: 540 to 600 s
        sample(570, p1=131.0, p2=115.0),
        sample(600, p1=113.0, p2=114.0),
    ]
    at_rest = sample(605, p1=112.0, p2=113.5)

    assert soak.worker_summary(samples, at_rest) == [
        {
            "pid": 1, "first": 84.0, "warm_least": 111.0, "warm_most": 130.0,
            "last_least": 112.0, "last_most": 131.0, "at_rest": 112.0, "growth": 1.0,
        },
        {
            "pid": 2, "first": 85.0, "warm_least": 112.0, "warm_most": 130.0,
            "last_least": 114.0, "last_most": 131.0, "at_rest": 113.5, "growth": 2.0,
        },
    ]  # fmt: skip


def test_a_replaced_worker_and_its_successor_have_figures_where_sampled():
    samples = [sample(0, p1=84.0), sample(60, p1=110.0), sample(200, p3=90.0)]

    gone, new = soak.worker_summary(samples, sample(205, p3=91.0))

    assert (gone["pid"], gone["warm_least"], gone["last_least"]) == (1, 110.0, None)
    assert (gone["at_rest"], gone["growth"]) == (None, None)
    assert (new["pid"], new["first"], new["warm_least"]) == (3, 90.0, None)
    assert (new["last_least"], new["at_rest"]) == (90.0, 91.0)


def test_every_loop_takes_fresh_addresses_and_the_mail_check_its_own():
    m = 100
    n = soak.customers_needed(10, m)
    loops = 0
    while soak.loop_has_addresses(loops, m, n):
        loops += 1
    used = [soak.loop_offset(i, m) + j for i in range(loops) for j in range(WARMUP + m)]

    assert loops >= 10 * soak.LOOPS_A_MINUTE
    assert len(set(used)) == len(used)
    assert min(used) == 1
    assert max(used) == n - 1  # customer n is the mail check's


def test_the_options_and_the_command_line_dev_builds(tmp_path):
    args = soak.parse(["--minutes", "2.5"])
    argv = soak.soak_argv(args, url="http://127.0.0.1:1", mail_dir=tmp_path, web_pid=42)

    assert argv == [
        "--url", "http://127.0.0.1:1", "--mail-dir", str(tmp_path), "--web-pid", "42",
        "--minutes", "2.5", "--m", "100", "--n", "1500",
    ]  # fmt: skip
    again = soak.parse(argv)
    assert (again.web_pid, again.minutes, again.mail_dir) == (42, 2.5, Path(tmp_path))


@pytest.mark.parametrize("wrong", [["--minutes", "0"], ["--m", "0"], ["--fast"]])
def test_wrong_options_are_refused(wrong):
    with pytest.raises(SystemExit) as refused:
        soak.parse(wrong)
    assert refused.value.code == 2
