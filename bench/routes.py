"""The three measured routes as ready-made requests, and two ways to send
them: through Django's whole handler in this process (middleware, DRF,
services, PostgreSQL, Redis; no network, no web server) and over HTTP to
the web server on a kept-alive connection.

- `verify`: POST /store/auth/otp/verify, a returning OTP user (customer with
  an email-otp identity) with a fresh challenge of known code per request;
- `login`: POST /auth/customer/emailpass, a customer with the right password
  (one Argon2id verify per request);
- `me`: GET /store/customers/me with a customer's Bearer token.

Each request picks a random customer row of the loaded data set, so lookups
land all over the indexes, not on a hot few pages.
"""

import http.client
import json
import random
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from bench import load_data

ROUTES = ("verify", "login", "me")
PATHS = {
    "verify": "/store/auth/otp/verify",
    "login": "/auth/customer/emailpass",
    "me": "/store/customers/me",
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def store_headers() -> dict[str, str]:
    from django.conf import settings

    return {"x-publishable-api-key": settings.STORE_PUBLISHABLE_KEY}


def customer_headers(i: int, now: datetime) -> dict[str, str]:
    """A /store/customers/me* request's headers as customer row i (JSON)."""
    return {
        "authorization": f"Bearer {token_for(i, now)}",
        "content-type": "application/json",
        **store_headers(),
    }


def customer_rows(
    dataset: load_data.Dataset,
    count: int,
    *,
    rng: random.Random,
    otp_users: bool = False,
    distinct: bool = False,
) -> list[int]:
    """`count` random customer row numbers (returning OTP users only, if
    asked; all different, if asked)."""
    step = dataset.otp_every if otp_users else 1
    slots = dataset.n // step
    if distinct and slots < count * 2:
        raise ValueError(f"data set of {dataset.n} rows is too small for {count}")
    chosen: list[int] = []
    seen: set[int] = set()
    while len(chosen) < count:
        i = rng.randrange(1, slots + 1) * step
        if dataset.is_orphan(i) or (distinct and i in seen):
            continue
        seen.add(i)
        chosen.append(i)
    return chosen


def requests_for(
    route: str,
    dataset: load_data.Dataset,
    count: int,
    *,
    rng: random.Random,
    now: datetime,
) -> list[Request]:
    """`count` requests ready to send. For verify this opens the challenges
    (one COPY; one open challenge per email, so `count` different users):
    send them before the codes expire (OTP_TTL_SECONDS)."""
    if route == "verify":
        rows = customer_rows(dataset, count, rng=rng, otp_users=True, distinct=True)
        emails = [load_data.customer_email(i) for i in rows]
        load_data.otp_challenges_create(emails, now=now)
        return [
            Request(
                "POST",
                PATHS[route],
                json.dumps({"email": e, "code": load_data.OTP_CODE}).encode(),
                {"content-type": "application/json", **store_headers()},
            )
            for e in emails
        ]
    rows = customer_rows(dataset, count, rng=rng)
    if route == "login":
        return [
            Request(
                "POST",
                PATHS[route],
                json.dumps(
                    {
                        "email": load_data.customer_email(i),
                        "password": load_data.PASSWORD,
                    }
                ).encode(),
                {"content-type": "application/json"},
            )
            for i in rows
        ]
    if route == "me":
        return [
            Request(
                "GET",
                PATHS[route],
                None,
                {"authorization": f"Bearer {token_for(i, now)}", **store_headers()},
            )
            for i in rows
        ]
    raise ValueError(route)


def token_for(i: int, now: datetime) -> str:
    """An access token for customer row i, of its login session, as a login
    would issue it."""
    from accounts.tokens import access_token_issue

    return access_token_issue(
        auth_identity_id=load_data.identity_id(i),
        customer_id=load_data.customer_id(i),
        auth_provider="emailpass",
        app_metadata={},
        user_metadata=None,
        generation=0,
        session_id=load_data.session_id(i),
        now=now,
    )


class InProcess:
    """Django's test client: the full handler and middleware in this
    process (the Host is one ALLOWED_HOSTS accepts)."""

    def __init__(self) -> None:
        from django.test import Client

        self.client = Client(SERVER_NAME="localhost")

    def send(self, request: Request) -> int:
        headers = dict(request.headers)
        content_type = headers.pop("content-type", "application/octet-stream")
        response = self.client.generic(
            request.method,
            request.path,
            data=request.body or b"",
            content_type=content_type,
            headers=headers,
        )
        return response.status_code


class OverHttp:
    """One kept-alive HTTP/1.1 connection to the web server."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def send(self, request: Request) -> int:
        return self.exchange(request)[0]

    def exchange(self, request: Request) -> tuple[int, bytes]:
        """The answer's status and body."""
        headers = {"host": f"{self.host}:{self.port}", **request.headers}
        try:
            self.connection.request(
                request.method, request.path, body=request.body, headers=headers
            )
            response = self.connection.getresponse()
        except (http.client.HTTPException, OSError):
            self.connection.close()
            self.connection.connect()
            self.connection.request(
                request.method, request.path, body=request.body, headers=headers
            )
            response = self.connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.connection.close()
