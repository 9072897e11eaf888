"""The peer comparison (`./dev bench --peers`, bench/peer_compare.py) without
timing anything: the mail drop hands out the newest code of a recipient's
real OTP mail and removes that recipient's files, the runs never share an
address, the medians and ratios, the options and the command line that
./dev builds, and the peers' start settings."""

import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.test import override_settings

from bench import maildrop, peer_compare
from core.mail import templated_mail_send
from devstack import peers
from devstack.util import stop_pids


def otp_mail(mail_dir: Path, to: str, code: str) -> None:
    """The OTP mail as the worker sends it, through core.mail.FileBackend."""
    with override_settings(
        EMAIL_BACKEND="core.mail.FileBackend", EMAIL_FILE_PATH=str(mail_dir)
    ):
        templated_mail_send(
            templates="otp/email/",
            context={"code": code, "minutes": 10},
            to=to,
            varying="code",
        )


# ------------------------------------------------------------ mail drop


def files_of(mail_dir: Path, address: str) -> list[str]:
    return [p.name for p in mail_dir.iterdir() if f"-{address}-" in p.name]


@pytest.fixture
def watch(tmp_path):
    watch = maildrop.MailWatch(tmp_path)
    yield watch
    watch.close()


def test_the_newest_code_is_taken_and_the_recipients_files_removed(tmp_path):
    otp_mail(tmp_path, "user7@bench.example", "111111")
    otp_mail(tmp_path, "user7@bench.example", "222222")
    otp_mail(tmp_path, "user70@bench.example", "333333")
    watch = maildrop.MailWatch(tmp_path)  # mail that was there before it
    try:
        assert watch.take_code("User7@bench.example", timeout=0) == "222222"
        assert watch.take_code("user7@bench.example", timeout=0) is None
    finally:
        watch.close()

    assert files_of(tmp_path, "user7@bench.example") == []
    assert len(files_of(tmp_path, "user70@bench.example")) == 1


def test_the_drop_waits_for_mail_that_comes_later(tmp_path, watch):
    later = threading.Timer(0.2, otp_mail, (tmp_path, "user8@bench.example", "444444"))
    later.start()
    try:
        code = watch.take_code("user8@bench.example", timeout=10)
    finally:
        later.join()

    assert code == "444444"
    assert files_of(tmp_path, "user8@bench.example") == []


def test_a_file_being_written_is_not_taken(tmp_path, watch):
    (
        tmp_path / ".20261206-120000.000000-user6@bench.example-00.eml.partial"
    ).write_text("half a message")

    assert watch.take_code("user6@bench.example", timeout=0.1) is None


def test_a_mail_gone_before_it_is_taken_is_skipped_not_a_crash(tmp_path):
    otp_mail(tmp_path, "user5@bench.example", "666666")
    watch = maildrop.MailWatch(tmp_path)
    try:
        for path in tmp_path.iterdir():
            path.unlink()  # taken by someone else, or seen twice
        assert watch.take_code("user5@bench.example", timeout=0.1) is None
        otp_mail(tmp_path, "user5@bench.example", "777777")
        assert watch.take_code("user5@bench.example", timeout=10) == "777777"
    finally:
        watch.close()


def test_the_server_answers_the_code_clients_code_url(tmp_path):
    otp_mail(tmp_path, "user9+x@bench.example", "555555")
    drop = maildrop.MailDrop(tmp_path, timeout=0.05).start()
    try:
        url = drop.code_url.replace("{email}", "user9%2Bx%40bench.example")
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310
            assert json.loads(answer.read()) == {"code": "555555"}
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(url, timeout=5)  # noqa: S310
    finally:
        drop.stop()

    assert missing.value.code == 404
    assert list(tmp_path.iterdir()) == []


def test_many_waiting_clients_get_their_codes_without_listing_the_folder(
    tmp_path, monkeypatch
):
    """32 clients waiting at once (the flow at 32): every one is accepted
    and answered as its mail comes, and the folder is listed once, when
    the drop starts (the kernel tells it of each mail: no polling)."""
    listed = []
    listdir = os.listdir
    monkeypatch.setattr(
        os, "listdir", lambda path: listed.append(path) or listdir(path)
    )
    drop = maildrop.MailDrop(tmp_path, timeout=10).start()
    addresses = [f"wait{n}@bench.example" for n in range(32)]
    answers: dict[str, str] = {}

    def ask(address: str) -> None:
        url = drop.code_url.replace("{email}", address.replace("@", "%40"))
        with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310
            answers[address] = json.loads(answer.read())["code"]

    clients = [threading.Thread(target=ask, args=(a,)) for a in addresses]
    try:
        for client in clients:
            client.start()
        time.sleep(0.3)
        for n, address in enumerate(addresses):
            otp_mail(tmp_path, address, f"{700000 + n}")
        for client in clients:
            client.join()
    finally:
        drop.stop()

    assert answers == {a: f"{700000 + n}" for n, a in enumerate(addresses)}
    assert [Path(path) for path in listed if Path(path) == tmp_path] == [tmp_path]
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------ addresses


