"""Set-based loader: N auth identities with their provider identities and
customers, a chosen share of them orphans, in a few INSERT ... SELECT
generate_series statements (no ORM, no row-by-row round trips).

Row i (1..N) is deterministic, so a benchmark can address any row without
reading it back, and a data set can grow from 10^3 to 10^6 by adding rows:

- identity `authid_01BENCH<i, 19 digits>` (26 characters after the prefix,
  Crockford base32 like a ULID), created `ANCHOR + i seconds` (all far older
  than ORPHAN_MAX_AGE), `updated_at = created_at`;
- orphan or not: row i is an orphan when `floor(i*s) > floor((i-1)*s)` for
  the share s (in parts per million, integer arithmetic, so Python and SQL
  agree); an orphan has no customer and no proven email, like a two-step
  signup abandoned after register;
- a non-orphan has customer `cus_01BENCH<i>` (email `user<i>@bench.example`,
  has_account) and a proven email (`email_verified_at`);
- every identity has an emailpass provider identity (entity id
  `user<i>@bench.example`, or `orphan<i>@bench.example`) whose hash is ONE
  real Argon2id hash of PASSWORD made once and shared by every row: any
  customer row logs in with PASSWORD, and lookups still walk the real indexes;
- every customer has one open login session `sess_01BENCH<i>` (last used
  at load time), which the benchmarks' tokens name, as a login's do;
- every OTP_EVERY-th customer also has an email-otp provider identity (a
  returning OTP user; the OTP benchmark logs in as those);
- with `addresses`, every customer has 1 to 3 addresses
  (bench/load_addresses.py).

The rows are the shop's existing data, like the importer's: loading them
records no replication change (`storefront.replica = 'off'`, replica/).

`scrypt_accounts_create` adds a few customers whose hash is a Medusa
scrypt-kdf blob (imported users), `otp_challenges_create` opens challenges
with a known code for the OTP verify benchmark.

    python -m bench.load_data --n 100000 --orphan-share 0.1 [--addresses] [--reset]
"""

import argparse
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.common import backend_cpu_seconds

PASSWORD = "bench correct horse battery"  # noqa: S105  (benchmark data)
OTP_CODE = "246810"
ANCHOR = datetime(2024, 1, 1, tzinfo=UTC)
DOMAIN = "bench.example"
ID_TAG = "01BENCH"
PPM = 1_000_000
CHUNK = 250_000

TRUNCATE_SQL = """
TRUNCATE accounts_customer, accounts_customeraddress, accounts_authidentity,
         accounts_provideridentity, accounts_passwordresettoken,
         accounts_loginsession,
         otp_otpchallenge, otp_otpmail, otp_otpfailurebudget,
         orphans_orphandeletion,
         orphans_orphanhold, orphans_orphanevent, orphans_sweeprun,
         replica_change, replica_synccursor, django_session
"""

META_SQL = """
CREATE TABLE IF NOT EXISTS bench_dataset (
    id int PRIMARY KEY CHECK (id = 1),
    n bigint NOT NULL,
    share_ppm int NOT NULL,
    otp_every int NOT NULL
);
ALTER TABLE bench_dataset ADD COLUMN IF NOT EXISTS addresses boolean NOT NULL
    DEFAULT false
"""

# %(ppm)s: orphan share in parts per million. The same test in Python:
# `is_orphan`. Integer division of non-negative bigints is floor().
ORPHAN = "((i * %(ppm)s) / 1000000 > ((i - 1) * %(ppm)s) / 1000000)"
SERIES = "generate_series(%(lo)s::bigint + 1, %(hi)s::bigint) AS i"
CREATED = "(%(anchor)s::timestamptz + i * interval '1 second')"

INSERT_CUSTOMERS = f"""
INSERT INTO accounts_customer
    (id, email, company_name, first_name, last_name, phone, has_account,
     metadata, created_at, updated_at, deleted_at)
SELECT 'cus_{ID_TAG}' || lpad(i::text, 19, '0'),
       'user' || i || '@{DOMAIN}', NULL, 'Bench', 'User ' || i, NULL, true,
       NULL, {CREATED}, {CREATED}, NULL
FROM {SERIES}
WHERE NOT {ORPHAN}
"""  # noqa: S608  (constants, no input)

