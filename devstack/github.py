"""A GitHub stand-in for `./dev test`: a small real HTTP server (the
standard library's), speaking GitHub's OAuth app flow and the two REST
routes Sign in with GitHub reads, for the social login tests.

One child process, `python -m devstack.github`, serves on a free port of
127.0.0.1:

- `GET /login/oauth/authorize` checks the client and its registered
  redirect URI (GitHub answers `redirect_uri_mismatch` to the app's
  callback, as here) and shows a sign-in page; the test, as the user,
  posts the GitHub account it signs in as (JSON) to the page's form
  (`POST /session/<id>`), and the browser goes back to the redirect URI
  with `code` and `state` (or `error=access_denied` when the user says
  no).
- `POST /login/oauth/access_token` takes its parameters in the body or the
  query, as GitHub does, and answers GitHub's errors with status 200
  (`incorrect_client_credentials`, `bad_verification_code` for a wrong,
  used or expired code and for a PKCE verifier that does not match the
  challenge, `redirect_uri_mismatch`); JSON when asked by `Accept`, else
  GitHub's form encoding. A code is good once, for ten minutes.
- `GET /user` and `GET /user/emails` with the access token (`Bearer` or
  `token`): 401 `Bad credentials` otherwise; the addresses need the
  `user:email` (or `user`) scope, 404 otherwise, as GitHub's are.

An account may ask for a misbehaving API (`"fail": {"user": 502}`) to test
our answers to GitHub's outages. Our servers get the `github` provider
pointed at it (SOCIAL_GITHUB_*, over the caller's values: no test may reach
the real GitHub), and `github-wrong-secret` (the same client, a wrong
secret); pytest gets GITHUB_* to drive it (tests/e2e/github_provider.py).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from devstack.medusa import passed  # the same few variables as Medusa's
from devstack.util import log

PROVIDER = "github"
WRONG_SECRET_PROVIDER = "github-wrong-secret"
CLIENT_ID = "Iv1.storefronttests"
CALLBACK_URL = "http://localhost:3000/auth/customer/github/callback"
CODE_TTL = 600  # GitHub's codes expire after ten minutes
HEALTH_TIMEOUT = 60


@dataclass
class GithubServer:
    port: int
    client_secret: str = field(default_factory=lambda: secrets.token_hex(20))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def health_url(self) -> str:
        return self.url + "/"

    def env(self, app_env: Mapping[str, str]) -> dict[str, str]:
        """The child's environment: none of our settings."""
        env = {name: value for name, value in app_env.items() if passed(name)}
        clients = [
            {
                "client_id": CLIENT_ID,
                "client_secret": self.client_secret,
                "redirect_uris": [CALLBACK_URL],
            }
        ]
        env.update(GITHUB_PORT=str(self.port), GITHUB_CLIENTS=json.dumps(clients))
        return env

    def app_settings(self) -> dict[str, str]:
        """What our servers need to use it as `github` (the preset, its URLs
        replaced) and as `github-wrong-secret`."""
        values: dict[str, str] = {}
        for name, secret in (
            (PROVIDER, self.client_secret),
            (WRONG_SECRET_PROVIDER, secrets.token_hex(20)),
        ):
            prefix = "SOCIAL_" + name.upper().replace("-", "_") + "_"
            values.update(
                {
                    prefix + "KIND": "github",
                    prefix + "CLIENT_ID": CLIENT_ID,
                    prefix + "CLIENT_SECRET": secret,
                    prefix + "CALLBACK_URL": CALLBACK_URL,
                    prefix + "AUTHORIZE_URL": self.url + "/login/oauth/authorize",
                    prefix + "TOKEN_URL": self.url + "/login/oauth/access_token",
                    prefix + "API_URL": self.url + "/",
                }
            )
        return values

    def test_env(self) -> dict[str, str]:
        return {
            "GITHUB_URL": self.url,
            "GITHUB_PROVIDER": PROVIDER,
            "GITHUB_WRONG_SECRET_PROVIDER": WRONG_SECRET_PROVIDER,
            "GITHUB_CALLBACK_URL": CALLBACK_URL,
        }


