"""The GitHub stand-in that ./dev test starts (devstack/github.py), driven
as a browser would be, without one.

`GithubProvider.authorize(location, user_id=…, email=…)` follows the
authorization URL our start route answered, signs the given GitHub account
in at the stand-in's sign-in page and follows the redirect back to the
storefront: the callback page's query (`code`, `state`, or GitHub's
`error`) comes back, for the test to hand to our callback route as the
storefront would.
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from tests.stack import require_variables


def new_user_id() -> int:
    """A GitHub user id (a number) no other test uses."""
    return random.randint(10**9, 10**12)  # noqa: S311 - not a secret


@dataclass
class GithubProvider:
    url: str
    provider: str
    callback_url: str

    def authorize(
        self,
        location: str,
        *,
        user_id: int | None = None,
        email: str | None = None,
        verified: bool = True,
        emails: list[dict[str, Any]] | None = None,
        **account: Any,
    ) -> dict[str, str]:
        """Sign `user_id` in at GitHub and authorize the app; the query the
        storefront's callback page receives. `emails` is what GET
        /user/emails lists (by default `email` alone, primary, `verified`
        or not); `account` goes as is (`login`, `name`, `public_email`,
        `fail`, `deny`)."""
        assert location.startswith(self.url + "/"), location
        if emails is None:
            emails = [] if email is None else [address(email, verified=verified)]
        browser = requests.Session()
        page = browser.get(location, allow_redirects=False, timeout=30)
        assert page.status_code == 200, (page.status_code, page.text)
        action = re.search(r'<form method="post" action="([^"]*)"', page.text)[1]
        response = browser.post(
            urljoin(location, action),
            json={"id": user_id or new_user_id(), "emails": emails, **account},
            allow_redirects=False,
            timeout=30,
        )
        assert response.status_code == 302, (response.status_code, response.text)
        target = response.headers["location"]
        assert not target.startswith(self.url + "/"), target
        query = parse_qs(urlsplit(target).query)
        return {
            "_page": target.split("?")[0],
            **{key: values[-1] for key, values in query.items()},
        }


def address(email: str, *, verified: bool = True, primary: bool = True) -> dict:
    """One entry of GET /user/emails."""
    return {
        "email": email,
        "primary": primary,
        "verified": verified,
        "visibility": "private",
    }


def github_from_env(*, wrong_secret: bool = False) -> GithubProvider:
    names = (
        "GITHUB_URL",
        "GITHUB_WRONG_SECRET_PROVIDER" if wrong_secret else "GITHUB_PROVIDER",
        "GITHUB_CALLBACK_URL",
    )
    require_variables(*names)
    url, name, callback_url = (os.environ[name] for name in names)
    return GithubProvider(url, name, callback_url)
