import contextlib
import functools
import os
import re
import secrets
import smtplib
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from email.policy import Compat32
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.core.mail.backends import filebased, smtp
from django.core.mail.backends.base import BaseEmailBackend
from django.template.loader import render_to_string
from django.utils import translation

from core.emails import email_hash
from core.locale import mail_language


class MailNotDelivered(Exception):
    """Raised instead of smtplib's errors, whose text quotes the recipient:
    the worker logs a task's exception, and plain emails never reach logs."""


class TransientMailFailure(MailNotDelivered):
    """Trying again later may deliver it (core.tasks.MailTask retries it;
    otp/mail.py's drain backs its row off)."""


def templated_mail_send(
    *,
    templates: str,
    context: dict[str, Any],
    to: str,
    language: str | None = None,
    varying: str | None = None,
) -> None:
    """Send `<templates>subject.txt`, `body.txt` and `body.html` to one
    address, rendered in `language` (core/locale.py; the default if None).
    `varying`: the one key of `context` whose value differs from mail to
    mail (a code). The texts are then rendered once per process for the
    rest of the context (_texts_marked) and the value put in where its
    marker stands; the rest is kept in a process-wide cache as its key, so
    it must hold nothing secret or particular to one recipient."""
    subject, body, html = _texts_for(
        templates, context, mail_language(language), varying
    )
    message = _Alternatives(subject=subject, body=body, to=[to])
    message.attach_alternative(html, "text/html")
    try:
        message.connection = _kept_connection()
        message.send()
    except BaseException as exc:
        # In an unknown state (maybe mid-DATA): the next mail opens anew.
        _kept_connection_drop()
        if not isinstance(exc, smtplib.SMTPException | OSError):
            raise
        failure = TransientMailFailure if _transient(exc) else MailNotDelivered
        raise failure(
            f"{type(exc).__name__} sending to userId {email_hash(to)}"
        ) from None


Texts = tuple[str, str, str]


def _texts(templates: str, context: dict[str, Any], language: str) -> Texts:
    with translation.override(language):
        subject = render_to_string(f"{templates}subject.txt", context)
        body = render_to_string(f"{templates}body.txt", context)
        html = render_to_string(f"{templates}body.html", context)
    return " ".join(subject.split()), body, html


# Stands for the varying value while the texts are rendered: letters and
# digits, which no escaping or whitespace folding changes, and which no
# template contains. The value put in its place must be as plain
# (_MARKABLE: a code), and the rest of the context strings and integers (a
# key that never takes 10 for 10.0 or True), or the texts are rendered as
# they are.
_MARK = f"mark{secrets.token_hex(12)}"
_MARKABLE = re.compile(r"[A-Za-z0-9]{1,64}")


def _texts_for(
    templates: str, context: dict[str, Any], language: str, varying: str | None
) -> Texts:
    """The subject, text and HTML: from the render kept for the rest of
    the context when `varying` may be put in (above), else rendered."""
    value = context.get(varying) if varying is not None else None
    if varying is not None and isinstance(value, str) and _MARKABLE.fullmatch(value):
        rest = tuple(sorted((k, v) for k, v in context.items() if k != varying))
        if all(type(v) in (str, int) for _, v in rest):
            marked = _texts_marked(templates, rest, language, varying)
            if marked is not None:
                subject, body, html = (text.replace(_MARK, value) for text in marked)
                return subject, body, html
    return _texts(templates, context, language)


@functools.lru_cache(maxsize=64)
def _texts_marked(
    templates: str, rest: tuple[tuple[str, Any], ...], language: str, varying: str
) -> Texts | None:
    """The three texts with _MARK for `varying`: rendering them was about
    a fifth of a code mail's CPU (docs/performance.md, "A code mail
    rendered once"), and every code mail of a language renders the same.
    None if a template changed the marker (a filter on the value, a loop
    over its characters): such templates are rendered with the value each
    time. Holds no code: only the marker."""
    texts = _texts(templates, {**dict(rest), varying: _MARK}, language)
    return texts if _MARK in texts[1] and _MARK in texts[2] else None