INSERT_IDENTITIES = f"""
INSERT INTO accounts_authidentity
    (id, customer_id, app_metadata, tokens_valid_after, email_verified_at,
     created_at, updated_at)
SELECT 'authid_{ID_TAG}' || lpad(i::text, 19, '0'),
       CASE WHEN {ORPHAN} THEN NULL
            ELSE 'cus_{ID_TAG}' || lpad(i::text, 19, '0') END,
       '{{}}'::jsonb, NULL,
       CASE WHEN {ORPHAN} THEN NULL ELSE {CREATED} END,
       {CREATED}, {CREATED}
FROM {SERIES}
"""  # noqa: S608  (constants, no input)

INSERT_EMAILPASS = f"""
INSERT INTO accounts_provideridentity
    (id, auth_identity_id, provider, entity_id, password_hash,
     provider_metadata, user_metadata, created_at, updated_at)
SELECT 'provid_{ID_TAG}P' || lpad(i::text, 18, '0'),
       'authid_{ID_TAG}' || lpad(i::text, 19, '0'),
       'emailpass',
       CASE WHEN {ORPHAN} THEN 'orphan' ELSE 'user' END || i || '@{DOMAIN}',
       %(password_hash)s, NULL, NULL, {CREATED}, {CREATED}
FROM {SERIES}
"""  # noqa: S608  (constants, no input)

INSERT_EMAIL_OTP = f"""
INSERT INTO accounts_provideridentity
    (id, auth_identity_id, provider, entity_id, password_hash,
     provider_metadata, user_metadata, created_at, updated_at)
SELECT 'provid_{ID_TAG}Q' || lpad(i::text, 18, '0'),
       'authid_{ID_TAG}' || lpad(i::text, 19, '0'),
       'email-otp', 'user' || i || '@{DOMAIN}', NULL, NULL, NULL,
       {CREATED}, {CREATED}
FROM {SERIES}
WHERE NOT {ORPHAN} AND i %% %(otp_every)s = 0
"""  # noqa: S608  (constants, no input)

INSERT_SESSIONS = f"""
INSERT INTO accounts_loginsession
    (id, auth_identity_id, auth_provider, user_agent, ip_prefix, created_at,
     last_used_at)
SELECT 'sess_{ID_TAG}' || lpad(i::text, 19, '0'),
       'authid_{ID_TAG}' || lpad(i::text, 19, '0'),
       'emailpass', 'bench', '127.0.0.0/24', {CREATED}, now()
FROM {SERIES}
WHERE NOT {ORPHAN}
"""  # noqa: S608  (constants, no input)

ANALYZED = (
    "accounts_customer",
    "accounts_authidentity",
    "accounts_provideridentity",
    "accounts_customeraddress",
    "accounts_loginsession",
)


@dataclass(frozen=True)
class Dataset:
    n: int
    share_ppm: int
    otp_every: int
    addresses: bool = False  # 1 to 3 per customer (bench/load_addresses.py)

    def is_orphan(self, i: int) -> bool:
        return is_orphan(i, self.share_ppm)

    @property
    def orphans(self) -> int:
        return self.n * self.share_ppm // PPM

    @property
    def customers(self) -> int:
        return self.n - self.orphans


def is_orphan(i: int, share_ppm: int) -> bool:
    return (i * share_ppm) // PPM > ((i - 1) * share_ppm) // PPM


def identity_id(i: int) -> str:
    return f"authid_{ID_TAG}{i:019d}"


def session_id(i: int) -> str:
    return f"sess_{ID_TAG}{i:019d}"


def customer_id(i: int) -> str:
    return f"cus_{ID_TAG}{i:019d}"


def customer_email(i: int) -> str:
    return f"user{i}@{DOMAIN}"


def orphan_email(i: int) -> str:
    return f"orphan{i}@{DOMAIN}"


def scrypt_email(j: int) -> str:
    return f"scrypt{j}@{DOMAIN}"


def share_ppm(share: float) -> int:
    if not 0 <= share < 1:
        raise ValueError("the orphan share must be in [0, 1)")
    return round(share * PPM)


def dataset_get(cursor) -> Dataset | None:
    cursor.execute(META_SQL)
    cursor.execute(
        "SELECT n, share_ppm, otp_every, addresses FROM bench_dataset WHERE id = 1"
    )
    row = cursor.fetchone()
    return Dataset(*row) if row else None


def _dataset_put(cursor, dataset: Dataset) -> None:
    cursor.execute(
        """INSERT INTO bench_dataset (id, n, share_ppm, otp_every, addresses)
        VALUES (1, %s, %s, %s, %s)
        ON CONFLICT (id) DO UPDATE SET n = EXCLUDED.n,
            share_ppm = EXCLUDED.share_ppm, otp_every = EXCLUDED.otp_every,
            addresses = EXCLUDED.addresses""",
        [dataset.n, dataset.share_ppm, dataset.otp_every, dataset.addresses],
    )


