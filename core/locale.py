"""The customer's language for mail (docs/account.md, "Mail in the
customer's language").

A request's language is `x-medusa-locale` (the JS SDK sends it), else the
first supported entry of `Accept-Language`, each matched against
settings.LANGUAGES (`zh-CN` -> `zh-hans`, `en-GB` -> `en`). api's middleware
sets it for the request (`request_language`); the services that queue a
mail or remember it on a customer read it, so no signature between the view
and the mail task has to carry it. The worker has no request: it is None
there, and a mail uses the customer's stored language, else the default.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

LOCALE_HEADER = "x-medusa-locale"

_request_language: ContextVar[str | None] = ContextVar("request_language", default=None)


def supported_language(code: str | None) -> str | None:
    """`code` as one of settings.LANGUAGES, or None."""
    if not code or len(code) > 35:
        return None
    try:
        return translation.get_supported_language_variant(code.strip().lower())
    except LookupError:
        return None


def language_from_headers(headers: Mapping[str, str]) -> str | None:
    """The supported language a request asks for, or None if it asks none."""
    language = supported_language(headers.get(LOCALE_HEADER))
    if language is not None:
        return language
    for code, _quality in parse_accept_lang_header(
        headers.get("Accept-Language", "")[:500]
    ):
        language = supported_language(code) if code != "*" else None
        if language is not None:
            return language
    return None


def request_language() -> str | None:
    """The language of the request being served, None outside one."""
    return _request_language.get()


@contextmanager
def request_language_set(language: str | None) -> Iterator[None]:
    token = _request_language.set(language)
    try:
        yield
    finally:
        _request_language.reset(token)


def mail_language(*choices: str | None) -> str:
    """The first supported of `choices`, else the default language."""
    for choice in choices:
        language = supported_language(choice)
        if language is not None:
            return language
    return settings.MAIL_LANGUAGE_DEFAULT
