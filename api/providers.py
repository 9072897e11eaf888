"""Auth providers, in one table: a provider with a login view of its own is
routed to it by name, as is each social login provider of settings
(SOCIAL_PROVIDERS: its start and callback); every other name reaches the
password routes, which serve `emailpass` and answer Medusa's 401 "Unable to
retrieve the auth provider" for the rest. The URL converters keep them
apart, so the order of the routes in api/urls.py decides nothing."""

import re

from api.views.otp import OtpMedusaLoginApi
from social.providers import provider_names

# provider id -> its login view (POST /auth/customer/{provider}).
OWN_LOGIN_VIEWS = {
    "email-otp": OtpMedusaLoginApi,
}


SOCIAL_PROVIDERS = tuple(provider_names())


def _one_of(names: tuple[str, ...]) -> str:
    return "(?:" + "|".join(re.escape(name) for name in names) + ")"


class PasswordProviderConverter:
    """Any provider name but those with a login view of their own."""

    regex = "(?!" + _one_of((*OWN_LOGIN_VIEWS, *SOCIAL_PROVIDERS)) + r"(?:/|$))[^/]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