def reset(cursor) -> None:
    """Empty every table a benchmark writes (keys and staff users stay)."""
    cursor.execute(META_SQL)
    cursor.execute(TRUNCATE_SQL)
    cursor.execute("DELETE FROM bench_dataset")


def password_hash() -> str:
    """One real Argon2id hash (the hasher in use, its parameters)."""
    from django.contrib.auth.hashers import make_password

    return make_password(PASSWORD)


def ensure(
    n: int,
    *,
    orphan_share: float = 0.1,
    otp_every: int = 2,
    addresses: bool = False,
    fresh: bool = False,
    progress=None,
    stats: dict | None = None,
) -> tuple[Dataset, float]:
    """Make the database hold exactly the data set (n, share, addresses or
    not): grow it when it holds a prefix of it, else start from empty.
    Returns the data set and the seconds spent loading (0 when nothing was
    added). `stats`, if given, receives the CPU seconds the PostgreSQL
    backend spent loading."""
    from django.db import connection, transaction

    ppm = share_ppm(orphan_share)
    wanted = Dataset(n, ppm, otp_every, addresses)
    with connection.cursor() as cursor:
        current = dataset_get(cursor)
        keep = (
            not fresh
            and current is not None
            and current.share_ppm == ppm
            and current.otp_every == otp_every
            and current.addresses == addresses
            and current.n <= n
        )
        if not keep:
            reset(cursor)
            current = Dataset(0, ppm, otp_every, addresses)
        if current.n == n:
            return current, 0.0
        started = time.perf_counter()
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
        cpu_before = backend_cpu_seconds(backend)
        hashed = password_hash()
        lo = current.n
        while lo < n:
            hi = min(n, lo + CHUNK)
            with transaction.atomic():
                insert_rows(
                    cursor,
                    lo=lo,
                    hi=hi,
                    share_ppm=ppm,
                    otp_every=otp_every,
                    password_hash=hashed,
                    addresses=addresses,
                )
                _dataset_put(cursor, Dataset(hi, ppm, otp_every, addresses))
            if progress is not None:
                progress(hi, n)
            lo = hi
        # Fresh statistics and a clean visibility map, as a database that
        # grew slowly would have (autovacuum); the plans depend on them.
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(ANALYZED)}")
        # And the bulk load's dirty pages written out now, so the checkpoint
        # they would trigger does not land in the middle of a measurement.
        cursor.execute("CHECKPOINT")
        if stats is not None and cpu_before is not None:
            stats["cpu_postgres_s"] = backend_cpu_seconds(backend) - cpu_before
        return wanted, time.perf_counter() - started


def insert_rows(
    cursor,
    *,
    lo: int,
    hi: int,
    share_ppm: int,
    otp_every: int,
    password_hash: str,
    addresses: bool = False,
) -> None:
    """Rows lo+1..hi: customers, identities, provider identities, and the
    customers' addresses if asked (call in a transaction: foreign keys are
    checked at its end, and the replica's triggers are off until then)."""
    from bench.load_addresses import insert_addresses

    cursor.execute("SET LOCAL storefront.replica = 'off'")
    params = {
        "lo": lo,
        "hi": hi,
        "ppm": share_ppm,
        "otp_every": otp_every,
        "anchor": ANCHOR,
        "password_hash": password_hash,
    }
    for statement in (
        INSERT_CUSTOMERS,
        INSERT_IDENTITIES,
        INSERT_EMAILPASS,
        INSERT_EMAIL_OTP,
        INSERT_SESSIONS,
    ):
        cursor.execute(statement, params)
    if addresses:
        insert_addresses(cursor, params)


