"""The client secret of a provider that wants it signed (Sign in with
Apple): a short-lived ES256 JWT the shop signs with its own private key,
made with PyJWT for each code exchange, never by hand.

Apple's rules (https://developer.apple.com/documentation/accountorganizationaldatasharing/creating-a-client-secret):
header `alg: ES256` and `kid` (the key's id); `iss` the team id, `sub` the
client id (the Services ID), `aud` https://appleid.apple.com (the issuer),
`iat` and `exp` at most six months later. Ours lives five minutes: a
secret that leaks (a proxy's log) is soon worthless.

Threat model: the private key and the secrets made from it leaving the
process. The key comes from the environment only (settings), is never
logged or put in a repr (ProviderConfig), and each JWT goes no further than
the token request's body.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import jwt

LIFETIME = timedelta(minutes=5)


def client_secret_jwt(
    *,
    team_id: str,
    key_id: str,
    client_id: str,
    audience: str,
    private_key: str,
    now: datetime,
) -> str:
    """A client secret for one token request, signed with `private_key` (the
    PEM text of a P-256 key, as Apple's .p8 file holds it)."""
    return jwt.encode(
        {
            "iss": team_id,
            "sub": client_id,
            "aud": audience,
            "iat": int(now.timestamp()),
            "exp": int((now + LIFETIME).timestamp()),
        },
        private_key,
        algorithm="ES256",
        headers={"kid": key_id},
    )
