"""The mail drop of the peer comparison (bench/peer_compare.py): a small
HTTP server on 127.0.0.1 that hands the code client its sign-in codes.

Our mail goes through the outbox's drain (otp/mail.py), and
core.mail.FileBackend writes one file per message,
`<UTC time>-<recipient>-<random>.eml`, some time after the code request
has been answered. The code client (bench/peers/bench-code-login.py) reads
a code from `CODE_URL`; this server answers `GET /code?email=ADDRESS` with
`{"code": "..."}` from ADDRESS's newest mail as soon as it is there (up to a
timeout; 404 then), and removes that recipient's files. In the client's
flow mode the wait for the mail is then part of a complete login, as it is
for a customer.

The drop shares the 2 cores with the servers it measures, so it must cost
next to nothing while clients wait: the kernel tells it of each mail
(inotify: FileBackend renames a whole file into place), and a waiting
client sleeps until its own mail comes. (It polled the directory every
3 ms before: about 1.3 ms of CPU per complete login, 7 % of the
machine's, and half a poll of wait; docs/performance.md.) The listen
backlog holds every waiting client: with 32 of them a socketserver's
default of 5 overflowed, and a refused connect cost its login a second
(TCP's SYN retry).

    python -m bench.maildrop MAIL_DIR PORT
"""

import email
import json
import os
import re
import sys
import threading
import time
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from inotify_simple import INotify, flags

from core.mail import file_mail_who

TIMEOUT_SECONDS = 30.0
# templates/otp/email/body.txt: "Your sign-in code is 123456" (any language:
# the first run of 4 to 9 digits standing alone).
CODE = re.compile(r"(?<![0-9])([0-9]{4,9})(?![0-9])")


def recipient_of(name: str) -> str | None:
    """The recipient part of a FileBackend file name (lower case), or None
    for any other file (a `.partial` one being written)."""
    if name.startswith(".") or not name.endswith(".eml") or name.count("-") < 3:
        return None
    return name.split("-", 2)[2].rsplit("-", 1)[0].lower()


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


class MailWatch:
    """The mail in MAIL_DIR by recipient, kept up to date by one thread
    reading inotify's events; a taker waits on its recipient's event."""

    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = Path(mail_dir)
        self._inotify = INotify()
        # Watched before listing: a mail written in between is seen twice,
        # which take_code tolerates (a name already taken is skipped).
        # MOVED_TO: FileBackend renames each whole mail into place.
        self._inotify.add_watch(self.mail_dir, flags.MOVED_TO)
        self._lock = threading.Lock()
        self._mail: dict[str, set[str]] = {}
        self._waiting: dict[str, threading.Event] = {}
        self._arrived(os.listdir(self.mail_dir))
        self._closed = False
        threading.Thread(target=self._watch, daemon=True).start()

    def _arrived(self, names: list[str]) -> None:
        with self._lock:
            for name in names:
                if (who := recipient_of(name)) is not None:
                    self._mail.setdefault(who, set()).add(name)
                    if (event := self._waiting.get(who)) is not None:
                        event.set()

    def _watch(self) -> None:
        while not self._closed:
            events = self._inotify.read(timeout=500)
            if any(event.mask & flags.Q_OVERFLOW for event in events):
                # The kernel's queue overflowed: events were lost.
                self._arrived(os.listdir(self.mail_dir))
            self._arrived([event.name for event in events if event.name])
        self._inotify.close()

    def close(self) -> None:
        self._closed = True

    def take_code(self, address: str, timeout: float = TIMEOUT_SECONDS) -> str | None:
        """Wait for ADDRESS's mail, return the code of the newest one and
        remove all of ADDRESS's files; None if none came within `timeout`
        seconds."""
        who = file_mail_who(address).lower()
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                names = self._mail.pop(who, None)
                if names is None:
                    event = self._waiting.setdefault(who, threading.Event())
                    event.clear()
                else:
                    self._waiting.pop(who, None)
            if names is not None and (raw := self._newest(names)) is not None:
                break
            left = deadline - time.monotonic()
            if left <= 0 or (names is None and not event.wait(left)):
                with self._lock:
                    self._waiting.pop(who, None)
                    if who not in self._mail:
                        return None
        for name in names:
            (self.mail_dir / name).unlink(missing_ok=True)
        return code_in(email.message_from_bytes(raw))

    def _newest(self, names: set[str]) -> bytes | None:
        """The newest of a recipient's mails still there (names start with
        the time; one seen twice may have been taken already)."""
        for name in sorted(names, reverse=True):
            try:
                return (self.mail_dir / name).read_bytes()
            except FileNotFoundError:
                continue
        return None


class MailDrop(ThreadingHTTPServer):
    """`GET /code?email=ADDRESS` → `{"code": ...}` (or 404 after `timeout`)."""

    daemon_threads = True
    request_queue_size = 128  # every waiting client (socketserver's is 5)

    def __init__(
        self, mail_dir: Path, port: int = 0, *, timeout: float = TIMEOUT_SECONDS
    ):
        super().__init__(("127.0.0.1", port), _Handler)
        self.watch = MailWatch(mail_dir)
        self.timeout_seconds = timeout

    @property
    def code_url(self) -> str:
        """The client's CODE_URL template."""
        return f"http://127.0.0.1:{self.server_address[1]}/code?email={{email}}"

    def start(self) -> "MailDrop":
        """Serve from a daemon thread; `stop()` ends it."""
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.watch.close()


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
        code = self.server.watch.take_code(address, timeout=self.server.timeout_seconds)
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
