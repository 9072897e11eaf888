import os
import re
import secrets
import smtplib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends import filebased
from django.template.loader import render_to_string
from django.utils import translation

from core.emails import email_hash
from core.locale import mail_language


class MailNotDelivered(Exception):
    """Raised instead of smtplib's errors, whose text quotes the recipient:
    the worker logs a task's exception, and plain emails never reach logs."""


def templated_mail_send(
    *,
    templates: str,
    context: dict[str, Any],
    to: str,
    language: str | None = None,
) -> None:
    """Send `<templates>subject.txt`, `body.txt` and `body.html` to one
    address, rendered in `language` (core/locale.py; the default if None)."""
    with translation.override(mail_language(language)):
        subject = render_to_string(f"{templates}subject.txt", context)
        body = render_to_string(f"{templates}body.txt", context)
        html = render_to_string(f"{templates}body.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()), body=body, to=[to]
    )
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        raise MailNotDelivered(
            f"{type(exc).__name__} sending to userId {email_hash(to)}"
        ) from None


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


def _file_name(recipients: list[str]) -> str:
    # Keep a name's characters to ones every file system and shell takes:
    # an address may hold "/" or a quote.
    who = re.sub(r"[^A-Za-z0-9.@+_-]", "_", recipients[0])[:100]
    if len(recipients) > 1:
        who += f"-and-{len(recipients) - 1}-more"
    now = datetime.now(UTC).strftime("%Y%m%d-%H%M%S.%f")
    return f"{now}-{who}-{secrets.token_hex(4)}.eml"