def scrypt_accounts_create(count: int) -> str:
    """`count` customers whose password is a Medusa scrypt-kdf blob (one
    blob, made once): `scrypt<j>@bench.example` with PASSWORD. Returns the
    stored hash string. Their first login re-hashes with Argon2id."""
    import os

    from django.db import connection, transaction

    from accounts.hashers import medusa_scrypt_blob

    stored = "medusa_scrypt$" + medusa_scrypt_blob(PASSWORD, salt=os.urandom(32))
    created = ANCHOR - timedelta(days=1)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM accounts_provideridentity WHERE id LIKE %s",
            [f"provid_{ID_TAG}S%"],
        )
        cursor.execute(
            "DELETE FROM accounts_authidentity WHERE id LIKE %s",
            [f"authid_{ID_TAG}S%"],
        )
        cursor.execute(
            "DELETE FROM accounts_customer WHERE id LIKE %s", [f"cus_{ID_TAG}S%"]
        )
        params = {"n": count, "hash": stored, "at": created}
        cursor.execute(
            f"""INSERT INTO accounts_customer
                (id, email, has_account, created_at, updated_at)
            SELECT 'cus_{ID_TAG}S' || lpad(j::text, 18, '0'),
                   'scrypt' || j || '@{DOMAIN}', true, %(at)s, %(at)s
            FROM generate_series(1, %(n)s) AS j""",  # noqa: S608
            params,
        )
        cursor.execute(
            f"""INSERT INTO accounts_authidentity
                (id, customer_id, app_metadata, email_verified_at,
                 created_at, updated_at)
            SELECT 'authid_{ID_TAG}S' || lpad(j::text, 18, '0'),
                   'cus_{ID_TAG}S' || lpad(j::text, 18, '0'), '{{}}'::jsonb,
                   %(at)s, %(at)s, %(at)s
            FROM generate_series(1, %(n)s) AS j""",  # noqa: S608
            params,
        )
        cursor.execute(
            f"""INSERT INTO accounts_provideridentity
                (id, auth_identity_id, provider, entity_id, password_hash,
                 created_at, updated_at)
            SELECT 'provid_{ID_TAG}S' || lpad(j::text, 18, '0'),
                   'authid_{ID_TAG}S' || lpad(j::text, 18, '0'), 'emailpass',
                   'scrypt' || j || '@{DOMAIN}', %(hash)s, %(at)s, %(at)s
            FROM generate_series(1, %(n)s) AS j""",  # noqa: S608
            params,
        )
    return stored


def otp_challenges_create(emails: list[str], *, now: datetime) -> None:
    """One open challenge with code OTP_CODE for each email, in one COPY
    (the code hash is keyed and bound to the challenge id, so it is made in
    Python with the application's own `code_hash`). Earlier open challenges
    of these emails are marked replaced, as `otp_send` does."""
    from django.conf import settings
    from django.db import connection, transaction

    from otp.codes import code_hash
    from otp.models import new_challenge_id

    expires = now + timedelta(seconds=settings.OTP_TTL_SECONDS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """UPDATE otp_otpchallenge SET replaced_at = %s
            WHERE email = ANY(%s) AND consumed_at IS NULL
              AND locked_at IS NULL AND replaced_at IS NULL""",
            [now, emails],
        )
        with cursor.copy(
            "COPY otp_otpchallenge (id, email, code_hash, attempts, max_attempts,"
            " created_at, expires_at) FROM STDIN"
        ) as copy:
            for email in emails:
                challenge_id = new_challenge_id()
                copy.write_row(
                    (
                        challenge_id,
                        email,
                        code_hash(challenge_id=challenge_id, code=OTP_CODE),
                        0,
                        settings.OTP_MAX_ATTEMPTS,
                        now,
                        expires,
                    )
                )


def table_sizes() -> dict[str, dict]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.relname, c.reltuples::bigint,
                      pg_total_relation_size(c.oid), pg_relation_size(c.oid)
            FROM pg_class c
            WHERE c.relname = ANY(%s)""",
            [list(ANALYZED)],
        )
        return {
            name: {"rows": rows, "total_bytes": total, "heap_bytes": heap}
            for name, rows, total, heap in cursor.fetchall()
        }


def main() -> None:
    from bench.common import django_setup, say

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, required=True, help="auth identities")
    parser.add_argument("--orphan-share", type=float, default=0.1)
    parser.add_argument("--otp-every", type=int, default=2)
    parser.add_argument("--addresses", action="store_true", help="1 to 3 per customer")
    parser.add_argument("--reset", action="store_true", help="start from empty")
    args = parser.parse_args()
    django_setup()
    stats: dict = {}
    dataset, seconds = ensure(
        args.n,
        orphan_share=args.orphan_share,
        otp_every=args.otp_every,
        addresses=args.addresses,
        fresh=args.reset,
        progress=lambda done, total: say(f"  {done:,} / {total:,}"),
        stats=stats,
    )
    cpu = stats.get("cpu_postgres_s")
    say(
        f"{dataset.n:,} identities ({dataset.customers:,} customers, "
        f"{dataset.orphans:,} orphans) in {seconds:.1f} s"
        + (f", PostgreSQL CPU {cpu:.1f} s" if cpu is not None else "")
    )


if __name__ == "__main__":
    main()
