"""The publishable-key check of every /store/* request (medusa-contract §6).

It runs before authentication, as in Medusa: a missing key (400) wins over a
missing token (401)."""

import logging

from django.db import DatabaseError
from django.http import JsonResponse

from accounts import selectors
from config.api import UNAVAILABLE_MESSAGE

logger = logging.getLogger("accounts")

KEY_HEADER = "x-publishable-api-key"
KEY_MISSING = (
    "Publishable API key required in the request header: x-publishable-api-key. "
    "You can manage your keys in settings in the dashboard."
)
KEY_INVALID = "A valid publishable key is required to proceed with the request"


class PublishableKeyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/store/") and request.method != "OPTIONS":
            refusal = self._refusal(request.headers.get(KEY_HEADER, ""))
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def _refusal(self, key: str) -> JsonResponse | None:
        if not key:
            return JsonResponse(
                {"type": "not_allowed", "message": KEY_MISSING}, status=400
            )
        try:
            active = selectors.publishable_key_is_active(token=key)
        except DatabaseError:
            logger.error("Database error while checking a publishable key")
            return JsonResponse(
                {"type": "unavailable", "message": UNAVAILABLE_MESSAGE}, status=503
            )
        if not active:
            return JsonResponse(
                {"type": "not_allowed", "message": KEY_INVALID}, status=400
            )
        return None
