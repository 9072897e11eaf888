"""The real OpenID Connect provider of `./dev test` (tests/e2e/oidc: panva's
oidc-provider, configured like Google), for the social login tests.

One child process, `python -m devstack.oidc`, installs the npm project when
its node_modules is stale, then becomes `node server.mjs` on a free port of
127.0.0.1 (a fresh signing key and client secret each run). Our servers get
the `google` provider pointed at it (SOCIAL_* below, over the caller's
values: no test may reach the real Google), pytest gets OIDC_* to drive it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from devstack.medusa import passed  # the same few variables as Medusa's
from devstack.npm import npm_install
from devstack.util import log

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "tests/e2e/oidc"
PROVIDER = "google"
CLIENT_ID = "storefront-test.apps.example"
# The storefront pages the provider sends the browser back to: the default
# one, and another a request may name in `callback_url` (both allowed).
CALLBACK_URL = "http://localhost:3000/auth/customer/google/callback"
OTHER_CALLBACK_URL = "http://localhost:3000/account/google-return"
# The same issuer as a provider by issuer URL alone (no preset), with a
# client of its own: any OpenID Connect provider.
GENERIC_PROVIDER = "acme-id"
GENERIC_CLIENT_ID = "storefront-acme"
GENERIC_CALLBACK_URL = "http://localhost:3000/auth/customer/acme-id/callback"
# The same issuer as Sign in with Apple (the `apple` preset, its issuer
# replaced): form_post, and a client secret that is our ES256 JWT, which the
# provider verifies against the public half of the key it was given (as
# Apple does with the key registered under the team), with a Services ID,
# a team id and a key id of their own. `apple-wrong-key` is the same client
# signing with a key the provider never got; `apple-late` a client whose
# provider clock runs ten minutes ahead, so our five-minute secret arrives
# expired.
APPLE_PROVIDER = "apple"
APPLE_CLIENT_ID = "shop.example.storefront"
APPLE_LATE_CLIENT_ID = "shop.example.storefront-late"
APPLE_TEAM_ID = "TEAM4TESTS"
APPLE_KEY_ID = "KEY4TESTS1"
APPLE_CALLBACK_URL = "http://localhost:3000/auth/customer/apple/callback"
APPLE_WRONG_KEY_PROVIDER = "apple-wrong-key"
APPLE_LATE_PROVIDER = "apple-late"
HEALTH_TIMEOUT = 300  # a cold `npm ci` of its 40 packages


def _p256_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    """As Apple's .p8 file holds it (PKCS #8)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _public_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode()
    )


