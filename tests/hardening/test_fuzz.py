"""Fuzzing: schemathesis against the live server's OpenAPI schema.

Every operation of `/api/schema/` (drf-spectacular, plus /health and
/metrics) gets schemathesis' deterministic coverage cases (boundaries,
missing and wrong-typed fields, unexpected methods) and FUZZ_EXAMPLES random
positive and negative cases, sent to the web server of `./dev test`. Every
answer must be: no 5xx (every dependency is up, so even the documented 503
is a defect here), a documented status, content type and headers, a body
that matches the schema, 4xx for input the schema forbids, 2xx for any
valid input on the routes in ALWAYS_ACCEPTING, and 401 for a protected
route called without its credential. A second test sends hostile bodies
schemathesis does not generate. A failure is a defect of the code or of the
schema: fix it, never loosen the check.

Nothing is excluded: DELETE /auth/session is fuzzed too (each case gets a
session of its own), and so is DELETE /store/customers/me (each valid case
erases a customer of its own, made with the case's password or code).
Not in the schema, so not fuzzed here: /admin/ (HTML for staff; the
browser test drives it) and /api/schema/, /api/docs/ (the schema itself).

Credentials are real, so cases reach past the 400/401 walls: a publishable
key, a customer token, and a fresh credential per case where a success
spends it (a session for DELETE /auth/session, a reset token for
POST .../update, a new identity registered with the body's email for
POST /store/customers).

    ./dev test tests/hardening/test_fuzz.py                    # 20 examples
    FUZZ_EXAMPLES=500 ./dev test tests/hardening/test_fuzz.py  # long run
    FUZZ_SEED=1234 FUZZ_EXAMPLES=500 ./dev test ... -s         # replay

The fast run uses a fixed seed (the same cases every time, so `./dev test`
is not flaky); with FUZZ_EXAMPLES set and no FUZZ_SEED the seed is random
and printed.
"""

import json
import os
import random
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import schemathesis
from _pytest.nodeid import coerce_node_id
from _pytest.python import Function
from django.contrib.auth.hashers import make_password
from django.utils import timezone
from schemathesis.config import SchemathesisConfig

from accounts import selectors, services
from accounts.models import AuthIdentity, Customer, Provider, ProviderIdentity
from accounts.tokens import access_token_decode
from core.emails import email_is_valid, email_normalize
from otp.models import Purpose
from otp.services import otp_challenge_replace
from tests.factories import PASSWORD, TEST_CLIENT

# schemathesis 4.32.5's `from_fixture` names each operation's subtest by
# rewriting `Function._nodeid`, which pytest 9.2 replaced with a structured
# `_id`: map the old attribute onto the new one. Remove once schemathesis
# supports pytest 9.2.
if not hasattr(Function, "_nodeid"):
    Function._nodeid = property(
        lambda self: self._id,
        lambda self, value: setattr(self, "_id", coerce_node_id(value)),
    )

