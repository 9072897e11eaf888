"""Auth providers, in one table: a provider with a login view of its own is
routed to it by name; every other name reaches the password routes, which
serve `emailpass` and answer Medusa's 401 "Unable to retrieve the auth
provider" for the rest. The URL converter keeps the two apart, so the order
of the routes in api/urls.py decides nothing."""

import re

from api.views.otp import OtpMedusaLoginApi

# provider id -> its login view (POST /auth/customer/{provider}).
OWN_LOGIN_VIEWS = {
    "email-otp": OtpMedusaLoginApi,
}


class PasswordProviderConverter:
    """Any provider name but those with a login view of their own."""

    regex = (
        "(?!(?:"
        + "|".join(re.escape(name) for name in OWN_LOGIN_VIEWS)
        + r")(?:/|$))[^/]+"
    )

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
