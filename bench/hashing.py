"""Password hashing: the Argon2id parameters in use, the cost of one hash
(wall and CPU time, one core), of one imported Medusa scrypt-kdf verify, the
machine's hash rate with every core busy, login throughput divided by the
single-hash rate (how close logins get to what hashing alone allows), and a
failed login's time by kind of account (timing must not tell them apart).

    python -m bench.hashing [--samples 30] [--login-rps 8=30.5,32=31.2]
"""

import argparse
import multiprocessing
import os
import statistics
import time

from bench.common import django_setup, load_note, say, summary_ms, table, write_result

PASSWORD = "bench correct horse battery"  # noqa: S105  (benchmark data)
WRONG_PASSWORD = "a wrong guess"  # noqa: S105


def _timed(fn, samples: int) -> tuple[list[float], list[float]]:
    wall, cpu = [], []
    for _ in range(samples):
        w, c = time.perf_counter(), time.thread_time()
        fn()
        cpu.append(time.thread_time() - c)
        wall.append(time.perf_counter() - w)
    return wall, cpu


def _hash_for(seconds: float, counter) -> None:
    django_setup()
    from django.contrib.auth.hashers import make_password

    done = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        make_password(PASSWORD)
        done += 1
    with counter.get_lock():
        counter.value += done


