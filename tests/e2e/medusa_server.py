"""The real Medusa 2.21.2 that ./dev test starts (devstack/medusa.py), for
end-to-end tests: its admin and store APIs over HTTP, and its database.

Set up once per session through Medusa's own admin API: a publishable key
linked to the default sales channel, and a region whose payment provider is
Medusa's system one (no payment service needed). `SIGNUP_PATHS` sign a
customer up on the live stack each way a storefront can (two steps, one
step, a code), and return the token Medusa will be shown.
"""

from __future__ import annotations

import os
import re
import time
from types import SimpleNamespace

import psycopg
import pytest
import requests
from psycopg.rows import dict_row

from tests.mailbox import delivered_text

REGION = {
    "name": "E2E Europe",
    "currency_code": "eur",
    "countries": ["de"],
    "payment_providers": ["pp_system_default"],
}
VARIABLES = (
    "MEDUSA_URL",
    "MEDUSA_ADMIN_EMAIL",
    "MEDUSA_ADMIN_PASSWORD",
    "MEDUSA_DATABASE_URL",
)


class MedusaServer:
    def __init__(self, url: str, email: str, password: str, database_url: str):
        self.url = url.rstrip("/")
        self.database_url = database_url
        self.session = requests.Session()
        self._db: psycopg.Connection | None = None
        login = self.request(
            "POST", "/auth/user/emailpass", json={"email": email, "password": password}
        )
        assert login.status_code == 200, login.text
        self.admin_token = login.json()["token"]
        self.publishable_key = self._publishable_key()
        self.region = self._region()

    # ------------------------------------------------------------- HTTP

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.url + path, timeout=30, **kwargs)

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        """/admin/… as the admin user that ./dev test created."""
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        return self.request(method, path, headers=headers, **kwargs)

    def store(
        self, method: str, path: str, *, token: str | None = None, **kwargs
    ) -> requests.Response:
        """/store/… with the publishable key, as `token`'s customer or a guest."""
        headers = {"x-publishable-api-key": self.publishable_key}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.request(method, path, headers=headers, **kwargs)

    def _publishable_key(self) -> str:
        """Carts need a sales channel: the key's, the store's default one."""
        store = self.admin("GET", "/admin/stores").json()["stores"][0]
        created = self.admin(
            "POST", "/admin/api-keys", json={"title": "e2e", "type": "publishable"}
        )
        assert created.status_code == 200, created.text
        key = created.json()["api_key"]
        linked = self.admin(
            "POST",
            f"/admin/api-keys/{key['id']}/sales-channels",
            json={"add": [store["default_sales_channel_id"]]},
        )
        assert linked.status_code == 200, linked.text
        return key["token"]

    def _region(self) -> dict:
        """The region (a country belongs to one only: kept across sessions
        against a Medusa you run yourself)."""
        found = self.admin("GET", "/admin/regions", params={"name": REGION["name"]})
        if regions := found.json()["regions"]:
            return regions[0]
        created = self.admin("POST", "/admin/regions", json=REGION)
        assert created.status_code == 200, created.text
        return created.json()["region"]

    # --------------------------------------------------------- database

    @property
    def db(self) -> psycopg.Connection:
        """An autocommit connection to Medusa's database (a new one when a
        fault test broke the last), rows as dicts."""
        if self._db is None or self._db.closed or self._db.broken:
            self._db = psycopg.connect(
                self.database_url,
                autocommit=True,
                row_factory=dict_row,
                connect_timeout=5,
            )
        return self._db

    def customer_wait(self, customer_id: str, timeout: float = 10) -> dict:
        """Medusa's `customer` row of that id, once it is there."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                row = self.db.execute(
                    "SELECT * FROM customer WHERE id = %s", (customer_id,)
                ).fetchone()
            except psycopg.OperationalError:
                row = None  # Medusa's database is down (a fault test) or restarting
            if row is not None:
                return row
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no customer {customer_id} in Medusa's database after {timeout}s"
                )
            time.sleep(0.1)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
        self.session.close()


def signup_here(live, email: str, password: str) -> SimpleNamespace:
    """A two-step signup on the live stack, then the refresh that puts the
    customer id into the token, as @medusajs/js-sdk does."""
    registered = live.post(
        "/auth/customer/emailpass/register", json={"email": email, "password": password}
    )
    assert registered.status_code == 200, registered.text
    return _profile_step(live, email, registered.json()["token"])


def signup_one_step(live, email: str, password: str) -> SimpleNamespace:
    answer = live.post(
        "/store/auth/signup", json={"email": email, "password": password}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return SimpleNamespace(id=body["customer"]["id"], email=email, token=body["token"])


def signup_by_code(live, email: str, password: str) -> SimpleNamespace:
    """A code login for a new address (the mail through the live worker),
    then the profile step."""
    sent = live.post("/store/auth/otp/send", json={"email": email})
    assert sent.status_code == 200, sent.text
    text = delivered_text(os.environ["MAIL_DIR"], to=email, subject="sign-in code")
    code = re.search(r"code is (\d+)", text).group(1)
    verified = live.post("/store/auth/otp/verify", json={"email": email, "code": code})
    assert verified.status_code == 200, verified.text
    return _profile_step(live, email, verified.json()["token"])


SIGNUP_PATHS = {
    "two_step": signup_here,
    "one_step": signup_one_step,
    "code": signup_by_code,
}


def _profile_step(live, email: str, token: str) -> SimpleNamespace:
    created = live.post("/store/customers", token=token, json={"email": email})
    assert created.status_code == 200, created.text
    refreshed = live.post("/auth/token/refresh", token=token)
    assert refreshed.status_code == 200, refreshed.text
    customer_id = created.json()["customer"]["id"]
    return SimpleNamespace(id=customer_id, email=email, token=refreshed.json()["token"])


def medusa_server_from_env() -> MedusaServer:
    missing = [name for name in VARIABLES if not os.environ.get(name)]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not set: run the suite with ./dev test "
            "or plain pytest (they start Medusa)"
        )
    return MedusaServer(*(os.environ[name] for name in VARIABLES))
