"""Per-family CORS, as Medusa's storeCors / authCors: an origin allowed for
/auth/* is not thereby allowed for /store/*. django-cors-headers asks this
signal whether a request's origin may pass; the middleware answers a
preflight as Medusa's `cors` package does (204, the requested headers
echoed)."""

import functools
import re

from corsheaders.middleware import CorsMiddleware
from corsheaders.signals import check_request_enabled
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_vary_headers

# Medusa's buildRegexpIfValid: "/pattern/flags" (or ~ @ ; % # ' as the
# delimiter) is a regular expression, anything else an exact origin.
_REGEX_ENTRY = re.compile(r"^([/~@;%#'])(.*?)\1([gimsuy]*)$")
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}


@functools.lru_cache(maxsize=16)
def cors_origins(entries: tuple[str, ...]) -> tuple[str | re.Pattern, ...]:
    return tuple(_cors_origin(entry) for entry in entries)


def _cors_origin(entry: str) -> str | re.Pattern:
    match = _REGEX_ENTRY.match(entry)
    if match is None or len(set(match[3])) != len(match[3]):
        return entry  # as Medusa: what is no valid pattern is a plain origin
    flags = 0
    for flag in match[3]:
        flags |= _FLAGS.get(flag, 0)
    try:
        return re.compile(match[2], flags)
    except re.error:
        return entry


def origin_allowed(origin: str, entries: list[str]) -> bool:
    # `cors` tests a RegExp anywhere in the origin (RegExp#test), a string exactly.
    return any(
        allowed.search(origin) if isinstance(allowed, re.Pattern) else allowed == origin
        for allowed in cors_origins(tuple(entries))
    )


def _origin_allowed(sender, request, **kwargs) -> bool:
    origin = request.headers.get("origin", "")
    if request.path.startswith("/store/"):
        return origin_allowed(origin, settings.STORE_CORS)
    if request.path.startswith("/auth/"):
        return origin_allowed(origin, settings.AUTH_CORS)
    return False


check_request_enabled.connect(_origin_allowed)


class MedusaCorsMiddleware(CorsMiddleware):
    def check_preflight(self, request: HttpRequest) -> HttpResponseBase | None:
        response = super().check_preflight(request)
        if response is not None:
            response.status_code = 204  # Medusa's; django-cors-headers says 200
        return response

    def add_response_headers(self, request, response):
        response = super().add_response_headers(request, response)
        requested = request.headers.get("access-control-request-headers")
        if (
            request.method == "OPTIONS"
            and "access-control-allow-origin" in response
            and requested
        ):
            # Any header the storefront adds (the SDK's globalHeaders) passes.
            response["access-control-allow-headers"] = requested
            patch_vary_headers(response, ("access-control-request-headers",))
        return response
