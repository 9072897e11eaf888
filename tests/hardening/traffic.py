"""HTTP traffic for the load and fault tests: one requests.Session per
thread against the live web server (or, with `verify` naming a certificate,
nginx's HTTPS in tests/topology), every answer counted by route and status,
every 5xx and every unexpected answer kept for the failure message."""

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests


@dataclass(frozen=True)
class Call:
    route: str
    status: int  # 0: no HTTP answer (connection error, timeout)
    started: float  # time.monotonic()
    elapsed: float
    body: str = ""  # kept for 5xx and unexpected answers only
    retry_after: str | None = None  # the Retry-After of a 5xx


class CallFailed(Exception):
    """An answer other than the expected one: the scenario stops there."""


@dataclass
class Traffic:
    base_url: str
    publishable_key: str
    timeout: float = 60.0
    # A CA file pins the server's certificate (and the environment's CA
    # bundle and proxies are ignored); True: the system's CAs.
    verify: str | bool = True
    keep_calls: bool = False
    counts: Counter = field(default_factory=Counter)
    calls: list[Call] = field(default_factory=list)
    server_errors: list[Call] = field(default_factory=list)
    unexpected: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.verify = self.verify
            session.trust_env = self.verify is True
        return session

    def call(
        self,
        method: str,
        path: str,
        *,
        route: str | None = None,
        expect: tuple[int, ...] = (200,),
        token: str | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """One request; raise CallFailed unless its status is in `expect`."""
        route = route or f"{method} {path}"
        headers = dict(headers or {})
        if path.startswith("/store/"):
            headers.setdefault("x-publishable-api-key", self.publishable_key)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        started = time.monotonic()
        try:
            response = self._session().request(
                method,
                self.base_url + path,
                headers=headers,
                json=json,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            self._record(
                Call(route, 0, started, time.monotonic() - started, repr(exc)),
                ok=False,
            )
            raise CallFailed(f"{route}: {exc!r}") from exc
        ok = response.status_code in expect
        keep_body = not ok or response.status_code >= 500
        self._record(
            Call(
                route,
                response.status_code,
                started,
                time.monotonic() - started,
                response.text[:300] if keep_body else "",
                response.headers.get("Retry-After")
                if response.status_code >= 500
                else None,
            ),
            ok=ok,
        )
        if not ok:
            raise CallFailed(f"{route}: {response.status_code} {response.text[:200]}")
        return response

    def _record(self, call: Call, *, ok: bool) -> None:
        with self._lock:
            self.counts[(call.route, call.status)] += 1
            if self.keep_calls:
                self.calls.append(call)
            if call.status >= 500:
                self.server_errors.append(call)
            if not ok:
                self.unexpected.append(call)

    @property
    def sent(self) -> int:
        return sum(self.counts.values())

    def figures(self, test: str, elapsed: float) -> dict[str, Any]:
        """The head of a test's figures: which test, when, how much."""
        return {
            "test": test,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "requests_sent": self.sent,
            "elapsed_seconds": round(elapsed, 1),
            "requests_per_second": round(self.sent / elapsed, 1),
        }

    def by_route(self) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = {}
        for (route, status), count in sorted(self.counts.items()):
            table.setdefault(route, {})[str(status)] = count
        return table
