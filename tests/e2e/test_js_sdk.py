"""The real @medusajs/js-sdk 2.21.2 against the live server.

tests/e2e/sdk/storefront_flow.mjs drives the SDK through a storefront's
signup, login, profile update, address book, refresh and session-mode
login, and prints a JSON summary; this test runs it and checks the summary
and the database from outside. ./dev test installs the SDK with `npm ci --prefix
tests/e2e/sdk`.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import jwt
import pytest

SDK_DIR = Path(__file__).resolve().parent / "sdk"
SCRIPT = SDK_DIR / "storefront_flow.mjs"
REPO_ROOT = SDK_DIR.parents[2]


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def run_script(name: str, env: dict[str, str]) -> dict:
    """Run one of tests/e2e/sdk's scripts with `env` over our environment;
    the JSON it prints."""
    node = shutil.which("node")
    if node is None or not (SDK_DIR / "node_modules" / "@medusajs" / "js-sdk").is_dir():
        pytest.fail(
            "node and tests/e2e/sdk/node_modules are needed (./dev test installs them)"
        )
    proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [node, str(SDK_DIR / name)],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, (
        f"{name} exited {proc.returncode}\n"
        f"stderr:\n{proc.stderr}\nstdout:\n{proc.stdout}"
    )
    return json.loads(proc.stdout)


def _run_flow(live, email: str, password: str) -> dict:
    return run_script(
        SCRIPT.name,
        {
            "BASE_URL": live.url,
            "PUBLISHABLE_KEY": live.publishable_key,
            "EMAIL": email,
            "PASSWORD": password,
        },
    )


def test_js_sdk_storefront_flow(live, email, password):
    from accounts.models import AuthIdentity, Customer, ProviderIdentity

    flow = _run_flow(live, email, password)

    # register: an actor-less token, kept in the SDK's memory storage
    register_claims = _claims(flow["register"]["token"])
    assert register_claims["actor_id"] == ""
    assert flow["register"]["tokenActorId"] == ""
    assert register_claims["actor_type"] == "customer"
    assert register_claims["auth_provider"] == "emailpass"
    assert register_claims["app_metadata"] == {}
    assert flow["register"]["stored"] is True

    # create: the customer for the registration token
    created = flow["create"]["customer"]
    assert created["email"] == email
    assert created["first_name"] == "Jane"
    assert created["last_name"] == "Doe"
    assert created["has_account"] is True
    customer_id = created["id"]
    assert customer_id.startswith("cus_")

    # jwt-mode logout is client-side only
    assert flow["logout"] == {"requests": 0, "tokenAfter": ""}

    # a wrong password is a FetchError 401 with Medusa's message
    assert flow["wrongPassword"] == {
        "name": "FetchError",
        "isFetchError": True,
        "status": 401,
        "statusText": "Unauthorized",
        "message": "Invalid email or password",
    }

    # login after create: a customer token
    assert flow["login"]["type"] == "string"
    assert flow["login"]["stored"] is True
    login_claims = _claims(flow["login"]["token"])
    assert login_claims["actor_id"] == customer_id
    assert login_claims["app_metadata"] == {"customer_id": customer_id}
    assert login_claims["auth_identity_id"] == register_claims["auth_identity_id"]

    assert flow["retrieve"]["customer"] == created

    updated = flow["update"]["customer"]
    assert updated["id"] == customer_id
    assert updated["first_name"] == "Changed"
    assert updated["last_name"] == "Doe"
    assert updated["metadata"] == {"tier": "gold"}

    # refresh: {token} only, stored, still the customer's
    assert flow["refresh"]["keys"] == ["token"]
    assert flow["refresh"]["stored"] is True
    refresh_claims = _claims(flow["refresh"]["token"])
    assert refresh_claims["actor_id"] == customer_id
    assert refresh_claims["auth_identity_id"] == register_claims["auth_identity_id"]

    assert flow["retrieveFields"] == {"customer": {"id": customer_id, "email": email}}

    # the address book, through sdk.store.customer.*Address
    home_id, work_id = flow["addressIds"]["home"], flow["addressIds"]["work"]
    (home,) = flow["addressCreate"]["customer"]["addresses"]
    assert home["id"].startswith("cuaddr_")
    assert (home["customer_id"], home["city"]) == (customer_id, "Copenhagen")
    assert home["is_default_shipping"] is True
    second = flow["addressCreateSecond"]["customer"]
    assert list(second) == ["id", "addresses"]
    defaults = {a["id"]: a["is_default_shipping"] for a in second["addresses"]}
    assert defaults == {home_id: False, work_id: True}  # the new default won
    listed = flow["addressList"]
    assert (listed["count"], listed["offset"], listed["limit"]) == (1, 0, 10)
    assert [a["id"] for a in listed["addresses"]] == [work_id]
    assert flow["addressListAll"]["addresses"] == [
        {"id": home_id, "city": "Copenhagen", "is_default_shipping": False},
        {"id": work_id, "city": "Aarhus", "is_default_shipping": True},
    ]
    assert flow["addressRetrieve"] == {"address": {"id": home_id, "city": "Copenhagen"}}
    updated_home = next(
        a for a in flow["addressUpdate"]["customer"]["addresses"] if a["id"] == home_id
    )
    assert (updated_home["city"], updated_home["is_default_billing"]) == (
        "Odense",
        True,
    )
    assert updated_home["metadata"] == {"door": "red"}
    deleted = flow["addressDelete"]
    assert (deleted["id"], deleted["object"], deleted["deleted"]) == (
        customer_id,
        "address",
        True,
    )
    assert [a["id"] for a in deleted["parent"]["addresses"]] == [home_id]
    assert flow["addressDeletedRetrieve"]["status"] == 404
    assert flow["addressDeletedRetrieve"]["message"] == (
        f"Address with id: {work_id} was not found"
    )
    assert flow["addressBadBody"]["status"] == 400
    assert flow["addressBadBody"]["message"] == (
        "Invalid request: Expected type: 'string' for field 'city', got: '12'"
    )
    sent = [r["path"] for r in flow["http"] if "/addresses" in r["path"]]
    assert any("country_code%5B0%5D=dk" in path for path in sent), sent

    # session mode: login resolves to the token and POST /auth/session (with
    # that token as a bearer) answers 200 {user: claims} and sets a cookie
    assert flow["sessionLogin"]["type"] == "string"
    session_claims = _claims(flow["sessionLogin"]["token"])
    assert session_claims["actor_id"] == customer_id
    session_post = flow["sessionLogin"]["sessionRequest"]
    assert session_post is not None, "session-mode login did not POST /auth/session"
    assert session_post["status"] == 200
    assert session_post["sentAuthorization"] is True
    assert session_post["setCookieNames"], "POST /auth/session set no cookie"
    assert session_post["body"]["user"]["actor_id"] == customer_id
    # the cookie (carried by the script's browser-like jar) authenticates
    # /store/customers/me without any Authorization header
    session_get = flow["sessionRetrieve"]["request"]
    assert session_get["status"] == 200
    assert session_get["sentAuthorization"] is False
    assert session_get["sentCookie"] is True
    assert flow["sessionRetrieve"]["customer"]["id"] == customer_id
    assert flow["sessionRetrieve"]["customer"]["first_name"] == "Changed"
    # logout destroys the session: DELETE /auth/session, then 401
    [session_delete] = flow["sessionLogout"]["requests"]
    assert (session_delete["method"], session_delete["path"]) == (
        "DELETE",
        "/auth/session",
    )
    assert session_delete["status"] == 200
    assert session_delete["body"] == {"success": True}
    after_logout = flow["sessionRetrieveAfterLogout"]
    assert (after_logout["isFetchError"], after_logout["status"]) == (True, 401)
    assert after_logout["message"] == "Unauthorized"

    # the database, seen through the ORM
    customers = list(Customer.objects.filter(email=email))
    assert len(customers) == 1
    customer = customers[0]
    assert customer.id == customer_id
    assert customer.has_account is True
    assert customer.first_name == "Changed"
    assert customer.metadata == {"tier": "gold"}
    (address,) = customer.addresses.all()
    assert (address.id, address.city, address.country_code) == (home_id, "Odense", "dk")
    assert (address.is_default_shipping, address.is_default_billing) == (False, True)
    identities = list(AuthIdentity.objects.filter(customer=customer))
    assert len(identities) == 1
    identity = identities[0]
    assert identity.id == register_claims["auth_identity_id"]
    providers = list(ProviderIdentity.objects.filter(auth_identity=identity))
    assert len(providers) == 1
    assert providers[0].provider == "emailpass"
    assert providers[0].entity_id == email
    assert ProviderIdentity.objects.filter(entity_id=email).count() == 1


def test_js_sdk_logs_in_with_an_emailed_code(live, email):
    from django.utils import timezone

    from otp.services import otp_send
    from tests.factories import customer_create
    from tests.otp.conftest import mailed_code, wrong

    customer = customer_create(email=email)
    otp_send(email=email, ip="198.51.100.9", now=timezone.now())
    code = mailed_code(email)

    result = run_script(
        "otp_login.mjs",
        {
            "BASE_URL": live.url,
            "PUBLISHABLE_KEY": live.publishable_key,
            "EMAIL": email,
            "CODE": code,
            "WRONG_CODE": wrong(code),
        },
    )
    assert result["wrong"] == {"thrown": True, "status": 401, "message": "Invalid code"}
    assert _claims(result["token"])["auth_provider"] == "email-otp"
    assert result["customer"]["id"] == customer.id