# ------------------------------------------------------------- the server


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class _State:
    """What the server remembers: pending authorizations, codes, tokens."""

    def __init__(self, clients: list[dict[str, Any]]):
        self.clients = {client["client_id"]: client for client in clients}
        self.lock = threading.Lock()
        self.pending: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}


ERRORS = {
    "incorrect_client_credentials": "The client_id and/or client_secret passed "
    "are incorrect.",
    "bad_verification_code": "The code passed is incorrect or expired.",
    "redirect_uri_mismatch": "The redirect_uri MUST match the registered "
    "callback URL for this application.",
}


class _Handler(BaseHTTPRequestHandler):
    server_version = "GitHub.com"
    state: _State  # set on the class by serve()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        # The path only: queries and bodies carry codes and tokens.
        log(f"github: {self.command} {urlsplit(self.path).path}")

    # ------------------------------------------------------------ helpers

    def _send(self, status: int, body: bytes, content_type: str, **headers: str):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def _redirect(self, location: str) -> None:
        self._send(302, b"", "text/html", Location=location)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.path).query))

    # ------------------------------------------------------------- routes

    def do_GET(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        if path == "/":
            self._json(200, {"current_user_url": "/user"})
        elif path == "/login/oauth/authorize":
            self._authorize()
        elif path in ("/user", "/user/emails"):
            self._api(path)
        else:
            self._json(404, {"message": "Not Found"})

    def do_POST(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        if path == "/login/oauth/access_token":
            self._access_token()
        elif path.startswith("/session/"):
            self._sign_in(path.removeprefix("/session/"))
        else:
            self._json(404, {"message": "Not Found"})

    def _authorize(self) -> None:
        query = self._query()
        client = self.state.clients.get(query.get("client_id", ""))
        if client is None:
            self._send(404, b"Not Found", "text/plain")
            return
        redirect_uri = query.get("redirect_uri") or client["redirect_uris"][0]
        if redirect_uri not in client["redirect_uris"]:
            self._redirect(
                client["redirect_uris"][0]
                + "?"
                + urlencode(
                    {
                        "error": "redirect_uri_mismatch",
                        "error_description": ERRORS["redirect_uri_mismatch"],
                        "state": query.get("state", ""),
                    }
                )
            )
            return
        method = query.get("code_challenge_method")
        if "code_challenge" in query and method != "S256":
            self._send(400, b"Only S256 is accepted", "text/plain")
            return
        uid = secrets.token_hex(8)
        with self.state.lock:
            self.state.pending[uid] = {
                "client_id": client["client_id"],
                "redirect_uri": redirect_uri,
                "redirect_uri_given": "redirect_uri" in query,
                "state": query.get("state"),
                "scope": query.get("scope", ""),
                "challenge": query.get("code_challenge"),
            }
        page = (
            "<html><body><h1>Sign in to GitHub to continue to "
            f"{html.escape(client['client_id'])}</h1>"
            f'<form method="post" action="/session/{uid}">'
            "<button>Authorize</button></form></body></html>"
        )
        self._send(200, page.encode(), "text/html; charset=utf-8")

    def _sign_in(self, uid: str) -> None:
        """The user signs in as the posted account and authorizes (or,
        with `deny`, refuses) the app."""
        with self.state.lock:
            pending = self.state.pending.pop(uid, None)
        if pending is None:
            self._send(404, b"Not Found", "text/plain")
            return
        account = json.loads(self._body() or b"{}")
        answer: dict[str, str] = {}
        if account.get("deny"):
            answer["error"] = "access_denied"
            answer["error_description"] = "The user has denied your application access."
        else:
            code = secrets.token_hex(10)
            with self.state.lock:
                self.state.codes[code] = {
                    **pending,
                    "account": account,
                    "expires": time.monotonic() + CODE_TTL,
                }
            answer["code"] = code
        if pending["state"] is not None:
            answer["state"] = pending["state"]
        self._redirect(pending["redirect_uri"] + "?" + urlencode(answer))

    def _access_token(self) -> None:
        params = self._query()
        body = self._body()
        if self.headers.get("Content-Type", "").startswith("application/json"):
            params.update(json.loads(body or b"{}"))
        else:
            params.update(parse_qsl(body.decode()))
        error = None
        client = self.state.clients.get(params.get("client_id", ""))
        if client is None or not secrets.compare_digest(
            client["client_secret"], params.get("client_secret", "")
        ):
            error = "incorrect_client_credentials"
        grant = None
        if error is None:
            # Good once, whatever happens next (GitHub's are too).
            with self.state.lock:
                grant = self.state.codes.pop(params.get("code", ""), None)
            if (
                grant is None
                or grant["client_id"] != client["client_id"]
                or grant["expires"] < time.monotonic()
            ):
                error = "bad_verification_code"
        if error is None and "redirect_uri" in params:
            if params["redirect_uri"] != grant["redirect_uri"]:
                error = "redirect_uri_mismatch"
        if error is None and grant["challenge"] is not None:
            verifier = params.get("code_verifier", "")
            if not verifier or _s256(verifier) != grant["challenge"]:
                error = "bad_verification_code"
        if error is not None:
            answer = {
                "error": error,
                "error_description": ERRORS[error],
                "error_uri": "https://docs.github.com/apps/managing-oauth-apps/"
                "troubleshooting-oauth-app-access-token-request-errors",
            }
        else:
            token = "gho_" + secrets.token_hex(18)
            with self.state.lock:
                self.state.tokens[token] = {
                    "account": grant["account"],
                    "scope": grant["scope"],
                }
            answer = {"access_token": token, "token_type": "bearer"}
            answer["scope"] = grant["scope"]
        if "application/json" in self.headers.get("Accept", ""):
            self._json(200, answer)
        else:
            self._send(
                200, urlencode(answer).encode(), "application/x-www-form-urlencoded"
            )

    def _api(self, path: str) -> None:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        with self.state.lock:
            grant = self.state.tokens.get(token)
        if scheme.lower() not in ("bearer", "token") or grant is None:
            self._json(
                401,
                {
                    "message": "Bad credentials",
                    "documentation_url": "https://docs.github.com/rest",
                    "status": "401",
                },
            )
            return
        account = grant["account"]
        fail = (account.get("fail") or {}).get(path.strip("/"))
        if fail:
            self._send(int(fail), b"<html>Unicorn!</html>", "text/html")
            return
        if path == "/user":
            self._json(200, _user(account))
            return
        scopes = set(grant["scope"].replace(",", " ").split())
        if not scopes & {"user:email", "user"}:
            self._json(404, {"message": "Not Found", "status": "404"})
            return
        self._json(200, account.get("emails", []))


def _user(account: dict[str, Any]) -> dict[str, Any]:
    """GET /user's shape (the fields Sign in with GitHub reads, and a few)."""
    login = account.get("login", f"user{account.get('id')}")
    return {
        "login": login,
        "id": account.get("id"),
        "node_id": "U_test",
        "avatar_url": f"https://avatars.example/u/{account.get('id')}",
        "url": f"https://api.github.example/users/{login}",
        "type": "User",
        "name": account.get("name"),
        "company": None,
        # The public profile address: the user's choice, never our login's.
        "email": account.get("public_email"),
    }


def serve(port: int, clients: list[dict[str, Any]]) -> ThreadingHTTPServer:
    handler = type("Handler", (_Handler,), {"state": _State(clients)})
    return ThreadingHTTPServer(("127.0.0.1", port), handler)


def main() -> None:
    port = int(os.environ["GITHUB_PORT"])
    server = serve(port, json.loads(os.environ["GITHUB_CLIENTS"]))
    log(f"github stand-in on 127.0.0.1:{port}")
    server.serve_forever()


if __name__ == "__main__":
    main()
