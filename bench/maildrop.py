"""The mail drop of the peer comparison (bench/peer_compare.py): a small
HTTP server on 127.0.0.1 that hands the code client its sign-in codes.

Our mail goes through Celery and core.mail.FileBackend writes one file per
message, `<UTC time>-<recipient>-<random>.eml`, some time after the code
request has been answered. The code client (bench/peers/bench-code-login.py)
reads a code from `CODE_URL`; this server answers
`GET /code?email=ADDRESS` by waiting for ADDRESS's newest mail (polling
the directory every few milliseconds, up to a timeout), answering
`{"code": "..."}` and removing that recipient's files. However many
clients wait, the directory is listed once a poll (they share the
listing), and the listen backlog holds them all: with 32 waiting clients
a socketserver's default backlog of 5 overflowed, and a refused connect
cost its login a second (TCP's SYN retry), and the polls of 32 clients
took a core's fifth from the server measured. In the client's flow
mode the wait for the mail is then part of a complete login, as it is for
a customer. A recipient whose mail does not come in time gets 404.

    python -m bench.maildrop MAIL_DIR PORT
"""

import email
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

POLL_SECONDS = 0.003
TIMEOUT_SECONDS = 30.0
# templates/otp/email/body.txt: "Your sign-in code is 123456" (any language:
# the first run of 4 to 9 digits standing alone).
CODE = re.compile(r"(?<![0-9])([0-9]{4,9})(?![0-9])")


Listing = Callable[[Path], list[str]]


def recipient_files(
    mail_dir: Path, address: str, listing: Listing = os.listdir
) -> list[str]:
    """ADDRESS's mail in MAIL_DIR, oldest first (the names start with the
    UTC time; files being written are hidden `.partial` ones)."""
    marker = f"-{address.lower()}-"
    return sorted(
        name
        for name in listing(mail_dir)
        if marker in name.lower() and name.endswith(".eml") and name[0] != "."
    )


class SharedListing:
    """os.listdir, at most once every `seconds` whoever asks: the waiters
    of a poll share one listing."""

    def __init__(self, seconds: float = POLL_SECONDS) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._at = -float("inf")
        self._names: list[str] = []

    def __call__(self, mail_dir: Path) -> list[str]:
        with self._lock:
            now = time.monotonic()
            if now - self._at >= self.seconds:
                self._names, self._at = os.listdir(mail_dir), now
            return self._names


def code_in(message: Message) -> str | None:
    """The code in a message's plain-text part."""
    for part in message.walk():
        if part.get_content_type() != "text/plain":
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        found = CODE.search(payload.decode(part.get_content_charset() or "utf-8"))
        if found:
            return found.group(1)
    return None


def take_code(
    mail_dir: Path,
    address: str,
    *,
    timeout: float = TIMEOUT_SECONDS,
    poll: float = POLL_SECONDS,
    listing: Listing = os.listdir,
) -> str | None:
    """Wait for ADDRESS's mail, return the code of the newest one and remove
    all of ADDRESS's files; None if none came within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if names := recipient_files(mail_dir, address, listing):
            try:
                raw = (mail_dir / names[-1]).read_bytes()
                break
            except FileNotFoundError:
                pass  # a shared listing a poll old: taken since
        if time.monotonic() > deadline:
            return None
        time.sleep(poll)
    message = email.message_from_bytes(raw)
    for name in names:
        (mail_dir / name).unlink(missing_ok=True)
    return code_in(message)


class MailDrop(ThreadingHTTPServer):
    """`GET /code?email=ADDRESS` → `{"code": ...}` (or 404 after `timeout`)."""

    daemon_threads = True
    request_queue_size = 128  # every waiting client (socketserver's is 5)

    def __init__(
        self, mail_dir: Path, port: int = 0, *, timeout: float = TIMEOUT_SECONDS
    ):
        super().__init__(("127.0.0.1", port), _Handler)
        self.mail_dir = Path(mail_dir)
        self.timeout_seconds = timeout
        self.listing = SharedListing()

    @property
    def code_url(self) -> str:
        """The client's CODE_URL template."""
        return f"http://127.0.0.1:{self.server_address[1]}/code?email={{email}}"

    def start(self) -> "MailDrop":
        """Serve from a daemon thread; `shutdown()` stops it."""
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


class _Handler(BaseHTTPRequestHandler):
    server: MailDrop

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802  (http.server's name)
        url = urlsplit(self.path)
        address = (parse_qs(url.query).get("email") or [""])[0]
        if url.path != "/code" or not address:
            self._answer(400, {"error": "GET /code?email=ADDRESS"})
            return
        code = take_code(
            self.server.mail_dir,
            address,
            timeout=self.server.timeout_seconds,
            listing=self.server.listing,
        )
        if code is None:
            self._answer(404, {"error": f"no code for {address}"})
        else:
            self._answer(200, {"code": code})

    def _answer(self, status: int, document: dict) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    MailDrop(Path(sys.argv[1]), int(sys.argv[2])).serve_forever()
