"""The process's environment stays out of a request's environ
(api/wsgi_environ.py), under the web server `./dev up` runs: Granian
copies it into every request's."""

import json
import os
import urllib.request

from bench.wsgi_floor import start, stop
from devstack.stack import web_argv
from devstack.util import free_ports


def test_the_process_environment_is_not_in_a_request():
    (port,) = free_ports(1)
    argv = web_argv("127.0.0.1", port, 1, 1, quiet=True)
    argv[1] = "tests.api.environ_app:application"
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://user:secret@db/x",
        "PROBE_SECRET": "s3cret",
        # A variable named like a header: out, unless the request sends one.
        "HTTP_X_FROM_ENV": "from the environment",
        "HTTP_X_SENT": "from the environment",
        # A variable named like a CGI key: the request's value wins.
        "REQUEST_METHOD": "DELETE",
        # One the server sets only for a request with a body: out of a GET.
        "CONTENT_LENGTH": "12",
        "CONTENT_TYPE": "application/json",
    }
    server = start(argv, port, env)
    try:
        request = urllib.request.Request(  # noqa: S310  (http to loopback)
            f"http://127.0.0.1:{port}/path?q=1", headers={"X-Sent": "by the client"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            seen = json.loads(answer.read())
    finally:
        stop(server)

    for name in (
        "DATABASE_URL",
        "PROBE_SECRET",
        "HTTP_X_FROM_ENV",
        "CONTENT_LENGTH",
        "CONTENT_TYPE",
        "PATH",
        "HOME",
    ):
        assert name not in seen
    assert seen["HTTP_X_SENT"] == "by the client"
    assert seen["REQUEST_METHOD"] == "GET"
    assert (seen["PATH_INFO"], seen["QUERY_STRING"]) == ("/path", "q=1")
    assert seen["REMOTE_ADDR"] == "127.0.0.1"