def test_no_address_is_used_twice_in_a_run():
    rounds, m = 3, 50
    slices = [
        range(
            peer_compare.code_offset(r, mode, m),
            peer_compare.code_offset(r, mode, m) + peer_compare.per_run(m),
        )
        for r in range(rounds)
        for mode in (0, 1)
    ]
    used = [i for s in slices for i in s]
    n = peer_compare.customers_needed(rounds, m)

    assert len(used) == len(set(used))
    assert min(used) == 1  # customers are user1..userN
    # The last customer is the mail path check's own.
    assert max(used) == n - 1


# ------------------------------------------------------------ arithmetic


def row(metric, system, rate, *, errors=0, peer="allauth", p99=10.0):
    return {
        "metric": metric,
        "system": system,
        "peer": peer,
        "req_per_s": rate,
        "p50_ms": 1.0,
        "p99_ms": p99,
        "errors": errors,
    }


def test_the_comparison_is_the_ratio_of_the_medians():
    rows = [
        row("code flow @8", "ours", 30.0),
        row("code flow @8", "ours", 90.0),
        row("code flow @8", "ours", 60.0),
        row("code flow @8", "allauth", 20.0),
        row("code flow @8", "allauth", 40.0),
        row("code flow @8", "allauth", 10.0, errors=3),  # a failed run: left out
        row("me @8", "ours", 100.0, peer="medusa"),
    ]

    flow, me = peer_compare.comparison(rows)

    assert flow["ours_req_per_s"] == 60.0
    assert flow["peer_req_per_s"] == 30.0
    assert flow["ratio"] == 2.0
    assert (flow["target"], flow["met"]) == (1.5, True)
    assert (flow["peer_runs"], flow["peer_failed_runs"]) == (3, 1)
    assert me["ratio"] is None  # no peer figure
    assert me["met"] is None
    assert "code flow @8 | allauth" in peer_compare.comparison_table([flow, me])


def test_median_and_ratio():
    assert peer_compare.median([3.0, 1.0, 2.0, 10.0]) == 2.5
    assert peer_compare.median([]) is None
    assert peer_compare.ratio(10.0, 4.0) == 2.5
    assert peer_compare.ratio(10.0, 0.0) is None
    assert peer_compare.ratio(None, 4.0) is None


def test_the_clients_json_rows_are_read_and_the_rest_skipped():
    out = '{"op": "me", "req_per_s": 5}\n  me C=8 ...\n{broken\n{"op": "flow"}\n'

    assert peer_compare.client_rows(out) == [
        {"op": "me", "req_per_s": 5},
        {"op": "flow"},
    ]


# ------------------------------------------------------------ options


def test_the_options_and_the_command_line_dev_builds(tmp_path, monkeypatch):
    for name in ("BENCH_ALLAUTH", "BENCH_MEDUSA", "BENCH_ALLAUTH_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BENCH_MEDUSA_ENV", "/run/medusa/peer.env")
    args = peer_compare.parse(["--allauth", "run-peer.sh", "--rounds", "2"])

    assert (args.allauth, args.rounds, args.m) == ("run-peer.sh", 2, 200)
    assert args.medusa_env == Path("/run/medusa/peer.env")
    argv = peer_compare.compare_argv(
        args,
        url="http://127.0.0.1:1",
        mail_dir=tmp_path,
        web_pid=42,
        envs={"allauth": tmp_path / "allauth" / "peer.env"},
    )
    assert argv == [
        "--url", "http://127.0.0.1:1", "--mail-dir", str(tmp_path),
        "--web-pid", "42", "--rounds", "2", "--m", "200", "--me-n", "1000",
        "--login-n", "100",
        "--allauth-env", str(tmp_path / "allauth" / "peer.env"),
        "--medusa-env", "/run/medusa/peer.env",
    ]  # fmt: skip
    assert "--allauth" not in argv  # ./dev starts it, not bench.peer_compare
    assert peer_compare.parse(argv).web_pid == 42


