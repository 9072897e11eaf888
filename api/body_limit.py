"""Request bodies: a 413 that reaches the client every time, and a body left
unread that does not cost the client its connection.

Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE (MAX_BODY_BYTES) by
its Content-Length, without reading it, and DRF answers 413. If the server
then closed the connection, a client that writes its whole body before
reading the answer (http.client, requests, Node's fetch) would still be
sending: the kernel resets the connection and the client sees ECONNRESET
or EPIPE instead of the 413 (every 1 MB body in
tests/hardening/test_body_limit.py before this module).

This WSGI middleware, around Django's application:
- lets the application answer first (the server writes the 413 at once,
  with its CORS headers, to a client that reads early), then reads and
  discards the rest of an over-limit body, at most DRAIN_MAX_BYTES within
  DRAIN_SECONDS, so the connection ends cleanly or stays open for the next
  request;
- reads a chunked body (no Content-Length; Django would see it as empty) up
  to MAX_BODY_BYTES + 1 and hands it to Django with its length, so a chunked
  body is limited, and answered, like any other;
- reads the rest of a body within the limit that the application answered
  without reading (a 401 or 503 before the parser ran) before the answer
  goes out: Granian keeps a connection only if its request body was read.

Threat model: a client that declares or sends more than it may. The drain
reads at most DRAIN_MAX_BYTES and no more once DRAIN_SECONDS have passed; a
declared Content-Length over DRAIN_MAX_BYTES is not read at all, nor one
over the limit whose client waits for `100 Continue` (it gets the 413 in
its place and sends nothing); the server then closes, and a client still
sending may see a reset. Not defended here: the server has no timeout for
a read, so a client that stalls in the middle of its body holds a thread
until it leaves, as it can with any body; the proxy in front buffers
bodies, with a timeout, and refuses big ones first (docs/deploy.md).
"""

import contextlib
import io
import time
from collections.abc import Callable, Iterable
from typing import Any

DRAIN_MAX_BYTES = 10 * 1024 * 1024
DRAIN_SECONDS = 30.0
READ_SIZE = 64 * 1024


class BodyLimitMiddleware:
    def __init__(self, app: Callable, limit: int | None):
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable:
        stream = environ["wsgi.input"]
        length = _content_length(environ)
        limit = self.limit
        if limit is not None and length is None and _is_chunked(environ):
            head = _read(stream, limit + 1)
            # Django reads CONTENT_LENGTH bytes: give it the body, or the
            # first limit + 1 bytes and a length that makes it refuse them.
            environ["wsgi.input"] = io.BytesIO(head)
            environ["CONTENT_LENGTH"] = str(len(head))
            if len(head) <= limit:
                return self.app(environ, start_response)
            budget = DRAIN_MAX_BYTES - len(head)
        elif (
            limit is not None
            and length is not None
            and limit < length <= DRAIN_MAX_BYTES
        ):
            if environ.get("HTTP_EXPECT", "").lower() == "100-continue":
                # Refused before its body: the client sends none, and the
                # server closes the connection after the 413.
                return self.app(environ, start_response)
            budget = length
        else:
            result = self.app(environ, start_response)
            if length and length <= DRAIN_MAX_BYTES:
                # The rest of a body the application answered without reading
                # (a 401 or a 503 before the parser ran), read before the
                # answer goes out: Granian closes a kept-alive connection
                # whose body is still arriving, and the client's next request
                # on it would fail.
                _drain(stream, length)
            return result
        return _AnswerThenDrain(
            self.app(environ, start_response), lambda: _drain(stream, budget)
        )


class _AnswerThenDrain:
    """The application's response; once the server has taken its last part
    (it writes each part as it gets it), the rest of the request body is
    read and dropped."""

    def __init__(self, result: Iterable, drain: Callable[[], None]):
        self._result = result
        self._drain = drain

    def __iter__(self):
        yield from self._result
        self._drain()

    def close(self) -> None:
        close = getattr(self._result, "close", None)
        if close is not None:
            close()


def _drain(stream, budget: int) -> None:
    deadline = time.monotonic() + DRAIN_SECONDS
    # A reset, a malformed chunk: the server finds the body unfinished and
    # closes the connection after the answer.
    with contextlib.suppress(Exception):
        while budget > 0 and time.monotonic() < deadline:
            data = stream.read(min(READ_SIZE, budget))
            if not data:
                return
            budget -= len(data)


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
    chunked bodies; Granian and gunicorn flag it with wsgi.input_terminated)."""
    coding = environ.get("HTTP_TRANSFER_ENCODING", "")
    return bool(environ.get("wsgi.input_terminated")) and "chunked" in coding.lower()
