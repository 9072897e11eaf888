"""Plain Django views outside DRF: the same method handling as the API."""

import re
from collections.abc import Callable
from functools import wraps
from typing import Concatenate, ParamSpec

from django.http import HttpRequest, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from core.errors import MethodNotAllowed, error_response

_P = ParamSpec("_P")
View = Callable[Concatenate[HttpRequest, _P], HttpResponseBase]

READ_METHODS = ("GET", "HEAD")

# Where config/urls.py mounts the storefront's API (Medusa's routes).
STOREFRONT_PATHS = ("/store/", "/auth/")


def is_storefront(request: HttpRequest) -> bool:
    return request.path_info.startswith(STOREFRONT_PATHS)


def read_only(view: View[_P]) -> View[_P]:
    """GET and HEAD only; any other method is 405 `not_allowed` with
    `Allow`, as DRF views answer. CSRF-exempt: these views change nothing,
    and the CSRF middleware's 403 page would otherwise come before the 405."""

    @csrf_exempt
    @wraps(view)
    def wrapper(
        request: HttpRequest, /, *args: _P.args, **kwargs: _P.kwargs
    ) -> HttpResponseBase:
        if request.method not in READ_METHODS:
            response = error_response(
                MethodNotAllowed(f'Method "{request.method}" not allowed.')
            )
            response["Allow"] = ", ".join(READ_METHODS)
            return response
        return view(request, *args, **kwargs)

    return wrapper


_BEARER = re.compile(r"^\s*(\S+)\s+(\S+)\s*$")


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    match = _BEARER.match(request.headers.get("Authorization", ""))
    if match is None or match.group(1).lower() != "bearer":
        return None
    return match.group(2)
