"""A request's WSGI environ without the server process's own environment.

Granian builds each request's environ on a copy of the process's
environment (granian/wsgi.py: `dict(os.environ)`, the request's keys laid
over it), so DATABASE_URL, SECRET_KEY and every other variable would reach
`request.META`, which error reports and any code that lists headers show.
This middleware, outermost around the application (config/wsgi.py), takes
out every key whose value is the process's: the request's own keys stay,
being set by the server from the request (its CGI names, over any variable
of the same name) or, for a header, having a value of their own.
"""

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

# What the server sets for every request, over a process variable of the
# same name, so an equal value is the request's. Not CONTENT_TYPE or
# CONTENT_LENGTH: set only when the request has them, a process variable
# of that name would otherwise stand in for a missing header.
CGI_KEYS = frozenset(
    {
        "GATEWAY_INTERFACE",
        "PATH_INFO",
        "QUERY_STRING",
        "REMOTE_ADDR",
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "SERVER_SOFTWARE",
    }
)


class ProcessEnvironmentStripped:
    def __init__(self, app: Callable, process: Mapping[str, str] = os.environ):
        self.app = app
        self.process = tuple(
            (key, value) for key, value in process.items() if key not in CGI_KEYS
        )

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable:
        for key, value in self.process:
            if environ.get(key) == value:
                del environ[key]
        return self.app(environ, start_response)