@pytest.mark.parametrize(
    "wrong",
    [
        ["--allauth", "run-peer.sh", "--allauth-env", "peer.env"],
        ["--rounds", "0"],
        ["--fast"],
    ],
)
def test_wrong_options_are_refused(wrong, monkeypatch):
    for name in ("BENCH_ALLAUTH", "BENCH_ALLAUTH_ENV"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as refused:
        peer_compare.parse(wrong)
    assert refused.value.code == 2


def test_a_peer_env_is_read_with_its_quotes_removed(tmp_path):
    env_file = tmp_path / "peer.env"
    env_file.write_text(
        'BASE_URL=http://127.0.0.1:8100\nVERSIONS="Django==5.2 x==1"\n\n'
    )

    assert peer_compare.read_peer_env(env_file) == {
        "BASE_URL": "http://127.0.0.1:8100",
        "VERSIONS": "Django==5.2 x==1",
    }


def test_started_peers_get_their_own_ports_and_work_directory(tmp_path):
    script = tmp_path / "run-peer.sh"
    script.write_text("exit 0\n")
    allauth = peers.StartedPeer("allauth", script, {}, 2521, root=tmp_path)
    medusa = peers.StartedPeer("medusa", script, {"PORT": "9100"}, 1, root=tmp_path)

    assert allauth.env["WORK"] == str(tmp_path / "allauth")
    assert allauth.env["N_USERS"] == "2521"
    ports = {allauth.env[k] for k in ("PORT", "PGPORT", "REDIS_PORT")}
    assert len(ports) == 3
    assert medusa.env["PORT"] == "9100"  # the caller's value wins
    assert medusa.env["MEDUSA_NODE_ENV"] == "production"
    assert medusa.env["MEDUSA_CLUSTER"] == "2"
    assert medusa.env_file == tmp_path / "medusa" / "peer.env"


def test_a_peers_leftovers_are_found_by_its_process_group():
    # `bash run-peer.sh` runs in a session of its own; what it leaves (a
    # cluster's workers) keeps its process group after it has exited.
    script = subprocess.Popen(  # noqa: S603
        ["bash", "-c", "sleep 30 & sleep 30 & wait"],  # noqa: S607
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 5
        while len(peers.group_members(script.pid)) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        stop_pids(peers.group_members(script.pid), 5)
        script.wait(5)

    assert peers.group_members(script.pid) == []


def test_the_steps_inside_the_flows_are_read_from_the_clients_report():
    stderr = """bench generic -> http://127.0.0.1:1  mode=flow M=200 C=[8, 32]
  flow     C=8   n=200      12.2 req/s  p50   614.1 ms  p95  1219.0 ms
    in-flow request   p50 220.5 ms  p95 478.7 ms  p99 608.8 ms
    in-flow read_code p50 17.9 ms  p95 74.9 ms  p99 124.9 ms
  flow     C=32  n=200      11.6 req/s  p50   2614.1 ms  p95  3219.0 ms
    in-flow read_code p50 19.5 ms  p95 74.9 ms  p99 124.9 ms
"""

    assert peer_compare.in_flow_p50_ms(stderr) == [
        {"request": 220.5, "read_code": 17.9},
        {"read_code": 19.5},
    ]
    rows = [
        {**row("code flow @8", "ours", 10.0), "in_flow_p50_ms": {"read_code": 4.0}},
        {**row("code flow @8", "ours", 12.0), "in_flow_p50_ms": {"read_code": 8.0}},
    ]
    (entry,) = peer_compare.comparison(rows)
    assert entry["ours_in_flow_p50_ms"] == {"read_code": 6.0}


def test_a_started_peer_is_waited_for_and_stopped_with_its_leftovers(tmp_path):
    script = tmp_path / "run-peer.sh"
    script.write_text(
        'if [ "${1:-}" = stop ]; then kill "$(cat "$WORK/server.pid")"; exit 0; fi\n'
        'nohup sleep 300 >/dev/null 2>&1 & echo $! > "$WORK/server.pid"\n'
        "nohup sleep 301 >/dev/null 2>&1 &  # a worker its stop does not know\n"
        'echo "BASE_URL=http://127.0.0.1:$PORT" > "$WORK/peer.env"\n'
    )
    peer = peers.StartedPeer("allauth", script, {}, 10, root=tmp_path / "peers")
    peer.start()
    try:
        env_file = peer.wait()
        assert peer_compare.read_peer_env(env_file) == {
            "BASE_URL": f"http://127.0.0.1:{peer.env['PORT']}"
        }
        assert len(peers.group_members(peer.process.pid)) == 2
    finally:
        peer.stop()

    assert peers.group_members(peer.process.pid) == []
    assert (tmp_path / "peers" / "allauth.log").exists()
