"""A body over MAX_BODY_BYTES gets its 413, every time, from the real server.

Clients such as Python's http.client, requests or Node's fetch write the whole
body before they read the answer. If the server answers and closes while body
bytes are still arriving, the kernel resets the connection and the client
sees ECONNRESET or EPIPE instead of the 413. These tests send over-limit
bodies the way such a client does (raw sockets, the body in pieces, then
read), with Content-Length and chunked, with and without
`Expect: 100-continue`, and count the answers.

    ./dev test tests/hardening/test_body_limit.py
    BODY_LIMIT_ROUNDS=200 ./dev test tests/hardening/test_body_limit.py  # long run
"""

import http.client
import json
import os
import socket
import time
import uuid
from collections import Counter
from urllib.parse import urlsplit

import pytest

from api.body_limit import DRAIN_MAX_BYTES

pytestmark = pytest.mark.live

PATH = "/auth/customer/emailpass"
LIMIT = 64 * 1024  # MAX_BODY_BYTES of the ./dev test stack (the default)
TOO_LARGE = {"type": "invalid_data", "message": "Request body is too large"}
WRONG_PASSWORD = {"type": "unauthorized", "message": "Invalid email or password"}
SIZES = (100 * 1024, 1024 * 1024, 5 * 1024 * 1024)
ROUNDS = int(os.environ.get("BODY_LIMIT_ROUNDS", "16"))  # per size
PIECE = 64 * 1024


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port


def _json_body(size: int) -> bytes:
    """A JSON object of exactly `size` bytes."""
    frame = b'{"email":"a@example.com","password":""}'
    pad = size - len(frame)
    return frame[:-2] + b"a" * pad + frame[-2:]


