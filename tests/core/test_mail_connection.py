"""The worker keeps one SMTP connection for mail after mail, checks it after
an idle spell, and opens a new one when the server has dropped it; no mail
is lost or sent twice on the way. Against a small SMTP server on a real
socket (below), which counts connections and messages."""

import socketserver
import threading

import pytest

from core import mail as core_mail
from core.mail import MailNotDelivered, templated_mail_send


class SmtpSink(socketserver.ThreadingTCPServer):
    """Enough SMTP for smtplib: EHLO, MAIL, RCPT, DATA, NOOP, RSET, QUIT.
    `drop_idle` makes it close a connection after each message, as a
    server whose idle timeout struck; `rcpt_refusals` refuses recipients."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SmtpSession)
        self.connections = 0
        self.messages: list[str] = []
        self.drop_idle = False
        # Replies to RCPT, used up one per RCPT before "250 ok".
        self.rcpt_refusals: list[str] = []
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
            elif verb == "RCPT" and server.rcpt_refusals:
                self.reply(server.rcpt_refusals.pop(0))
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


def test_a_connection_the_server_dropped_is_opened_again(sink):
    # Asked NOOP before its reuse, the kept connection is found gone (an
    # idle timeout, a restart, a cap per connection): the mail goes over a
    # new one, not lost.
    sink.drop_idle = True
    send("first@example.com", "111111")
    send("second@example.com", "222222")

    assert sink.connections == 2
    assert [("111111" in m, "222222" in m) for m in sink.messages] == [
        (True, False),
        (False, True),
    ]


@pytest.mark.parametrize(
    ("reply", "failure"),
    [
        ("451 4.3.0 try again later", core_mail.TransientMailFailure),
        ("550 5.1.1 no such user", core_mail.MailNotDelivered),
    ],
)
def test_a_refused_mail_is_reported_without_the_address_and_the_next_reconnects(
    sink, reply, failure
):
    send("first@example.com", "111111")
    sink.rcpt_refusals.append(reply)
    with pytest.raises(MailNotDelivered) as raised:
        send("second@example.com", "222222")
    send("third@example.com", "333333")

    assert type(raised.value) is failure
    assert "second@example.com" not in str(raised.value)
    assert sink.connections == 2  # dropped after the failure, then anew
    assert ["111111" in m or "333333" in m for m in sink.messages] == [True, True]


def test_a_transient_failure_is_retried_and_the_mail_sent_once(sink, email):
    """core.tasks.MailTask retries a TransientMailFailure as an outage (5 s
    later, the same task id); a permanent one fails the task, not retried.
    Run in-process: the retry is raised, and run here as the worker would."""
    import uuid

    from celery.exceptions import Retry

    from accounts.tasks import email_changed_email_send_task

    def run(task_id: str, code: str) -> None:
        email_changed_email_send_task.apply(
            kwargs={
                "email": email,
                "changed_at": "2026-12-06T10:00:00+00:00",
                "token": code,
                "language": "en",
            },
            task_id=task_id,
        )

    busy = str(uuid.uuid4())
    sink.rcpt_refusals.append("421 4.7.0 too busy, come back later")
    with pytest.raises(Retry) as retried:
        run(busy, "654321")
    run(busy, "654321")  # the retry
    run(busy, "654321")  # a copy of it: already sent
    sink.rcpt_refusals.append("550 5.1.1 no such user")
    with pytest.raises(MailNotDelivered) as refused:
        run(str(uuid.uuid4()), "765432")

    assert isinstance(retried.value.exc, core_mail.TransientMailFailure)
    assert retried.value.when == 5
    assert type(refused.value) is MailNotDelivered
    assert ["654321" in m for m in sink.messages] == [True]
