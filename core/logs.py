"""Log records without the secrets a URL can carry.

Django's `django.request` logger adds the request to every 4xx and 5xx
record, and its repr is the full path with the query string: a provider's
authorization code and state on the social login callback
(docs/social-login.md), an admin search's email. The filter puts the method
and path alone in its place (the access log drops the query the same way,
devstack/stack.py)."""

import logging

from django.http import HttpRequest


class RequestWithoutQuery(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if isinstance(request, HttpRequest):
            record.request = (
                f"<{type(request).__name__}: {request.method} {request.path}>"
            )
        return True