class _ShortAsciiHeaders(Compat32):
    """The policy Django's messages have (compat32), but a header that is
    one short line of printable ASCII is written as it is: the library
    wraps each header in an `email.header.Header` to find out the same (a
    quarter of a code mail's time in a profile, for its 13 headers;
    docs/performance.md, "A code mail's cost, and the web server's
    floor"). Anything else (non-ASCII, a tab or line break, long, already a
    Header) is the library's; tests/core/test_mail.py checks both give the
    same bytes."""

    def fold_binary(self, name: str, value: Any) -> bytes:
        if (
            isinstance(value, str)
            and value.isascii()
            and value.isprintable()  # no line break of any kind, no tab
            and self.max_line_length is not None
            and len(name) + 2 + len(value) <= self.max_line_length
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_SHORT_ASCII_HEADERS = _ShortAsciiHeaders()


class _Alternatives(EmailMultiAlternatives):
    """A text body and its HTML alternative, their boundary chosen here
    and their headers written by _ShortAsciiHeaders. Left to it, the
    standard library's generator picks a boundary for each message and
    compiles a regular expression to look for it in the text: about an
    eighth of a code mail's CPU."""

    def message(self, **kwargs: Any) -> Any:
        msg = super().message(**kwargs)
        msg.policy = _SHORT_ASCII_HEADERS
        texts = [self.body]
        texts += [text for text, _ in self.alternatives if isinstance(text, str)]
        # "=_" never occurs in quoted-printable or base64 text, and the
        # random part, drawn after the text was rendered, is looked for in
        # the text as it is.
        boundary = f"=_{secrets.token_hex(16)}"
        while any(boundary in text for text in texts):
            boundary = f"=_{secrets.token_hex(16)}"
        msg.set_boundary(boundary)
        return msg


def _transient(exc: BaseException) -> bool:
    """Whether trying again later may deliver: the server or the network
    failed (a 4xx reply, a dropped or refused connection), not the message
    or the address (a 5xx reply: refused recipient, sender or content)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return True  # disconnected, refused, timed out, TLS or DNS failure


# A worker sends mail after mail: each over a new SMTP connection would pay
# TCP, TLS and AUTH again (and the server's patience). One connection per
# process (per thread) is kept, and asked NOOP before each reuse (one round
# trip): a server or relay that dropped it (an idle timeout, a restart, a
# cap on messages per connection) gets a new one before the mail is sent.
# A mail is never sent twice here: a failure during the send is raised
# (MailTask retries a transient one), the connection dropped.
_kept = threading.local()


def _kept_connection() -> BaseEmailBackend:
    if settings.EMAIL_BACKEND != "django.core.mail.backends.smtp.EmailBackend":
        return get_connection()  # files, memory: nothing to keep
    connection: smtp.EmailBackend | None = getattr(_kept, "connection", None)
    if connection is None:
        connection = _kept.connection = _smtp_connection()
    else:
        client = connection.connection
        try:
            alive = client is not None and client.noop()[0] == 250
        except (smtplib.SMTPException, OSError):
            alive = False
        if not alive:
            _kept_connection_drop()
            connection = _kept.connection = _smtp_connection()
    # Opened here, the backend's send keeps it open (a connection its send
    # opened itself, it would close after the message).
    connection.open()
    return connection


def _smtp_connection() -> smtp.EmailBackend:
    # EMAIL_BACKEND is the SMTP backend (checked by the caller).
    return cast(smtp.EmailBackend, get_connection())


def _kept_connection_drop() -> None:
    connection: smtp.EmailBackend | None = getattr(_kept, "connection", None)
    _kept.connection = None
    if connection is not None:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            connection.close()  # QUIT if it still can


class FileBackend(filebased.EmailBackend):
    """Dev mail (EMAIL_URL=filemail:///dir): one file per message, named
    `<UTC time>-<first recipient>-<random>.eml`, so `ls dir/*alice@*` finds
    a recipient's mail in the order it was sent and any mail program opens
    one. Django's file backend appends every message a connection sends to
    one file.

    The recipient is in the file name: this backend is for a developer's
    disk (production refuses every backend but SMTP), and nothing logs the
    name. A file appears whole (written aside, then renamed), so a reader
    polling the directory never parses half a message.
    """

    def open(self) -> bool:
        return False  # no stream to keep: each message opens its own file

    def close(self) -> None:
        pass

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            self._write(message)
            sent += 1
        return sent

    def _write(self, message: EmailMessage) -> None:
        directory = Path(self.file_path)
        name = _file_name(message.recipients())
        partial = directory / f".{name}.partial"
        # 0600: the mail holds codes and reset links.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(message.message().as_bytes())
        os.replace(partial, directory / name)


def file_mail_who(address: str) -> str:
    """How FileBackend names a recipient in a file name: characters every
    file system and shell takes (an address may hold "/" or a quote)."""
    return re.sub(r"[^A-Za-z0-9.@+_-]", "_", address)[:100]


def _file_name(recipients: list[str]) -> str:
    who = file_mail_who(recipients[0])
    if len(recipients) > 1:
        who += f"-and-{len(recipients) - 1}-more"
    now = datetime.now(UTC).strftime("%Y%m%d-%H%M%S.%f")
    return f"{now}-{who}-{secrets.token_hex(4)}.eml"