FAST_EXAMPLES = 20
FAST_SEED = 20260105
SESSION_COOKIE = "connect.sid"
# Routes where every body and query the schema allows must succeed.
ALWAYS_ACCEPTING = [
    "/auth/customer/providers",
    "/auth/session",
    "/auth/token/refresh",
    "/store/customers/me",
    "/store/customers/me/export",
    "/health",
    "/metrics",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "artifacts"


def _fuzz_settings() -> tuple[int, int]:
    examples = int(os.environ.get("FUZZ_EXAMPLES") or FAST_EXAMPLES)
    seed = os.environ.get("FUZZ_SEED")
    if seed:
        return examples, int(seed)
    if "FUZZ_EXAMPLES" in os.environ:
        return examples, random.SystemRandom().randrange(2**32)
    return examples, FAST_SEED


@dataclass
class Credentials:
    live_url: str
    publishable_key: str
    customer_token: str
    registration_token: str
    session_cookie: str
    reset_email: str
    reset_token: str
    password_hash: str

    def new_session(self) -> str:
        """A fresh cookie session of the customer, of a login of its own
        (DELETE spends one, and ends its login session)."""
        return self.new_session_of(self.new_login())

    def new_login(self) -> str:
        """A token of a new login session of the shared customer."""
        identity = AuthIdentity.objects.get(
            pk=access_token_decode(self.customer_token).auth_identity_id
        )
        return services.access_token_for_login(
            identity=identity,
            provider=Provider.EMAILPASS,
            client=TEST_CLIENT,
            now=timezone.now(),
        )

    def new_reset_token(self) -> str:
        """What the reset e-mail carries (a success spends it)."""
        return services.password_reset_token_issue(
            identifier=self.reset_email, provider=Provider.EMAILPASS, now=timezone.now()
        )

    def new_registration_token(self, email: str) -> str | None:
        """A registration token for `email` (a new identity, or the unlinked
        one a previous case made), so a valid POST /store/customers body can
        succeed; None once the address has a customer, or for an address
        the route refuses anyway (its failure would count as one more
        orphan event, and enough of them pause signups)."""
        entity_id = email_normalize(email)  # the route normalizes first too
        if not email_is_valid(entity_id):
            return None
        existing = (
            ProviderIdentity.objects.filter(entity_id=entity_id)
            .select_related("auth_identity")
            .first()
        )
        now = timezone.now()
        if existing is not None:
            identity = existing.auth_identity
            if identity.customer_id is not None:
                return None
        else:
            identity = AuthIdentity.objects.create(created_at=now, updated_at=now)
            ProviderIdentity.objects.create(
                auth_identity=identity,
                provider=Provider.EMAILPASS,
                entity_id=entity_id,
                password_hash=self.password_hash,
                created_at=now,
                updated_at=now,
            )
        return services.access_token_for_login(
            identity=identity, provider=Provider.EMAILPASS, client=TEST_CLIENT, now=now
        )

    def verification_code_mailed(self, code: str) -> None:
        """Open the customer's address verification challenge whose code is
        `code`, as if the sign-up mail had carried it, so a valid
        POST /store/auth/email/verify body can succeed (once: then the
        address is proven and every later one answers 200 as is)."""
        entity_id = selectors.auth_identity_email(
            auth_identity_id=access_token_decode(self.customer_token).auth_identity_id
        )
        if entity_id is not None:
            otp_challenge_replace(
                email=entity_id, code=code, now=timezone.now(), purpose=Purpose.VERIFY
            )

    def new_customer(self, *, password: object, code: object) -> str:
        """A customer of its own for a case that erases one: its password
        is the case's, or a code mailed to it is; return its token."""
        email = f"fuzz.erase.{uuid.uuid4().hex[:12]}@example.com"
        now = timezone.now()
        customer = Customer.objects.create(
            email=email, has_account=True, created_at=now, updated_at=now
        )
        identity = AuthIdentity.objects.create(
            customer=customer, created_at=now, updated_at=now
        )
        ProviderIdentity.objects.create(
            auth_identity=identity,
            provider=Provider.EMAILPASS,
            entity_id=email,
            password_hash=make_password(password)
            if isinstance(password, str)
            else self.password_hash,
            created_at=now,
            updated_at=now,
        )
        if isinstance(code, str):
            self.code_mailed(email, code)
        return services.access_token_for_login(
            identity=identity, provider=Provider.EMAILPASS, client=TEST_CLIENT, now=now
        )

    def new_session_of(self, token: str) -> str:
        """A cookie session opened with `token`."""
        response = requests.post(
            f"{self.live_url}/auth/session",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.cookies[SESSION_COOKIE]

    @staticmethod
    def code_mailed(email: str, code: str) -> None:
        """Open a challenge for `email` whose code is `code`, as if
        POST /store/auth/otp/send had mailed it, so a valid verify body can
        succeed."""
        email = email_normalize(email)
        if not email_is_valid(email):
            return  # send refuses it: no challenge can exist
        otp_challenge_replace(email=email, code=code, now=timezone.now())


def _post_ok(live, path: str, **kwargs) -> requests.Response:
    response = live.post(path, **kwargs)
    assert response.status_code == 200, (path, response.status_code, response.text)
    return response


@pytest.fixture
def fuzz_credentials(live) -> Credentials:
    suffix = uuid.uuid4().hex[:10]
    customer_email = f"fuzz.customer.{suffix}@example.com"
    registered_email = f"fuzz.registered.{suffix}@example.com"
    reset_email = f"fuzz.reset.{suffix}@example.com"

    body = {"email": customer_email, "password": PASSWORD}
    customer_token = _post_ok(live, "/store/auth/signup", json=body).json()["token"]
    registration_token = _post_ok(
        live,
        "/auth/customer/emailpass/register",
        json={"email": registered_email, "password": PASSWORD},
    ).json()["token"]
    _post_ok(
        live, "/store/auth/signup", json={"email": reset_email, "password": PASSWORD}
    )
    credentials = Credentials(
        live_url=live.url,
        publishable_key=live.publishable_key,
        customer_token=customer_token,
        registration_token=registration_token,
        session_cookie="",
        reset_email=reset_email,
        reset_token="",
        # One hash for every identity made per case: nobody logs in with it.
        password_hash=make_password(uuid.uuid4().hex),
    )
    credentials.session_cookie = credentials.new_session()
    credentials.reset_token = credentials.new_reset_token()
    return credentials


@pytest.fixture
def fuzz_schema(live, fuzz_credentials):
    examples, seed = _fuzz_settings()
    print(f"fuzz: {examples} examples per operation, seed {seed}")  # noqa: T201
    config = SchemathesisConfig.from_dict(
        {
            "seed": seed,
            # Generation speed is not what this test measures; on a loaded
            # 2-core runner Hypothesis would call it a failure.
            "suppress-health-check": ["too_slow"],
            "base-url": live.url,
            "request-timeout": 30,
            # /store/* refuses a request without a valid key (400): send ours.
            "parameters": {"header.x-publishable-api-key": live.publishable_key},
            "generation": {
                "mode": "all",
                "max-examples": examples,
                # No .hypothesis/ directory: every run starts from its seed.
                "database": "none",
            },
            "auth": {
                "openapi": {
                    "customerToken": {"bearer": fuzz_credentials.customer_token},
                    "registrationToken": {
                        "bearer": fuzz_credentials.registration_token
                    },
                    "resetToken": {"bearer": fuzz_credentials.reset_token},
                    "sessionCookie": {"api_key": fuzz_credentials.session_cookie},
                }
            },
            "checks": {
                # A valid body can still be refused for reasons no schema
                # states: a wrong OTP code, a common password, an email that
                # is not the identity's, a rate limit. Checked below where
                # none applies.
                "positive_data_acceptance": {"enabled": False},
            },
            "operations": [
                {
                    "include-path": ALWAYS_ACCEPTING,
                    "checks": {"positive_data_acceptance": {"enabled": True}},
                    # NUL is refused in any text (the API description says
                    # so; no per-field schema can).
                    "generation": {"allow-x00": False},
                }
            ],
        }
    )
    return schemathesis.openapi.from_url(
        f"{live.url}/api/schema/?format=json", config=config, timeout=30
    )


schema = schemathesis.pytest.from_fixture("fuzz_schema")


def _bearer(case) -> str | None:
    value = (case.headers or {}).get("Authorization", "")
    return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None


def _is_positive(case) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive


def _fresh_credentials(case, credentials: Credentials) -> None:
    """Replace a configured credential a success would spend, and give a
    valid body the state it needs, so cases reach the routes' happy paths,
    not only the first one."""
    route = (case.method.upper(), case.path)
    cookies = case.cookies or {}
    body = case.body if isinstance(case.body, dict) else {}
    email, code = body.get("email"), body.get("code")
    if route == ("DELETE", "/auth/session"):
        if cookies.get(SESSION_COOKIE) == credentials.session_cookie:
            case.cookies[SESSION_COOKIE] = credentials.new_session()
    elif route == ("DELETE", "/store/customers/me/sessions/{session_id}"):
        # A session of the customer's to end, so cases reach the 200.
        if _is_positive(case):
            session_id = access_token_decode(credentials.new_login()).session_id
            case.path_parameters = {
                **(case.path_parameters or {}),
                "session_id": session_id,
            }
    elif route == ("POST", "/auth/customer/{provider}/update"):
        if _bearer(case) == credentials.reset_token:
            case.headers["Authorization"] = f"Bearer {credentials.new_reset_token()}"
    elif route == ("POST", "/store/customers"):
        if (
            _is_positive(case)
            and isinstance(email, str)
            and _bearer(case) == credentials.registration_token
        ):
            token = credentials.new_registration_token(email)
            if token is not None:
                case.headers["Authorization"] = f"Bearer {token}"
    elif route == ("POST", "/store/auth/email/verify"):
        if (
            _is_positive(case)
            and isinstance(code, str)
            and _bearer(case) == credentials.customer_token
        ):
            credentials.verification_code_mailed(code)
    elif route == ("POST", "/store/customers/me/password"):
        # A valid body revokes every other token of the account: a customer
        # of its own, whose password (or mailed code) is the case's, so the
        # case can reach the 200.
        if _is_positive(case):
            token = credentials.new_customer(
                password=body.get("current_password"), code=code
            )
            if _bearer(case) == credentials.customer_token:
                case.headers["Authorization"] = f"Bearer {token}"
            if cookies.get(SESSION_COOKIE) == credentials.session_cookie:
                case.cookies[SESSION_COOKIE] = credentials.new_session_of(token)
    elif route == ("DELETE", "/store/customers/me"):
        # A valid body erases the account: never the shared customer's.
        if _is_positive(case):
            token = credentials.new_customer(password=body.get("password"), code=code)
            if _bearer(case) == credentials.customer_token:
                case.headers["Authorization"] = f"Bearer {token}"
            if cookies.get(SESSION_COOKIE) == credentials.session_cookie:
                case.cookies[SESSION_COOKIE] = credentials.new_session_of(token)
    elif route in (
        ("POST", "/store/auth/otp/verify"),
        ("POST", "/auth/customer/email-otp"),
    ):
        if _is_positive(case) and isinstance(email, str) and isinstance(code, str):
            credentials.code_mailed(email, code)


@pytest.fixture
def fuzz_tally():
    """Cases sent and statuses seen per operation; printed, and written to
    var/artifacts/fuzz-summary.json for docs/reliability.md."""
    tally: dict[str, Counter] = defaultdict(Counter)
    yield tally
    statuses = Counter()
    for counts in tally.values():
        statuses.update(counts)
    summary = {
        "cases": sum(statuses.values()),
        "server_errors": sum(n for status, n in statuses.items() if status >= 500),
        "statuses": {str(status): n for status, n in sorted(statuses.items())},
        "operations": {
            label: {str(status): n for status, n in sorted(counts.items())}
            for label, counts in sorted(tally.items())
        },
    }
    print(  # noqa: T201
        f"fuzz: {summary['cases']} cases, {summary['server_errors']} 5xx, "
        f"statuses {summary['statuses']}"
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "fuzz-summary.json").write_text(json.dumps(summary, indent=2))


@schema.parametrize()
def test_every_route_conforms_to_its_schema(case, fuzz_credentials, fuzz_tally):
    _fresh_credentials(case, fuzz_credentials)
    # A new connection state per case: the server's Set-Cookie must not
    # leak into the next case.
    with requests.Session() as session:
        response = case.call(session=session)
        fuzz_tally[f"{case.method.upper()} {case.path}"][response.status_code] += 1
        case.validate_response(response)


# Bodies schemathesis does not generate (it writes valid JSON of the schema's
# types): what a hostile or broken client sends. Each must get a documented
# 4xx with a documented body, never a 5xx.
DEPTH = 5_000  # past the JSON decoder's recursion limit, under MAX_BODY_BYTES
HOSTILE_BODIES = {
    "nested arrays": (b"[" * DEPTH + b"]" * DEPTH, "application/json"),
    "nested objects": (b'{"a":' * DEPTH + b"1" + b"}" * DEPTH, "application/json"),
    "nested past 32": (
        b'{"email":' + b"[" * 40 + b"]" * 40 + b"}",
        "application/json",
    ),
    "5000-digit integer": (b'{"email":1' + b"0" * 5000 + b"}", "application/json"),
    "float overflow": (b'{"email":1e400}', "application/json"),
    "NaN": (b'{"email":NaN}', "application/json"),
    "invalid UTF-8": (b'{"email":"\xff\xfe"}', "application/json"),
    "UTF-8 BOM": (b'\xef\xbb\xbf{"email":"a@example.com"}', "application/json"),
    "UTF-16 charset": (b'{"email":"a"}', "application/json; charset=utf-16"),
    "unknown charset": (b'{"email":"a"}', "application/json; charset=nope"),
    "top-level number": (b"42", "application/json"),
    "NUL": (b'{"email":"a\\u0000@example.com"}', "application/json"),
    "lone surrogate": (b'{"email":"\\udfff@example.com"}', "application/json"),
    "over MAX_BODY_BYTES": (
        b'{"email":"' + b"a" * (70 * 1024) + b'"}',
        "application/json",
    ),
    "text/plain": (b"email=a", "text/plain"),
    "multipart": (
        b'--x\r\nContent-Disposition: form-data; name="email"\r\n\r\na\r\n--x--\r\n',
        "multipart/form-data; boundary=x",
    ),
    "200 form fields": (
        b"&".join(b"f%d=1" % n for n in range(200)),
        "application/x-www-form-urlencoded",
    ),
    "form NUL": (b"email=a%00b&password=c", "application/x-www-form-urlencoded"),
}


def _credential_headers(operation, credentials: Credentials) -> dict[str, str]:
    """The headers that get a request past the route's key and token checks."""
    headers = {}
    if operation.path.startswith("/store/"):
        headers["x-publishable-api-key"] = credentials.publishable_key
    token = {
        "/auth/customer/{provider}/update": credentials.new_reset_token,
        "/store/customers": lambda: credentials.registration_token,
        "/store/customers/me": lambda: credentials.customer_token,
        "/store/customers/me/password": lambda: credentials.customer_token,
        "/store/customers/me/email": lambda: credentials.customer_token,
        "/store/customers/me/email/confirm": lambda: credentials.customer_token,
        "/store/auth/email/verify/send": lambda: credentials.customer_token,
        "/store/auth/email/verify": lambda: credentials.customer_token,
        "/store/customers/me/export": lambda: credentials.customer_token,
        "/store/customers/me/addresses": lambda: credentials.customer_token,
        "/store/customers/me/addresses/{address_id}": (
            lambda: credentials.customer_token
        ),
    }.get(operation.path)
    if token is not None:
        headers["Authorization"] = f"Bearer {token()}"
    return headers


# Bodies are read before an address is looked up: any id will do.
PATH_PARAMETERS = {"provider": Provider.EMAILPASS.value, "address_id": "cuaddr_fuzz"}


def test_hostile_bodies_get_documented_4xx(live, fuzz_credentials, fuzz_schema):
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    operations = [
        result.ok()
        for result in fuzz_schema.get_all_operations()
        if result.ok().body  # the routes that read a body
    ]
    assert len(operations) >= 10
    seen = Counter()
    for operation in operations:
        for name, (body, content_type) in HOSTILE_BODIES.items():
            case = operation.Case(
                path_parameters=PATH_PARAMETERS,
                headers=_credential_headers(operation, fuzz_credentials),
            )
            response = requests.request(
                operation.method.upper(),
                live.url + case.formatted_path,
                headers={**case.headers, "Content-Type": content_type},
                data=body,
                timeout=30,
            )
            seen[response.status_code] += 1
            assert 400 <= response.status_code < 500, (
                operation.label,
                name,
                response.status_code,
                response.text[:300],
            )
            case.validate_response(response, checks=checks)
    print(f"hostile bodies: {sum(seen.values())} requests, statuses {dict(seen)}")  # noqa: T201
