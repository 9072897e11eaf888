"""bench/wsgi_floor.py and bench/mail_cost.py measure what they say: a real
gunicorn answering every request, real mails written. No timing here."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench import mail_cost, wsgi_floor


def test_the_floor_is_measured_on_a_real_gunicorn():
    measured = wsgi_floor.run(requests=400, clients=4, workers=1, threads=2)

    assert measured["requests"] == 400
    assert measured["server"] == "gunicorn 1 x 2"
    assert measured["req_per_s"] > 0
    assert measured["server_cpu_ms_per_request"] > 0


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
    failures: list[int] = []
    try:
        wsgi_floor._client(server.server_address[1], 2, failures)  # noqa: SLF001
    finally:
        server.shutdown()

    assert failures == [418, 418]


def test_mail_cost_writes_real_mails_both_ways():
    measured = mail_cost.run(mails=3, rounds=2)

    assert set(measured["kinds"]) == {"core.mail's", "Django's as it is"}
    for kind in measured["kinds"].values():
        assert len(kind["rounds_us"]) == 2
        assert kind["median_us"] > 0
