"""Bodies over MAX_BODY_BYTES: the 413 reaches the client, every time.

Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE (MAX_BODY_BYTES) by
its Content-Length, without reading it, and DRF answers 413. gunicorn then
discards at most 64 KiB of the unread body and closes the connection. A
client that writes its whole body before reading the answer (http.client,
requests, Node's fetch) is still sending: the kernel resets the connection
and the client sees ECONNRESET or EPIPE instead of the 413 (every 1 MB body
in tests/hardening/test_body_limit.py before this module).

This WSGI middleware, around Django's application:
- lets the application answer first (the 413 goes out at once, with its CORS
  headers, to a client that reads early), then reads and discards the rest
  of an over-limit body, at most DRAIN_MAX_BYTES within DRAIN_SECONDS, so
  the connection ends cleanly (or stays open for the next request);
- reads a chunked body (no Content-Length; Django would see it as empty) up
  to MAX_BODY_BYTES + 1 and hands it to Django with its length, so a chunked
  body is limited, and answered, like any other.

Threat model: a client that declares or sends more than it may. The drain
reads at most DRAIN_MAX_BYTES, stops when DRAIN_SECONDS have passed or no
byte came for DRAIN_IDLE_SECONDS; a declared Content-Length over
DRAIN_MAX_BYTES is not read at all (gunicorn closes; a client still sending
may then see a reset). Not defended here: a client trickling a byte every
few seconds holds a thread for longer, as it can with a body under the
limit; the proxy in front buffers bodies and refuses big ones first
(docs/deploy.md).
"""

import io
import time
from collections.abc import Callable, Iterable
from typing import Any

DRAIN_MAX_BYTES = 10 * 1024 * 1024
DRAIN_SECONDS = 30.0
DRAIN_IDLE_SECONDS = 5.0
READ_SIZE = 64 * 1024


class BodyLimitMiddleware:
    def __init__(self, app: Callable, limit: int | None):
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable:
        if self.limit is None:
            return self.app(environ, start_response)
        stream = environ["wsgi.input"]
        length = _content_length(environ)
        if length is None and _is_chunked(environ):
            head = _read(stream, self.limit + 1)
            # Django reads CONTENT_LENGTH bytes: give it the body, or the
            # first limit + 1 bytes and a length that makes it refuse them.
            environ["wsgi.input"] = io.BytesIO(head)
            environ["CONTENT_LENGTH"] = str(len(head))
            if len(head) <= self.limit:
                return self.app(environ, start_response)
            budget = DRAIN_MAX_BYTES - len(head)
        elif length is not None and self.limit < length <= DRAIN_MAX_BYTES:
            budget = length
        else:
            return self.app(environ, start_response)
        result = self.app(environ, start_response)
        return _DrainOnClose(result, lambda: _drain(environ, stream, budget))


class _DrainOnClose:
    """The application's response; once it is sent (gunicorn calls close()
    after writing it), the rest of the request body is read and dropped."""

    def __init__(self, result: Iterable, drain: Callable[[], None]):
        self._result = result
        self._drain = drain

    def __iter__(self):
        return iter(self._result)

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            self._drain()


def _drain(environ: dict[str, Any], stream, budget: int) -> None:
    # gunicorn's socket bounds each wait for data; with another server only
    # the byte budget holds.
    sock = environ.get("gunicorn.socket")
    previous = sock.gettimeout() if sock is not None else None
    deadline = time.monotonic() + DRAIN_SECONDS
    try:
        while budget > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if sock is not None:
                sock.settimeout(min(remaining, DRAIN_IDLE_SECONDS))
            data = stream.read(min(READ_SIZE, budget))
            if not data:
                return
            budget -= len(data)
    except Exception:  # noqa: BLE001
        # A timeout, a reset, a malformed chunk (gunicorn's parse errors are
        # no OSError): the answer is already sent; gunicorn finds the body
        # unfinished or failed and closes the connection.
        return
    finally:
        if sock is not None:
            try:
                sock.settimeout(previous)
            except OSError:
                pass


def _read(stream, size: int) -> bytes:
    parts, got = [], 0
    while got < size:
        data = stream.read(min(READ_SIZE, size - got))
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def _content_length(environ: dict[str, Any]) -> int | None:
    try:
        return int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def _is_chunked(environ: dict[str, Any]) -> bool:
    """A chunked body the server lets us read to its end (PEP 3333 has no
    chunked bodies; gunicorn flags it with wsgi.input_terminated)."""
    coding = environ.get("HTTP_TRANSFER_ENCODING", "")
    return bool(environ.get("wsgi.input_terminated")) and "chunked" in coding.lower()
