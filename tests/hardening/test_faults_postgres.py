"""PostgreSQL stopped and started under load: 503s, never a 500, nothing
acknowledged lost, and everything back after the restart.

These run on the live stack ./dev test starts (docs/reliability.md)."""

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from django.db import connection

from accounts.models import (
    Provider,
    ProviderIdentity,
)
from tests.factories import PASSWORD, customer_create, token_for
from tests.hardening.faults import (
    JSON,
    NEW_PASSWORD,
    SLOWEST_ANSWER,
    UNAVAILABLE,
    LogTail,
    assert_unavailable,
    figures_record,
    mail_wait,
    no_partial_rows,
    processes_alive,
    reset_token_in,
    stopped,
    timed,
    worker_delivers,
)
from tests.hardening.traffic import CallFailed, Traffic


def test_postgres_stopped_and_restarted_under_load(live, email, mail_dir):
    customers = [customer_create(email=f"reader{n}.{email}") for n in range(4)]
    tokens = [token_for(customer) for customer in customers]
    web_log, worker_log = LogTail("web.log"), LogTail("worker.log")
    traffic = Traffic(live.url, live.publishable_key, timeout=30, keep_calls=True)
    either = (200, UNAVAILABLE)
    one_step: dict[str, int] = {}  # email -> status of the signup
    two_step: dict[str, tuple[str, int]] = {}  # email -> (token, status of step 2)
    stop = threading.Event()

    def user(n: int) -> None:
        for i in range(10_000):
            if stop.is_set():
                return
            try:
                step(n, i)
            except CallFailed:
                pass  # counted in traffic.unexpected

    def step(n: int, i: int) -> None:
        address = f"pg.{n}.{i}.{email}"
        if i % 4 == 0:
            traffic.call(
                "GET", "/store/customers/me", token=tokens[n % 4], expect=either
            )
        elif i % 4 == 1:
            signed = traffic.call(
                "POST",
                "/store/auth/signup",
                json={"email": address, "password": PASSWORD},
                expect=either,
            )
            one_step[address] = signed.status_code
        elif i % 4 == 2:
            registered = traffic.call(
                "POST",
                "/auth/customer/emailpass/register",
                json={"email": address, "password": PASSWORD},
                expect=either,
            )
            if registered.status_code == 200:
                token = registered.json()["token"]
                two_step[address] = (token, 0)
                created = traffic.call(
                    "POST",
                    "/store/customers",
                    token=token,
                    json={"email": address},
                    expect=either,
                )
                two_step[address] = (token, created.status_code)
        else:
            traffic.call("GET", "/health", headers=JSON, expect=either)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        users = [pool.submit(user, n) for n in range(8)]
        try:
            time.sleep(3)
            stopping = time.monotonic()
            with stopped("pg"):
                down = time.monotonic()
                # Answers while the database is down: quick 503 JSON.
                health = timed(live.get, "/health", headers=JSON)
                assert health.status_code == UNAVAILABLE
                assert health.json()["database"] == "unavailable"
                assert_unavailable(
                    timed(live.get, "/store/customers/me", token=tokens[0])
                )
                # The counters still, without the gauges read from PostgreSQL.
                scrape = timed(live.get, "/metrics")
                assert scrape.status_code == 200, scrape.text
                assert "# TYPE signup_attempts_total counter" in scrape.text
                assert "# TYPE orphaned_auth_identities gauge" not in scrape.text
                assert_unavailable(
                    timed(
                        live.post,
                        "/auth/customer/emailpass",
                        json={"email": customers[0].email, "password": PASSWORD},
                    )
                )
                assert_unavailable(
                    timed(
                        live.post,
                        "/store/auth/otp/send",
                        json={"email": f"pg.otp.{email}"},
                    )
                )
                # The broker is up: the reset is queued, and the worker must
                # not lose it although it cannot read the database yet.
                reset = timed(
                    live.post,
                    "/auth/customer/emailpass/reset-password",
                    json={"identifier": customers[1].email},
                )
                assert (reset.status_code, reset.text) == (201, "Created")
                time.sleep(max(0.0, down + 5 - time.monotonic()))
            up = time.monotonic()
            while live.get("/health").status_code != 200:
                assert time.monotonic() < up + 30, "/health did not recover in 30 s"
                time.sleep(0.2)
            recovered = time.monotonic()
            time.sleep(4)
        finally:
            stop.set()
            for future in users:
                future.result()
    connection.close()  # the pytest process's connection died with the server

    during = [c for c in traffic.calls if stopping <= c.started < up]
    after = [c for c in traffic.calls if c.started >= recovered + 1]
    load_figures = {
        "load_requests": traffic.sent,
        "load_statuses": {
            str(k): v for k, v in Counter(c.status for c in traffic.calls).items()
        },
        "load_requests_during_outage": len(during),
        "load_requests_after_recovery": len(after),
        "slowest_answer_seconds": round(max(c.elapsed for c in traffic.calls), 2),
        "stop_seconds": round(down - stopping, 1),
        "down_seconds": round(up - down, 1),
        "recovery_seconds": round(recovered - up, 1),
        "test_seconds": round(time.monotonic() - started, 1),
    }
    assert not [c for c in traffic.calls if c.status not in either], traffic.unexpected
    for call in traffic.server_errors:
        assert call.status == UNAVAILABLE
        assert '"unavailable"' in call.body, call
    assert max(c.elapsed for c in traffic.calls) < SLOWEST_ANSWER
    assert any(c.status == UNAVAILABLE for c in during), "the fault was not seen"
    assert after, "no traffic after recovery"
    assert all(c.status == 200 for c in after), Counter(c.status for c in after)
    log = web_log.new()
    assert "Internal Server Error" not in log
    assert "Traceback" not in log

    # State after: acknowledged signups have all their rows; a refused
    # one-step signup has all or none; nothing is half-made.
    rows = no_partial_rows()
    identities = dict(
        ProviderIdentity.objects.filter(
            entity_id__in=[*one_step, *two_step], provider=Provider.EMAILPASS
        ).values_list("entity_id", "auth_identity__customer_id")
    )
    for address, status in one_step.items():
        if status == 200:
            assert identities.get(address), address
        else:
            assert address not in identities or identities[address], address
    for address, (_, status) in two_step.items():
        assert address in identities, address
        if status == 200:
            assert identities[address], address

    # Full recovery: a step 2 refused during the outage succeeds when retried.
    retried = [a for a, (_, s) in two_step.items() if s != 200][:10]
    for address in retried:
        created = live.post(
            "/store/customers", token=two_step[address][0], json={"email": address}
        )
        assert created.status_code == 200, created.text
    no_partial_rows()
    processes_alive()
    texts, missing = mail_wait(mail_dir, {customers[1].email}, timeout=90)
    assert not missing, "the reset asked for during the outage was never mailed"
    assert "Retry in" in worker_log.new()  # it was retried, not lucky
    assert customers[1].email not in worker_log.new()  # masked in the retry too
    updated = live.post(
        "/auth/customer/emailpass/update",
        token=reset_token_in(texts[customers[1].email][-1]),
        json={"password": NEW_PASSWORD},
    )
    assert updated.json() == {"success": True}
    worker_delivers(live, mail_dir)
    figures_record(
        "postgres_stopped_under_load",
        web_log,
        **load_figures,
        rows_checked=rows,
        signups_checked={"one_step": len(one_step), "two_step": len(two_step)},
        step_2_retried_after_recovery=len(retried),
    )
