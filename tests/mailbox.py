"""Read mail the live worker delivered to MAIL_DIR (core.mail.FileBackend:
one `.eml` file per message)."""

import email as email_lib
import time
from email.message import Message
from pathlib import Path

import pytest


def _message(path: Path) -> Message:
    return email_lib.message_from_bytes(path.read_bytes())


def delivered_text(
    mail_dir: str, *, to: str, subject: str, timeout: float = 30.0
) -> str:
    """The text part of the newest message to `to` whose subject contains
    `subject`, waiting up to `timeout` seconds for the worker."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = None
        for path in sorted(Path(mail_dir).glob("*.eml")):  # named by time
            message = _message(path)
            if message["To"] == to and subject in (message["Subject"] or ""):
                found = message
        if found is not None:
            for part in found.walk():
                if part.get_content_type() == "text/plain":
                    return part.get_payload(decode=True).decode()
        time.sleep(0.2)
    pytest.fail(f"no mail '{subject}' arrived in {mail_dir} within {timeout}s")


def texts_by_recipient(mail_dir: str) -> dict[str, list[str]]:
    """The text part of every message the worker has delivered so far, per
    recipient, in delivery order (the file names start with the time)."""
    found: dict[str, list[str]] = {}
    for path in sorted(Path(mail_dir).glob("*.eml")):  # named by time
        message = _message(path)
        if message["To"] is None:
            continue
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                text = part.get_payload(decode=True).decode()
                found.setdefault(message["To"], []).append(text)
                break
    return found
