"""The real OpenID Connect provider that ./dev test starts (devstack/oidc.py,
tests/e2e/oidc/server.mjs), driven as a browser would be, without one.

`OidcProvider.authorize(location, sub=…, email=…)` follows the
authorization URL our start route answered, logs the given account in at
the provider's interaction (tests/e2e/oidc/server.mjs: POST
/interaction/<uid>/login) and follows the redirects until the provider
sends the browser back to the storefront: the callback page's query
(`code`, `state`, `iss`) comes back, for the test to hand to our callback
route as the storefront would.
"""

from __future__ import annotations

import html
import os
import re
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from tests.stack import require_variables

VARIABLES = (
    "OIDC_URL",
    "OIDC_PROVIDER",
    "OIDC_CALLBACK_URL",
    "OIDC_OTHER_CALLBACK_URL",
)


@dataclass
class OidcProvider:
    url: str
    provider: str
    callback_url: str
    other_callback_url: str

    def authorize(
        self,
        location: str,
        *,
        sub: str | None = None,
        email: str,
        email_verified: bool | str = True,
        **profile: str,
    ) -> dict[str, str]:
        """Log `sub` in at the provider; the query the storefront's
        callback page receives."""
        assert location.startswith(self.url + "/"), location
        browser = requests.Session()
        response = browser.get(location, allow_redirects=False, timeout=30)
        for _ in range(10):
            if response.status_code == 200 and "<form" in response.text:
                return form_posted(response.text)
            assert response.status_code in (302, 303), (
                response.status_code,
                response.text,
            )
            target = urljoin(response.url, response.headers["location"])
            if not target.startswith(self.url + "/"):
                query = parse_qs(urlsplit(target).query)
                return {
                    "_page": target.split("?")[0],
                    **{key: values[-1] for key, values in query.items()},
                }
            if urlsplit(target).path.startswith("/interaction/"):
                response = browser.post(
                    target + "/login",
                    json={
                        "sub": sub or uuid.uuid4().hex,
                        "email": email,
                        "email_verified": email_verified,
                        **profile,
                    },
                    allow_redirects=False,
                    timeout=30,
                )
            else:
                response = browser.get(target, allow_redirects=False, timeout=30)
        raise AssertionError("the provider never sent the browser back")


def oidc_provider_from_env() -> OidcProvider:
    require_variables(*VARIABLES)
    return OidcProvider(*(os.environ[name] for name in VARIABLES))


def generic_provider_from_env() -> OidcProvider:
    """The same provider as `acme-id`: configured by its issuer URL alone
    (devstack/oidc.py), with a client and callback page of its own."""
    names = ("OIDC_URL", "OIDC_GENERIC_PROVIDER", "OIDC_GENERIC_CALLBACK_URL")
    require_variables(*names)
    url, name, callback_url = (os.environ[name] for name in names)
    return OidcProvider(url, name, callback_url, callback_url)


def apple_provider_from_env() -> OidcProvider:
    """The same provider as `apple` (the preset, its issuer replaced):
    form_post, our ES256 client secret verified, Apple's `user` field."""
    names = ("OIDC_URL", "OIDC_APPLE_PROVIDER", "OIDC_APPLE_CALLBACK_URL")
    require_variables(*names)
    url, name, callback_url = (os.environ[name] for name in names)
    return OidcProvider(url, name, callback_url, callback_url)


def form_posted(page: str) -> dict[str, str]:
    """What a `form_post` response page would POST to the callback page:
    its action (`_page`) and hidden inputs, marked `_mode: form_post`."""
    action = html.unescape(re.search(r'<form method="post" action="([^"]*)"', page)[1])
    inputs = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]*)" value="([^"]*)"/>', page
        )
    }
    return {"_page": action, "_mode": "form_post", **inputs}