def parallel_rate(processes: int, seconds: float) -> float:
    """Argon2id hashes per second with `processes` processes hashing."""
    context = multiprocessing.get_context("spawn")
    counter = context.Value("i", 0)
    workers = [
        context.Process(target=_hash_for, args=(seconds, counter))
        for _ in range(processes)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return counter.value / seconds


FAILED_LOGIN_KINDS = ("unknown", "argon2", "imported", "disabled")


def failed_login_times(samples: int) -> dict[str, list[float]]:
    """A wrong password for an unknown address, an Argon2id account, an
    imported Medusa account not yet re-hashed and an account whose password
    was disabled, interleaved round by round (the service, no HTTP)."""
    import uuid

    from django.contrib.auth.hashers import make_password

    from accounts.hashers import medusa_scrypt_blob, medusa_scrypt_encoded
    from accounts.models import AuthIdentity, Provider, ProviderIdentity
    from accounts.services import identity_authenticate_emailpass
    from core.errors import Unauthorized

    run_id = uuid.uuid4().hex[:12]
    hashes = {
        "argon2": make_password(PASSWORD),
        "imported": medusa_scrypt_encoded(
            medusa_scrypt_blob(PASSWORD, salt=os.urandom(32))
        ),
        "disabled": make_password(None),
    }
    emails = {kind: f"bench-{kind}-{run_id}@example.com" for kind in FAILED_LOGIN_KINDS}
    identities = []
    for kind, password_hash in hashes.items():
        identity = AuthIdentity.objects.create()
        identities.append(identity.pk)
        ProviderIdentity.objects.create(
            auth_identity=identity,
            provider=Provider.EMAILPASS,
            entity_id=emails[kind],
            password_hash=password_hash,
        )
    times: dict[str, list[float]] = {kind: [] for kind in FAILED_LOGIN_KINDS}
    try:
        for round_ in range(samples + 1):
            for kind in FAILED_LOGIN_KINDS:
                start = time.perf_counter()
                try:
                    identity_authenticate_emailpass(
                        email=emails[kind], password=WRONG_PASSWORD
                    )
                except Unauthorized:
                    pass
                if round_:  # the first round warms up
                    times[kind].append(time.perf_counter() - start)
    finally:
        AuthIdentity.objects.filter(pk__in=identities).delete()
    return times


def run(*, samples: int, login_rps: dict | None = None, rate_seconds=5.0) -> dict:
    from django.contrib.auth.hashers import (
        check_password,
        identify_hasher,
        make_password,
    )

    from accounts.hashers import medusa_scrypt_blob

    encoded = make_password(PASSWORD)
    hasher = identify_hasher(encoded)
    decoded = hasher.decode(encoded)
    params = {
        "algorithm": decoded["algorithm"],
        "variant": decoded.get("variety"),
        "version": decoded.get("version"),
        "memory_kib": decoded.get("memory_cost"),
        "time_cost": decoded.get("time_cost"),
        "parallelism": decoded.get("parallelism"),
        "example_prefix": encoded.split("$", 4)[:4],
    }
    scrypt = "medusa_scrypt$" + medusa_scrypt_blob(PASSWORD, salt=os.urandom(32))

    make_password(PASSWORD)  # warm-up
    hash_wall, hash_cpu = _timed(lambda: make_password(PASSWORD), samples)
    verify_wall, verify_cpu = _timed(lambda: check_password(PASSWORD, encoded), samples)
    scrypt_wall, scrypt_cpu = _timed(
        lambda: check_password(PASSWORD, scrypt), max(5, samples // 3)
    )
    if not check_password(PASSWORD, scrypt):
        raise RuntimeError("the Medusa scrypt hash did not verify")

    failed = failed_login_times(max(5, samples // 2))
    unknown_p50 = statistics.median(failed["unknown"])
    single_rate = 1 / statistics.median(hash_wall)
    cores = os.cpu_count() or 1
    machine_rate = parallel_rate(cores, rate_seconds)
    results = {
        "argon2": params,
        "argon2_hash": summary_ms(hash_wall),
        "argon2_hash_cpu": summary_ms(hash_cpu),
        "argon2_verify": summary_ms(verify_wall),
        "argon2_verify_cpu": summary_ms(verify_cpu),
        "scrypt_verify": summary_ms(scrypt_wall),
        "scrypt_verify_cpu": summary_ms(scrypt_cpu),
        "scrypt_params": {"log_n": 15, "r": 8, "p": 1, "memory_mib": 32},
        "single_hash_rate_per_s": round(single_rate, 2),
        "machine_hash_rate_per_s": round(machine_rate, 2),
        "machine_processes": cores,
        "failed_login": {kind: summary_ms(t) for kind, t in failed.items()},
        "failed_login_p50_over_unknown": {
            kind: round(statistics.median(t) / unknown_p50, 3)
            for kind, t in failed.items()
        },
        "login_rps": {str(c): rps for c, rps in (login_rps or {}).items()},
        "login_rps_over_single_hash_rate": {
            str(c): round(rps / single_rate, 3) for c, rps in (login_rps or {}).items()
        },
    }
    say(f"\npassword hashing; {load_note()}")
    say(
        f"Argon2id m={params['memory_kib']} KiB ({params['memory_kib'] / 1024:g} MiB),"
        f" t={params['time_cost']}, p={params['parallelism']}"
    )
    rows = [
        ["Argon2id hash", *_row(hash_wall, hash_cpu)],
        ["Argon2id verify", *_row(verify_wall, verify_cpu)],
        ["Medusa scrypt verify (N=2^15, r=8, p=1)", *_row(scrypt_wall, scrypt_cpu)],
    ]
    say(table(["operation", "p50 ms", "p99 ms", "CPU p50 ms"], rows))
    say(
        table(
            ["failed login", "p50 ms", "p99 ms", "p50 / unknown"],
            [
                [
                    kind,
                    results["failed_login"][kind]["p50_ms"],
                    results["failed_login"][kind]["p99_ms"],
                    results["failed_login_p50_over_unknown"][kind],
                ]
                for kind in FAILED_LOGIN_KINDS
            ],
        )
    )
    say(
        f"single-hash rate {single_rate:.1f}/s; {cores} processes hashing: "
        f"{machine_rate:.1f}/s"
    )
    for c, ratio in results["login_rps_over_single_hash_rate"].items():
        rps = results["login_rps"][c]
        say(
            f"login at {c} connections: {rps:.1f} req/s = {ratio:.2f} x the "
            "single-hash rate"
        )
    return results


def _row(wall, cpu):
    w, c = summary_ms(wall), summary_ms(cpu)
    return [w["p50_ms"], w["p99_ms"], c["p50_ms"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--login-rps", default="")
    args = parser.parse_args()
    django_setup()
    login_rps = {
        int(k): float(v)
        for k, v in (p.split("=") for p in args.login_rps.split(",") if p)
    }
    result = run(samples=args.samples, login_rps=login_rps)
    say(f"\nwrote {write_result('hashing', result)}")


if __name__ == "__main__":
    main()
