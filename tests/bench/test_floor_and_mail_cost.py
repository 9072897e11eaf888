"""bench/wsgi_floor.py and bench/mail_cost.py measure what they say: a real
Granian and a real gunicorn answering every request, real mails written. No
timing here."""

import email
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench import mail_cost, wsgi_floor
from devstack.util import free_ports


def test_the_floor_is_measured_on_both_real_servers():
    measured = wsgi_floor.run(requests=400, clients=4, workers=1, threads=2, rounds=2)

    assert measured["servers"] == "1 x 2"
    assert set(measured["rounds"]) == {"granian", "gunicorn"}
    for rounds in measured["rounds"].values():
        # Every request answered 200 (or run() raises), each one counted.
        assert [one["requests"] for one in rounds] == [400, 400]
        assert all(one["server_cpu_ms_per_request"] > 0 for one in rounds)


def test_the_floor_counts_an_answer_that_is_not_200():
    class Teapot(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802  (http.server's name)
            self.send_response(418)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Teapot)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    answers: list[int | str] = []
    try:
        wsgi_floor._client(server.server_address[1], 2, answers)  # noqa: SLF001
    finally:
        server.shutdown()

    assert answers == [418, 418]


def test_the_floor_counts_a_connection_that_failed():
    (port,) = free_ports(1)  # nobody listens
    answers: list[int | str] = []

    wsgi_floor._client(port, 3, answers)  # noqa: SLF001

    assert answers == ["ConnectionRefusedError"]


def test_mail_cost_writes_real_mails_every_way(tmp_path):
    measured = mail_cost.run(mails=3, rounds=2, keep_in=tmp_path)

    assert set(measured["kinds"]) == {
        "core.mail's, rendered once",
        "core.mail's",
        "Django's as it is",
    }
    for kind in measured["kinds"].values():
        assert len(kind["rounds_us"]) == 2
        assert kind["median_us"] > 0
    boundaries = {
        folder: {
            email.message_from_bytes(path.read_bytes()).get_boundary()[:2]
            for path in (tmp_path / folder).glob("*.eml")
        }
        for folder in ("once", "core-mail", "django")
    }
    # Six mails each: ours under a boundary of core.mail's, Django's not.
    assert [len(list((tmp_path / f).glob("*.eml"))) for f in boundaries] == [6] * 3
    assert boundaries == {"once": {"=_"}, "core-mail": {"=_"}, "django": {"=="}}
