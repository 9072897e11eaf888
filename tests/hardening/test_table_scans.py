"""No request reads a whole table that grows with the shop. A lookup that no
index serves is fast on a test's handful of rows and a sequential scan of
every customer in production (the registered customer by `email = ...`
was one: about 100 ms at 10^6 customers, docs/performance.md). Here the
benchmark's loader fills the tables with 20,000 customers (identities,
logins, sessions, addresses), the planner is given their statistics, and
a customer's routes run through the API, their workers' mail included:
PostgreSQL's own count of the transaction's sequential scans
(pg_stat_xact_user_tables) must stay at zero for every table that holds
thousands of rows."""

import pytest
from django.db import connection
from django.utils import timezone

from bench import load_data
from otp.codes import code_generate
from otp.services import otp_challenge_replace
from tests.api_client import CommittingAPIClient
from tests.bench.conftest import rows_load

pytestmark = pytest.mark.django_db

ROWS = 20_000
PASSWORD = "correct horse battery staple"


@pytest.fixture
def shop():
    rows_load(ROWS)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # the rows of this transaction count
        cursor.execute(
            "SELECT c.relname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            " AND c.reltuples >= 5000"
        )
        return {name for (name,) in cursor.fetchall()}


def sequential_scans(tables: set[str]) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, seq_scan FROM pg_stat_xact_user_tables"
            " WHERE relname = ANY(%s)",
            [sorted(tables)],
        )
        return dict(cursor.fetchall())


def scans_since(before: dict[str, int], tables: set[str]) -> dict[str, int]:
    """The sequential scans of `tables` since `before` was counted."""
    return {
        table: count - before.get(table, 0)
        for table, count in sequential_scans(tables).items()
        if count > before.get(table, 0)
    }


def test_a_customer_s_routes_scan_no_growing_table(shop, api: CommittingAPIClient):
    assert {"accounts_customer", "accounts_authidentity"} <= shop
    before = sequential_scans(shop)
    old = load_data.customer_email(7)
    new = "scans.new@example.com"
    statuses = []

    def call(method, path, body=None, token=None):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        answer = getattr(api, method)(path, body, format="json", **headers)
        statuses.append((path, answer.status_code))
        json = answer.get("content-type", "").startswith("application/json")
        return answer.json() if json else {}

    register = call(
        "post",
        "/auth/customer/emailpass/register",
        {"email": new, "password": PASSWORD},
    )
    call("post", "/store/customers", {"email": new}, register["token"])
    token = call(
        "post", "/auth/customer/emailpass", {"email": new, "password": PASSWORD}
    )["token"]
    token = call("post", "/auth/token/refresh", {}, token)["token"]
    call("get", "/store/customers/me", token=token)
    call("post", "/store/customers/me", {"first_name": "Ada"}, token)
    call(
        "post",
        "/store/customers/me/addresses",
        {"address_1": "1 Road", "city": "Aarhus", "country_code": "dk"},
        token,
    )
    call("get", "/store/customers/me/addresses", token=token)
    call("get", "/store/customers/me/sessions", token=token)
    call("get", "/store/customers/me/providers", token=token)
    call(
        "post", "/store/customers/me/email", {"email": "scans.moved@example.com"}, token
    )
    call("get", "/store/customers/me/export", token=token)
    call("post", "/auth/customer/emailpass/reset-password", {"identifier": old})
    call(
        "post",
        "/store/auth/signup",
        {"email": "scans.signup@example.com", "password": PASSWORD},
    )
    call("post", "/store/auth/otp/send", {"email": old})
    load_data.otp_challenges_create([old], now=timezone.now())
    call("post", "/store/auth/otp/verify", {"email": old, "code": load_data.OTP_CODE})
    first = "scans.first@example.com"  # a code login of an address never seen
    code = code_generate()
    otp_challenge_replace(email=first, code=code, now=timezone.now())
    call("post", "/store/auth/otp/verify", {"email": first, "code": code})
    for email in (old, "scans.nobody@example.com"):
        call("post", "/auth/customer/emailpass", {"email": email, "password": "wrong"})

    scanned = scans_since(before, shop)
    assert [s for s in statuses if s[1] >= 400] == [
        ("/auth/customer/emailpass", 401),
        ("/auth/customer/emailpass", 401),
    ], statuses
    assert scanned == {}


STAFF_PAGES = (
    "/admin/",
    "/admin/orphans/orphan/dashboard/",
    "/admin/orphans/orphan/",
    "/admin/accounts/customer/",
    "/admin/accounts/customer/?q=user7%40bench.example",
    "/admin/accounts/authidentity/",
    "/admin/accounts/authidentity/?q=user7%40bench.example",
    "/admin/accounts/provideridentity/",
    "/admin/accounts/provideridentity/?q=user7%40bench.example",
    "/admin/privacy/erasure/",
    "/admin/privacy/erasure/?q=cus_erased_7",
    "/admin/otp/otpchallenge/?q=Asked.7%40Example.com",
    "/admin/otp/otpfailurebudget/?q=Asked.7%40Example.com",
)  # (A list filtered by a common value is counted exactly, by design: core/admin.py)


@pytest.fixture
def staff_tables():
    """Years of erasures (customer accounts deleted), a day of code
    challenges, and the failure budgets of every address ever given a
    wrong code."""
    tables = ["privacy_erasure", "otp_otpchallenge", "otp_otpfailurebudget"]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO privacy_erasure"
            " (customer_id, email_hash, erased_at, actor, proof, staff_username)"
            " SELECT 'cus_erased_' || n, md5(n::text) || md5(n::text),"
            " now() - n * interval '1 hour', 'customer', 'code', ''"
            " FROM generate_series(1, %s) AS n",
            [ROWS],
        )
        cursor.execute(
            "INSERT INTO otp_otpchallenge"
            " (id, email, code_hash, attempts, max_attempts, created_at, expires_at)"
            " SELECT 'otp_scan_' || n, 'asked.' || n || '@example.com',"
            " md5(n::text) || md5(n::text), 0, 5, now() - n * interval '4 s',"
            " now() - n * interval '4 s' + interval '10 min'"
            " FROM generate_series(1, %s) AS n",
            [ROWS],
        )
        cursor.execute(
            "INSERT INTO otp_otpfailurebudget (email, consecutive_failures, updated_at)"
            " SELECT 'asked.' || n || '@example.com', n %% 7, now()"
            " FROM generate_series(1, %s) AS n",
            [ROWS],
        )
        cursor.execute(f"ANALYZE {', '.join(tables)}")
    return tables


def test_staff_pages_scan_no_growing_table(shop, staff_tables, client):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("scans", password="pw-x-tests"))
    shop = shop | set(staff_tables)
    before = sequential_scans(shop)

    statuses = {page: client.get(page).status_code for page in STAFF_PAGES}

    scanned = scans_since(before, shop)
    assert set(statuses.values()) == {200}, statuses
    assert scanned == {}
