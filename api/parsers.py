"""Request body parsers that refuse what PostgreSQL or a hasher would choke on.

JSON allows "\\u0000" and lone surrogates; PostgreSQL text and jsonb reject
NUL and UTF-8 cannot encode a lone surrogate; numbers must be finite.
Refusing them here, once, turns what would be a 500 deep in a service into
a 400 at the door.
"""

import math
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser

UNSAFE_TEXT_MESSAGE = "Invalid request: text contains characters that are not allowed"
TOO_DEEP_MESSAGE = "Invalid request: the body is nested too deeply"


def text_is_safe(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def data_is_safe(value: Any, depth: int = 0) -> bool:
    if depth > 32:
        return False
    if isinstance(value, str):
        return text_is_safe(value)
    if isinstance(value, float):
        # 1e999, NaN and Infinity parse in Python but jsonb refuses them.
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(
            text_is_safe(key) and data_is_safe(item, depth + 1)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return all(data_is_safe(item, depth + 1) for item in value)
    return True


class StrictJSONParser(JSONParser):
    """JSON objects or arrays only (as Express's body-parser), safe text only."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            # Thousands of nested [ or { fit in MAX_BODY_BYTES and exhaust
            # the decoder's recursion limit (it raises no ValueError).
            raise ParseError(TOO_DEEP_MESSAGE) from None
        if not isinstance(data, dict | list):
            raise ParseError("Invalid request: the body must be a JSON object")
        if not data_is_safe(data):
            raise ParseError(UNSAFE_TEXT_MESSAGE)
        return data


class StrictFormParser(FormParser):
    """Medusa accepts url-encoded bodies on the register and login routes."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if not all(text_is_safe(k) and text_is_safe(v) for k, v in data.items()):
            raise ParseError(UNSAFE_TEXT_MESSAGE)
        return data