@dataclass
class OidcProvider:
    port: int
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    generic_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    # The shop's Apple key (registered at the provider) and one it never got.
    apple_key: ec.EllipticCurvePrivateKey = field(default_factory=_p256_key)
    wrong_key: ec.EllipticCurvePrivateKey = field(default_factory=_p256_key)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def env(self, app_env: Mapping[str, str]) -> dict[str, str]:
        """The child's environment: none of our settings."""
        env = {name: value for name, value in app_env.items() if passed(name)}
        clients = [
            {
                "client_id": CLIENT_ID,
                "client_secret": self.client_secret,
                "redirect_uris": [CALLBACK_URL, OTHER_CALLBACK_URL],
            },
            {
                "client_id": GENERIC_CLIENT_ID,
                "client_secret": self.generic_secret,
                "redirect_uris": [GENERIC_CALLBACK_URL],
            },
            *(
                {
                    "client_id": client_id,
                    "redirect_uris": [APPLE_CALLBACK_URL],
                    "apple": {
                        "team_id": APPLE_TEAM_ID,
                        "key_id": APPLE_KEY_ID,
                        "public_key": _public_pem(self.apple_key),
                        "clock_skew": skew,
                    },
                }
                for client_id, skew in (
                    (APPLE_CLIENT_ID, 0),
                    (APPLE_LATE_CLIENT_ID, 600),
                )
            ),
        ]
        env.update(OIDC_PORT=str(self.port), OIDC_CLIENTS=json.dumps(clients))
        return env

    def app_settings(self) -> dict[str, str]:
        """What our servers and pytest need to use it as `google`, and as
        `acme-id` (by issuer URL)."""
        apple: dict[str, str] = {}
        for name, client_id, key in (
            (APPLE_PROVIDER, APPLE_CLIENT_ID, self.apple_key),
            (APPLE_WRONG_KEY_PROVIDER, APPLE_CLIENT_ID, self.wrong_key),
            (APPLE_LATE_PROVIDER, APPLE_LATE_CLIENT_ID, self.apple_key),
        ):
            prefix = "SOCIAL_" + name.upper().replace("-", "_") + "_"
            apple.update(
                {
                    prefix + "ISSUER": self.url,
                    prefix + "CLIENT_ID": client_id,
                    prefix + "TEAM_ID": APPLE_TEAM_ID,
                    prefix + "KEY_ID": APPLE_KEY_ID,
                    prefix + "PRIVATE_KEY": _pem(key),
                    prefix + "CALLBACK_URL": APPLE_CALLBACK_URL,
                    # The `apple` preset's, for the two others.
                    prefix + "SCOPE": "openid name email",
                    prefix + "RESPONSE_MODE": "form_post",
                }
            )
        return {
            "SOCIAL_PROVIDERS": ",".join(
                (
                    PROVIDER,
                    GENERIC_PROVIDER,
                    APPLE_PROVIDER,
                    APPLE_WRONG_KEY_PROVIDER,
                    APPLE_LATE_PROVIDER,
                )
            ),
            **apple,
            "SOCIAL_ACME_ID_ISSUER": self.url,
            "SOCIAL_ACME_ID_CLIENT_ID": GENERIC_CLIENT_ID,
            "SOCIAL_ACME_ID_CLIENT_SECRET": self.generic_secret,
            "SOCIAL_ACME_ID_CALLBACK_URL": GENERIC_CALLBACK_URL,
            # The provider POSTs code and state to the page (Apple's mode).
            "SOCIAL_ACME_ID_RESPONSE_MODE": "form_post",
            "SOCIAL_GOOGLE_ISSUER": self.url,
            "SOCIAL_GOOGLE_CLIENT_ID": CLIENT_ID,
            "SOCIAL_GOOGLE_CLIENT_SECRET": self.client_secret,
            "SOCIAL_GOOGLE_CALLBACK_URL": CALLBACK_URL,
            "SOCIAL_CALLBACK_URLS": OTHER_CALLBACK_URL,
            # http://127.0.0.1: only the test stack may name a plain-http issuer.
            "SOCIAL_ALLOW_HTTP_ISSUER": "1",
        }

    def test_env(self) -> dict[str, str]:
        return {
            "OIDC_URL": self.url,
            "OIDC_PROVIDER": PROVIDER,
            "OIDC_GENERIC_PROVIDER": GENERIC_PROVIDER,
            "OIDC_GENERIC_CALLBACK_URL": GENERIC_CALLBACK_URL,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CALLBACK_URL": CALLBACK_URL,
            "OIDC_OTHER_CALLBACK_URL": OTHER_CALLBACK_URL,
            "OIDC_APPLE_PROVIDER": APPLE_PROVIDER,
            "OIDC_APPLE_CALLBACK_URL": APPLE_CALLBACK_URL,
        }


def main() -> None:
    """The child: install, then become the server."""
    directory = ROOT / PROJECT
    node = shutil.which("node") or "node"
    try:
        npm_install(projects=(PROJECT,))
    except Exception as error:  # noqa: BLE001 - any failure ends the child
        log(f"error: {error}")
        sys.exit(1)
    log(f"oidc-provider on 127.0.0.1:{os.environ['OIDC_PORT']}")
    os.chdir(directory)
    os.execv(node, [node, str(directory / "server.mjs")])  # noqa: S606


if __name__ == "__main__":
    main()