def _head(host: str, port: int, headers: dict[str, str]) -> bytes:
    lines = [f"POST {PATH} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_interim(sock: socket.socket) -> bytes:
    """Reads up to the end of a header block (the 100 Continue)."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(1)
        if not piece:
            break
        data += piece
    return data


def _peek(sock: socket.socket, size: int) -> bytes:
    """The first `size` bytes the server sent within 10 s, left for the
    next read."""
    deadline = time.monotonic() + 10
    data = b""
    while len(data) < size and time.monotonic() < deadline:
        data = sock.recv(size, socket.MSG_PEEK)
        if not data:
            break
        if len(data) < size:
            time.sleep(0.001)
    return data


def _read_answer(sock: socket.socket) -> tuple[int, bytes]:
    response = http.client.HTTPResponse(sock)
    response.begin()  # skips a 100 Continue the client did not wait for
    return response.status, response.read()


def post(
    url: str,
    body: bytes,
    *,
    chunked: bool = False,
    expect: bool = False,
    pause: float = 0.001,
    then_small: bool = False,
) -> str:
    """Sends `body` as a client that reads only after writing everything.

    Returns "413", another status, or the error that replaced the answer:
    "reset while sending", "reset while reading". With then_small, a second
    (small) request on the same connection must be answered too.
    """
    host, port = _address(url)
    headers = {"Content-Type": "application/json"}
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
    else:
        headers["Content-Length"] = str(len(body))
    if expect:
        headers["Expect"] = "100-continue"
    with socket.create_connection((host, port), timeout=30) as sock:
        stage = "sending"
        try:
            sock.sendall(_head(host, port, headers))
            if expect:
                status_line = _peek(sock, 12)
                if status_line == b"HTTP/1.1 100":
                    _read_interim(sock)
                elif status_line == b"HTTP/1.1 413" and not chunked:
                    # Refused by its declared length before the body, as
                    # RFC 9110 (10.1.1) allows: the client sends none.
                    body = b""
                else:
                    return f"no 100 Continue: {status_line!r}"
            for start in range(0, len(body), PIECE):
                piece = body[start : start + PIECE]
                if chunked:
                    piece = b"%x\r\n%s\r\n" % (len(piece), piece)
                sock.sendall(piece)
                time.sleep(pause)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
            stage = "reading"
            status, answer = _read_answer(sock)
            if status != 413:
                return str(status)
            if json.loads(answer) != TOO_LARGE:
                return f"413 with {answer[:80]!r}"
            if then_small:
                stage = "sending the next request"
                # A new email each time: the per-email login limit counts.
                small = json.dumps(
                    {"email": f"{uuid.uuid4().hex}@example.com", "password": "wrong"}
                ).encode()
                sock.sendall(
                    _head(host, port, {"Content-Type": "application/json"})[:-2]
                    + b"Content-Length: %d\r\n\r\n%s" % (len(small), small)
                )
                stage = "reading the next answer"
                status, answer = _read_answer(sock)
                if (status, json.loads(answer)) != (401, WRONG_PASSWORD):
                    return f"413, then {status} for the next request"
        except (OSError, http.client.HTTPException) as error:
            return f"{type(error).__name__} while {stage}"
    return "413"


def _failures(outcomes: list[tuple[int, str]]) -> Counter:
    """(size in KiB, outcome) of every answer that was not the 413."""
    return Counter(
        (size // 1024, outcome) for size, outcome in outcomes if outcome != "413"
    )


def test_over_limit_bodies_with_content_length_get_413(live_server_url):
    outcomes = [
        (size, post(live_server_url, _json_body(size), then_small=n % 4 == 0))
        for n in range(ROUNDS)
        for size in SIZES
    ]

    assert _failures(outcomes) == {}


def test_over_limit_chunked_bodies_get_413(live_server_url):
    outcomes = [
        (
            size,
            post(
                live_server_url, _json_body(size), chunked=True, then_small=n % 4 == 0
            ),
        )
        for n in range(ROUNDS // 2)
        for size in SIZES
    ]

    assert _failures(outcomes) == {}


def test_expect_100_continue_gets_413(live_server_url):
    outcomes = [
        (size, post(live_server_url, _json_body(size), chunked=chunked, expect=True))
        for size in SIZES
        for chunked in (False, True)
        for _ in range(max(ROUNDS // 8, 1))
    ]

    assert _failures(outcomes) == {}


def test_413_comes_before_the_body(live_server_url):
    """A client that waits for an early answer (curl does) gets it at once,
    even for a body the server will not read to the end."""
    host, port = _address(live_server_url)
    for size in (LIMIT + 1, DRAIN_MAX_BYTES + 1, 1 << 40):
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(
                _head(
                    host,
                    port,
                    {"Content-Type": "application/json", "Content-Length": str(size)},
                )
            )
            started = time.monotonic()
            status, answer = _read_answer(sock)

            assert (status, json.loads(answer)) == (413, TOO_LARGE)
            assert time.monotonic() - started < 5


def test_chunked_bodies_under_the_limit_are_read(live_server_url):
    """A chunked body within the limit reaches the view as a Content-Length
    one does (an unread body would be "Password should be a string")."""
    host, port = _address(live_server_url)
    connection = http.client.HTTPConnection(host, port, timeout=10)
    body = json.dumps({"email": "nobody@example.com", "password": "wrong"}).encode()

    connection.request(
        "POST",
        PATH,
        body=iter([body[:10], body[10:]]),
        headers={"Content-Type": "application/json"},
        encode_chunked=True,
    )
    response = connection.getresponse()

    assert response.status == 401
    assert json.loads(response.read()) == WRONG_PASSWORD


def test_a_body_answered_unread_keeps_the_connection(live):
    """A request refused before its body was read (here a 401 for a bad
    token: the parser never runs), its body arriving after the answer was
    made: the connection stays usable for the client's next request."""
    host, port = _address(live.url)
    body = json.dumps({"first_name": "A"}).encode()
    with socket.create_connection((host, port), timeout=10) as sock:
        for _ in range(3):
            head = (
                f"POST /store/customers/me HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"x-publishable-api-key: {live.publishable_key}\r\n"
                "Authorization: Bearer not-a-token\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            sock.sendall(head.encode())
            time.sleep(0.05)  # the body after the headers, as urllib3 sends it
            sock.sendall(body)
            status, answer = _read_answer(sock)

            assert status == 401, answer
