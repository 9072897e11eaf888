"""The worker keeps one SMTP connection for mail after mail, checks it after
an idle spell, and opens a new one when the server has dropped it; no mail
is lost or sent twice on the way. Against a small SMTP server on a real
socket (below), which counts connections and messages."""

import socket
import socketserver
import threading

import pytest

from core import mail as core_mail
from core.mail import MailNotDelivered, templated_mail_send


class SmtpSink(socketserver.ThreadingTCPServer):
    """Enough SMTP for smtplib: EHLO, MAIL, RCPT, DATA, NOOP, RSET, QUIT.
    `drop_idle` makes it close a connection after each message, as a
    server whose idle timeout struck."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SmtpSession)
        self.connections = 0
        self.messages: list[str] = []
        self.drop_idle = False
        self.lock = threading.Lock()


class SmtpSession(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        server: SmtpSink = self.server  # type: ignore[assignment]
        with server.lock:
            server.connections += 1
        self.reply("220 sink ready")
        while line := self.rfile.readline():
            verb = line.decode().strip().split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 sink")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go on")
                data = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data.append(chunk.decode())
                with server.lock:
                    server.messages.append("".join(data))
                self.reply("250 queued")
                if server.drop_idle:
                    return
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 no")


@pytest.fixture
def sink(settings):
    server = SmtpSink()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = server.server_address
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    core_mail._kept_connection_drop()
    yield server
    core_mail._kept_connection_drop()
    server.shutdown()
    server.server_close()


def send(to: str, code: str) -> None:
    templated_mail_send(
        templates="otp/email/", context={"code": code, "minutes": 10}, to=to
    )


def test_mail_after_mail_goes_over_one_connection(sink):
    for i in range(5):
        send(f"shopper{i}@example.com", f"10000{i}")

    assert sink.connections == 1
    assert len(sink.messages) == 5
    assert all(f"10000{i}" in sink.messages[i] for i in range(5))


def test_a_connection_the_server_dropped_is_opened_again(sink, monkeypatch):
    sink.drop_idle = True
    send("first@example.com", "111111")
    # Idle long enough to be checked: the NOOP finds the connection gone.
    monkeypatch.setattr(core_mail, "IDLE_CHECK_SECONDS", -1.0)
    send("second@example.com", "222222")

    assert sink.connections == 2
    assert [("111111" in m, "222222" in m) for m in sink.messages] == [
        (True, False),
        (False, True),
    ]


def test_a_failed_send_is_reported_once_and_the_next_mail_reconnects(sink, settings):
    send("first@example.com", "111111")
    # The server goes away under the kept connection: the next send fails
    # (reported without the address), nothing is retried behind the
    # caller's back, and the mail after it opens a new connection.
    kept = core_mail._kept.connection.connection
    kept.sock.shutdown(socket.SHUT_RDWR)
    with pytest.raises(MailNotDelivered) as raised:
        send("second@example.com", "222222")
    assert "second@example.com" not in str(raised.value)
    send("third@example.com", "333333")

    assert sink.connections == 2
    assert ["111111" in m or "333333" in m for m in sink.messages] == [True, True]
