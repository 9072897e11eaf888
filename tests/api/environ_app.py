"""A WSGI application that answers with the keys of the environ it got,
behind api.wsgi_environ, for tests/api/test_wsgi_environ.py to serve with
the real web server."""

import json

from api.wsgi_environ import ProcessEnvironmentStripped


def _keys(environ, start_response):
    body = json.dumps(
        {key: value for key, value in environ.items() if isinstance(value, str)}
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


application = ProcessEnvironmentStripped(_keys)
