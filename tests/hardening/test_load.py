"""A mixed workload against the live web server of ./dev test: two-step and
one-step signups, logins, profile reads, OTP send and verify, token refresh;
at least 10,000 requests, 50 at a time.

A correctness test, not a timing test: it asserts that no request got a 5xx
or any other unexpected answer, and that afterwards every signup that got a
2xx has all its rows and no customer lacks its identity. The figures go to
the terminal and to var/artifacts/load.json (docs/reliability.md).
"""

import json
import os
import random
import shutil
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from django.utils import timezone

from accounts.models import AuthIdentity, Customer, Provider, ProviderIdentity
from otp.codes import code_generate
from otp.models import OtpChallenge
from otp.services import otp_challenge_replace
from tests.factories import PASSWORD
from tests.hardening.integrity import rows_missing_their_parts
from tests.hardening.traffic import CallFailed, Traffic
from tests.mailbox import texts_by_recipient
from tests.otp.conftest import wrong

ARTIFACT = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "load.json"
CONCURRENCY = 50
MIN_REQUESTS = 10_000

# Scenarios and how many of each; the requests each sends are in its
# function. Argon2 (about 25 ms of CPU a hash) is spent by register, login
# and signup only, so the mix keeps those to about one request in seven.
TWO_STEP = 440  # register, create customer, login, 4 reads, 2 refreshes: 9
ONE_STEP = 480  # signup, 4 reads, 2 refreshes: 7
OTP_LOGIN = 360  # wrong code, right code, create customer, refresh, 3 reads: 7
OTP_SEND = 400  # send through the worker: 1
READS = 3

ME = "GET /store/customers/me"
SEND = "POST /store/auth/otp/send"
VERIFY = "POST /store/auth/otp/verify"


@dataclass
class Outcome:
    """What the server acknowledged for one address: the rows it promised."""

    kind: str
    email: str
    identity: bool = False  # an answer that implies identity + provider identity
    customer_id: str | None = None  # a 2xx customer, linked to that identity
    provider: str = Provider.EMAILPASS


def reads_and_refreshes(traffic: Traffic, token: str, customer_id: str) -> None:
    def me(token: str) -> None:
        body = traffic.call("GET", "/store/customers/me", token=token).json()
        if body["customer"]["id"] != customer_id:
            raise CallFailed(f"{ME}: another customer's profile")

    for _ in range(READS):
        me(token)
    for _ in range(2):
        token = traffic.call("POST", "/auth/token/refresh", token=token).json()["token"]
    me(token)


def two_step(traffic: Traffic, email: str) -> Outcome:
    outcome = Outcome("two_step", email)
    credentials = {"email": email, "password": PASSWORD}
    token = traffic.call(
        "POST", "/auth/customer/emailpass/register", json=credentials
    ).json()["token"]
    outcome.identity = True
    customer = traffic.call(
        "POST",
        "/store/customers",
        token=token,
        json={"email": email, "first_name": "Load"},
    ).json()["customer"]
    outcome.customer_id = customer["id"]
    token = traffic.call("POST", "/auth/customer/emailpass", json=credentials).json()[
        "token"
    ]
    reads_and_refreshes(traffic, token, customer["id"])
    return outcome


def one_step(traffic: Traffic, email: str) -> Outcome:
    outcome = Outcome("one_step", email)
    body = traffic.call(
        "POST",
        "/store/auth/signup",
        json={"email": email, "password": PASSWORD, "last_name": "Load"},
    ).json()
    outcome.identity = True
    outcome.customer_id = body["customer"]["id"]
    reads_and_refreshes(traffic, body["token"], body["customer"]["id"])
    return outcome


def otp_login(traffic: Traffic, email: str, code: str) -> Outcome:
    outcome = Outcome("otp_login", email, provider=Provider.EMAIL_OTP)
    refused = traffic.call(
        "POST",
        "/store/auth/otp/verify",
        json={"email": email, "code": wrong(code)},
        expect=(400,),
    ).json()
    if refused.get("code") != "otp_invalid":
        raise CallFailed(f"{VERIFY}: wrong code answered {refused}")
    verified = traffic.call(
        "POST", "/store/auth/otp/verify", json={"email": email, "code": code}
    ).json()
    if verified.get("requiresProfile") is not True:
        raise CallFailed(f"{VERIFY}: a new address did not need a profile")
    outcome.identity = True
    customer = traffic.call(
        "POST", "/store/customers", token=verified["token"], json={"email": email}
    ).json()["customer"]
    outcome.customer_id = customer["id"]
    # The registration token, refreshed, speaks for the new customer.
    token = traffic.call("POST", "/auth/token/refresh", token=verified["token"]).json()[
        "token"
    ]
    for _ in range(READS):
        body = traffic.call("GET", "/store/customers/me", token=token).json()
        if body["customer"]["id"] != customer["id"]:
            raise CallFailed(f"{ME}: another customer's profile")
    return outcome


def otp_send_live(traffic: Traffic, email: str) -> Outcome:
    body = traffic.call("POST", "/store/auth/otp/send", json={"email": email}).json()
    if body != {"success": True, "expiresIn": 600}:
        raise CallFailed(f"{SEND}: {body}")
    return Outcome("otp_send", email, provider=Provider.EMAIL_OTP)


def scenario_play(
    traffic: Traffic,
    kind: str,
    email: str,
    codes: dict[str, str],
    outcomes: list[Outcome],
    failed: Counter,
    lock: threading.Lock,
) -> None:
    """One scenario of the mix (an OTP login uses the code opened for its
    address); its Outcome is added to OUTCOMES, or FAILED counts its kind
    when an answer was not the expected one."""
    try:
        if kind == "otp_login":
            outcome = otp_login(traffic, email, codes[email])
        else:
            scenario = {"two_step": two_step, "one_step": one_step}
            outcome = scenario.get(kind, otp_send_live)(traffic, email)
    except CallFailed:
        with lock:
            failed[kind] += 1
        return
    with lock:
        outcomes.append(outcome)


