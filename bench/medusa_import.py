"""Importing a Medusa shop: N customers with their emailpass identities, plus
Medusa's own orphans (2 %), email collisions once normalized (0.5 %) and
guest customers (5 %), loaded into a Medusa 2.21 schema
(tests/imports/medusa_schema.sql) by set-based SQL.

`import_medusa` runs as its own process (as an operator runs it), so its
peak memory is its own: the same at 10^4 and 10^5 rows means it streams.
Figures: the first run (everything new), a second run (nothing to do), and
a dry run before them; rows per second count the three tables together.

    python -m bench.medusa_import --sizes 10000,100000
"""

import os
from urllib.parse import quote

import psycopg

from bench import load_data
from bench.common import ROOT, manage_timed, say, sizes_main, table

SCHEMA_SQL = ROOT / "tests" / "imports" / "medusa_schema.sql"
FILL_SQL = """
INSERT INTO customer (id, email, first_name, has_account, created_at, updated_at)
SELECT 'cus_B' || lpad(g::text, 25, '0'), 'shopper' || g || '@bench.example',
       'Shopper ' || g, true, now() - interval '1 day', now() - interval '1 day'
FROM generate_series(1, %(n)s) g;
INSERT INTO auth_identity (id, app_metadata, created_at, updated_at)
SELECT 'authid_B' || lpad(g::text, 25, '0'),
       CASE WHEN g %% 50 = 0 THEN NULL
            ELSE jsonb_build_object('customer_id', 'cus_B' || lpad(g::text, 25, '0'))
       END,
       now() - interval '1 day', now() - interval '1 day'
FROM generate_series(1, %(n)s) g;
INSERT INTO provider_identity (id, entity_id, provider, auth_identity_id,
                               provider_metadata, created_at, updated_at)
SELECT 'PB' || lpad(g::text, 24, '0'), 'shopper' || g || '@bench.example',
       'emailpass', 'authid_B' || lpad(g::text, 25, '0'),
       jsonb_build_object('password', %(blob)s::text),
       now() - interval '1 day', now() - interval '1 day'
FROM generate_series(1, %(n)s) g;
-- Collisions: a second identity for an existing address, spelt differently.
INSERT INTO auth_identity (id, app_metadata, created_at, updated_at)
SELECT 'authid_C' || lpad(g::text, 25, '0'), NULL, now(), now()
FROM generate_series(1, %(n)s) g WHERE g %% 200 = 1;
INSERT INTO provider_identity (id, entity_id, provider, auth_identity_id,
                               provider_metadata, created_at, updated_at)
SELECT 'PC' || lpad(g::text, 24, '0'), 'Shopper' || g || '@Bench.example',
       'emailpass', 'authid_C' || lpad(g::text, 25, '0'),
       jsonb_build_object('password', %(blob)s::text), now(), now()
FROM generate_series(1, %(n)s) g WHERE g %% 200 = 1;
INSERT INTO customer (id, email, has_account, created_at, updated_at)
SELECT 'cus_G' || lpad(g::text, 25, '0'), 'guest' || g || '@bench.example',
       false, now(), now()
FROM generate_series(1, %(n)s) g WHERE g %% 20 = 0;
"""


def database_url(dbname: str) -> str:
    """A database of the server Django uses, by name."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    user = quote(db["USER"], safe="")
    return f"postgresql://{user}{password}@{db['HOST']}:{db['PORT']}/{dbname}"


def database_create(name: str) -> str:
    """A new, empty database `name` next to Django's (replacing one left
    by an interrupted run); its URL."""
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return database_url(name)


def database_drop(url: str) -> None:
    with _admin() as admin:
        admin.execute(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _admin() -> psycopg.Connection:
    from django.conf import settings

    return psycopg.connect(
        database_url(settings.DATABASES["default"]["NAME"]), autocommit=True
    )


def source_create(n: int) -> str:
    from accounts.hashers import medusa_scrypt_blob

    url = database_create(f"bench_medusa_{n}")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA_SQL.read_text())
        # One real scrypt-kdf blob for every row: the import checks each
        # blob's format and never runs scrypt (each first login does).
        blob = medusa_scrypt_blob(load_data.PASSWORD, salt=os.urandom(32))
        for statement in FILL_SQL.split(";\n")[:-1]:
            conn.execute(statement, {"n": n, "blob": blob})
        conn.execute("VACUUM ANALYZE")
    return url


def timed_import(url: str, *extra: str) -> dict:
    """One `manage.py import_medusa` process: wall seconds, peak RSS."""
    return manage_timed("import_medusa", "--database-url", url, *extra)


def run(*, sizes: list[int]) -> dict:
    from django.db import connection

    results = []
    for n in sizes:
        with connection.cursor() as cursor:
            load_data.reset(cursor)  # an empty shop here, every time
        url = source_create(n)
        try:
            dry = timed_import(url, "--dry-run")  # the whole work, rolled back
            first = timed_import(url)
            second = timed_import(url)
        finally:
            database_drop(url)
        rows = _rows_read(first["output"])
        results.append({
            "customers": n,
            "rows": rows,
            "first_s": first["seconds"],
            "rows_per_s": round(rows / first["seconds"]),
            "second_s": second["seconds"],
            "dry_run_s": dry["seconds"],
            "peak_rss_mib": max(first["peak_rss_mib"], second["peak_rss_mib"]),
            "summary": first["output"],
        })  # fmt: skip
    say(
        table(
            [
                "customers",
                "rows read",
                "first run s",
                "rows/s",
                "second run s",
                "dry run s",
                "peak RSS MiB",
            ],
            [
                [
                    r["customers"],
                    r["rows"],
                    r["first_s"],
                    r["rows_per_s"],
                    r["second_s"],
                    r["dry_run_s"],
                    r["peak_rss_mib"],
                ]
                for r in results
            ],
        )  # fmt: skip
    )
    return {"runs": results}


def _rows_read(output: str) -> int:
    """The `read` column of the command's summary, summed over its tables."""
    labels = ("customers", "auth identities", "provider identities")
    return sum(
        int(line[len(label) :].split()[0].replace(",", ""))
        for line in output.splitlines()
        for label in labels
        if line.startswith(label)
    )


if __name__ == "__main__":
    sizes_main(__doc__, name="medusa-import", run=run, default_sizes="10000,100000")