def codes_open(emails: list[str]) -> dict[str, str]:
    """Challenges opened in this process with codes of the test's choosing
    (no mail: the live stack's drains would race this process for it); the
    live server sees the committed rows."""
    codes = {email: code_generate() for email in emails}
    for email, code in codes.items():
        otp_challenge_replace(email=email, code=code, now=timezone.now())
    return codes


def delivered_recipients(mail_dir: str, wanted: set[str], timeout: float) -> set[str]:
    """Which of `wanted` the live worker has mailed, waiting up to `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = wanted & texts_by_recipient(mail_dir).keys()
        if found == wanted or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def rows_check(outcomes: list[Outcome]) -> dict[str, int]:
    """Every acknowledged signup has its rows; return how many were read."""
    emails = [o.email for o in outcomes]
    provider_rows = {
        (row["entity_id"], row["provider"]): row
        for row in ProviderIdentity.objects.filter(entity_id__in=emails).values(
            "entity_id", "provider", "auth_identity_id", "auth_identity__customer_id"
        )
    }
    customers = dict(
        Customer.objects.filter(email__in=emails).values_list("id", "email")
    )
    problems = []
    for outcome in outcomes:
        row = provider_rows.get((outcome.email, outcome.provider))
        if outcome.identity and row is None:
            problems.append(f"{outcome.kind} {outcome.email}: no provider identity")
            continue
        if outcome.customer_id is not None:
            if customers.get(outcome.customer_id) != outcome.email:
                problems.append(f"{outcome.kind} {outcome.email}: no customer row")
            elif row["auth_identity__customer_id"] != outcome.customer_id:
                problems.append(f"{outcome.kind} {outcome.email}: identity not linked")
    assert not problems, problems[:20]

    # Whole tables: no customer without its identity, no identity without a
    # provider identity, no unlinked identity left by this run.
    orphans = AuthIdentity.objects.filter(
        customer__isnull=True, provider_identities__entity_id__in=emails
    ).count()
    assert (*rows_missing_their_parts(), orphans) == (0, 0, 0)
    return {
        "customers": Customer.objects.count(),
        "auth_identities": AuthIdentity.objects.count(),
        "provider_identities": ProviderIdentity.objects.count(),
        "signups_acknowledged": sum(1 for o in outcomes if o.customer_id),
    }


def test_mixed_load_of_10000_requests_at_concurrency_50(live, mail_dir, capsys):
    run = uuid.uuid4().hex[:8]
    otp_emails = [f"load.{run}.otp.{n}@example.com" for n in range(OTP_LOGIN)]
    codes = codes_open(otp_emails)
    jobs = (
        [("two_step", f"load.{run}.two.{n}@example.com") for n in range(TWO_STEP)]
        + [("one_step", f"load.{run}.one.{n}@example.com") for n in range(ONE_STEP)]
        + [("otp_login", email) for email in otp_emails]
        + [("otp_send", f"load.{run}.send.{n}@example.com") for n in range(OTP_SEND)]
    )
    random.Random(run).shuffle(jobs)
    traffic = Traffic(live.url, live.publishable_key)
    outcomes: list[Outcome] = []
    failed = Counter()
    lock = threading.Lock()

    def play(job: tuple[str, str]) -> None:
        kind, email = job
        scenario_play(traffic, kind, email, codes, outcomes, failed, lock)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        list(pool.map(play, jobs))
    elapsed = time.monotonic() - started

    sends = {o.email for o in outcomes if o.kind == "otp_send"}
    live_challenges = OtpChallenge.objects.filter(
        email__in=sends,
        consumed_at__isnull=True,
        locked_at__isnull=True,
        replaced_at__isnull=True,
    ).count()
    delivered = delivered_recipients(mail_dir, sends, timeout=120)
    rows = rows_check([o for o in outcomes if o.kind != "otp_send"])
    figures = {
        **traffic.figures("tests/hardening/test_load.py", elapsed),
        "concurrency": CONCURRENCY,
        "server_errors_5xx": len(traffic.server_errors),
        "unexpected_answers": len(traffic.unexpected),
        "scenarios": dict(Counter(kind for kind, _ in jobs)),
        "scenarios_failed": dict(failed),
        "by_route": traffic.by_route(),
        "rows_checked": rows,
        "otp_sends_with_live_challenge": live_challenges,
        "otp_mails_delivered": len(delivered),
    }
    figures["first_unexpected"] = [
        {
            "route": call.route,
            "status": call.status,
            "at_second": round(call.started - started, 2),
            "body": call.body,
        }
        for call in traffic.unexpected[:10]
    ]
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(figures, indent=2) + "\n")
    if traffic.unexpected and os.environ.get("TEST_LOG_DIR"):
        # The server's side of the story, for the failure (tracebacks included).
        shutil.copy(
            Path(os.environ["TEST_LOG_DIR"], "web.log"),
            ARTIFACT.with_name("load-web.log"),
        )
    with capsys.disabled():
        print(f"\nload: {json.dumps(figures, indent=2)}")  # noqa: T201

    assert not traffic.server_errors, traffic.server_errors[:10]
    assert not traffic.unexpected, traffic.unexpected[:10]
    assert not failed
    assert traffic.sent >= MIN_REQUESTS
    assert live_challenges == len(sends) == OTP_SEND
    assert delivered == sends
