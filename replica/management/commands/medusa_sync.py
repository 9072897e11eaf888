"""./dev manage medusa_sync --backfill | --verify [--repair] | --check
[--database-url URL] [--batch-size N] [--restart] [--json]: push every
customer to Medusa's replica, compare both sides, or check Medusa's tables
(docs/replication.md, "medusa_sync"; the work is replica/services/sync.py).

Exit status: 0 done, nothing wrong; 1 could not run (no URL, Medusa
unreachable, a database error); 2 wrong arguments; 3 Medusa's tables are
not the shape this server writes; 4 Medusa refused customers (each is in
the outbox now); 5 drift found, or left after --repair; 130 interrupted."""

import json
from collections import defaultdict
from dataclasses import asdict
from typing import Any

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from core.database_urls import url_masked
from core.progress import Progress
from replica.medusa import (
    ADDRESS_COLUMNS,
    CUSTOMER_COLUMNS,
    MedusaReplica,
    MedusaUnavailable,
    ShapeError,
)
from replica.selectors import sync_cursor
from replica.services import sync
from replica.services.sync import DRIFT_KINDS, Drift, TargetChanged

EXIT_FAILED = 1
EXIT_SHAPE = 3
EXIT_REFUSED = 4
EXIT_DRIFT = 5
EXIT_INTERRUPTED = 130
SHOWN_REFUSED = 100  # ids listed in text output; --json lists every one


class Command(BaseCommand):
    help = "Backfill, verify and repair Medusa's replica of our customers."

    def add_arguments(self, parser) -> None:
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument(
            "--backfill",
            action="store_true",
            help="push every customer and its addresses to Medusa; resumable",
        )
        mode.add_argument(
            "--verify",
            action="store_true",
            help="compare both sides by id and report the drift",
        )
        mode.add_argument(
            "--check",
            action="store_true",
            help="only check that Medusa's tables have the expected shape",
        )
        parser.add_argument(
            "--repair",
            action="store_true",
            help="with --verify: write our state over every drifted customer",
        )
        parser.add_argument(
            "--restart",
            action="store_true",
            help="with --backfill: start from the first customer again",
        )
        parser.add_argument(
            "--database-url",
            help="Medusa's database (default: the MEDUSA_DATABASE_URL setting)",
        )
        parser.add_argument(
            "--batch-size", type=int, default=1000, help="customers per batch"
        )
        parser.add_argument(
            "--show",
            type=int,
            default=50,
            help="drifted customers listed per kind in text output",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help="JSON lines on stdout: one per finding, then a summary",
        )

    def handle(self, *args, **options) -> None:
        if options["repair"] and not options["verify"]:
            raise CommandError("--repair goes with --verify")
        if options["restart"] and not options["backfill"]:
            raise CommandError("--restart goes with --backfill")
        if not 1 <= options["batch_size"] <= 10_000:
            raise CommandError("--batch-size must be between 1 and 10000")
        url = options["database_url"] or settings.MEDUSA_DATABASE_URL
        if not url:
            raise CommandError(
                "no Medusa database: pass --database-url or set MEDUSA_DATABASE_URL"
            )
        self.json = options["json"]
        replica = MedusaReplica(url)
        try:
            if options["check"]:
                self._check(replica)
            elif options["backfill"]:
                self._backfill(replica, options)
            else:
                self._verify(replica, options)
        except ShapeError as exc:
            raise CommandError(str(exc), returncode=EXIT_SHAPE) from None
        except MedusaUnavailable as exc:
            reason = str(exc)
            if url_masked(url) not in reason:  # lost mid-run
                reason = f"lost {url_masked(url)}: {reason}"
            raise CommandError(
                f"Medusa's database cannot be reached ({reason}). Nothing is "
                "lost: run again when it is back"
                + (" (the backfill resumes)." if options["backfill"] else ".")
            ) from None
        except (psycopg.Error, DatabaseError) as exc:
            raise CommandError(
                f"stopped by a database error: {type(exc).__name__}. "
                "Batches finished so far are kept; run again."
            ) from None
        except KeyboardInterrupt:
            raise CommandError(
                self._interrupted(options), returncode=EXIT_INTERRUPTED
            ) from None
        finally:
            replica.close()

    # --check

    def _check(self, replica: MedusaReplica) -> None:
        replica.connection()  # connects, then checks the shape
        self._say(
            f"Medusa's tables at {url_masked(replica.url)} have the shape this "
            f"server writes (customer: {len(CUSTOMER_COLUMNS)} columns, "
            f"customer_address: {len(ADDRESS_COLUMNS)} columns).",
            {"event": "summary", "shape": "ok"},
        )

    # --backfill

    def _backfill(self, replica: MedusaReplica, options: dict[str, Any]) -> None:
        self._say(f"Backfilling Medusa's replica at {url_masked(replica.url)}.")
        report = Report(self, shown=options["show"])
        try:
            result = sync.backfill(
                replica,
                batch_size=options["batch_size"],
                restart=options["restart"],
                report=report,
                progress=Progress(),
            )
        except TargetChanged as exc:
            raise CommandError(str(exc)) from None
        resumed = (
            f" (resumed after {result.resumed_after})" if result.resumed_after else ""
        )
        self._say(
            f"Backfill finished{resumed}: {result.done:,} customers done, "
            f"{result.written:,} sent to Medusa by this run, "
            f"{result.refused:,} of them refused.",
            {"event": "summary", **asdict(result)},
        )
        report.refusals_print(result.refused)
        if result.refused:
            raise CommandError(
                f"Medusa refused {result.refused:,} customer(s)",
                returncode=EXIT_REFUSED,
            )

    def _interrupted(self, options: dict[str, Any]) -> str:
        if not options["backfill"]:
            return "interrupted."
        cursor = sync_cursor(sync.BACKFILL)
        where = f" after {cursor.position}" if cursor and cursor.position else ""
        return f"interrupted: run again to resume{where} (--restart starts over)."

    # --verify

    def _verify(self, replica: MedusaReplica, options: dict[str, Any]) -> None:
        repair = options["repair"]
        self._say(
            f"Verifying Medusa's replica at {url_masked(replica.url)}"
            + (" and repairing it." if repair else " (read only).")
        )
        report = Report(self, shown=options["show"])
        result = sync.verify(
            replica,
            batch_size=options["batch_size"],
            repair=repair,
            report=report,
            progress=Progress(),
        )
        summary = {
            "event": "summary",
            **asdict(result),
            "drift": dict(result.drift),
        }
        self._say(
            f"Compared {result.customers:,} customers here and "
            f"{result.accounts:,} registered customers in Medusa.",
            summary,
        )
        report.drift_print(result)
        if result.refused:
            raise CommandError(
                f"Medusa refused {result.refused:,} customer(s)",
                returncode=EXIT_REFUSED,
            )
        if result.remaining:
            raise CommandError(
                f"{result.remaining:,} customer(s) differ in Medusa",
                returncode=EXIT_DRIFT,
            )

    def _say(self, text: str, record: dict[str, Any] | None = None) -> None:
        """A line of text, or in --json mode the record (if any)."""
        if self.json:
            if record is not None:
                self.stdout.write(json.dumps(record, default=str))
        else:
            self.stdout.write(text)


class Report:
    """What a run finds: each finding as a JSON line as it comes, or in
    text, `shown` drifted customers per kind kept for the summary (memory
    stays flat however much drifted)."""

    def __init__(self, command: Command, *, shown: int):
        self.command = command
        self.shown = shown
        self.kept: dict[str, list[Drift]] = defaultdict(list)
        self.refusals: list[tuple[str, str]] = []
        self.unrepaired_kept: list[Drift] = []

    def drift(self, drift: Drift) -> None:
        if self.command.json:
            self.command.stdout.write(json.dumps({"event": "drift", **asdict(drift)}))
        elif len(self.kept[drift.kind]) < self.shown:
            self.kept[drift.kind].append(drift)

    def refused(self, customer_id: str, reason: str) -> None:
        if self.command.json:
            self.command.stdout.write(
                json.dumps(
                    {"event": "refused", "customer_id": customer_id, "reason": reason}
                )
            )
        elif len(self.refusals) < SHOWN_REFUSED:
            self.refusals.append((customer_id, reason))

    def unrepaired(self, drift: Drift) -> None:
        if self.command.json:
            self.command.stdout.write(
                json.dumps({"event": "unrepaired", **asdict(drift)})
            )
        elif len(self.unrepaired_kept) < self.shown:
            self.unrepaired_kept.append(drift)

    def refusals_print(self, total: int | None = None) -> None:
        if self.command.json or not self.refusals:
            return
        out = self.command.stdout.write
        out(
            "\nRefused by Medusa (each now in the outbox: the drain retries it, "
            "staff see it in admin, Replication changes):"
        )
        for customer_id, reason in self.refusals:
            out(f"  {customer_id}  {reason}")
        if total is not None and total > len(self.refusals):
            out(_more(total - len(self.refusals)))

    def drift_print(self, result: sync.VerifyResult) -> None:
        if self.command.json:
            return
        out = self.command.stdout.write
        if not result.drifted:
            out(self.command.style.SUCCESS("No drift."))
        else:
            out(
                f"\nDrift: {result.drifted:,} customer(s) "
                "(ids; emails only as HMAC-SHA256):"
            )
        for kind, label in DRIFT_KINDS.items():
            count = result.drift[kind]
            if not count:
                continue
            out(f"  {kind} ({label}): {count:,}")
            for drift in self.kept[kind]:
                out(f"    {_drift_line(drift)}")
            if count > len(self.kept[kind]):
                out(_more(count - len(self.kept[kind])))
        if result.queued:
            out(
                f"Differing but queued in the outbox (the drain's, not drift): "
                f"{result.queued:,} customer(s)."
            )
        if result.repaired or result.refused or self.unrepaired_kept:
            out(
                f"Repaired: {result.repaired:,} customer(s); refused by Medusa: "
                f"{result.refused:,}; still differing: {result.remaining:,}."
            )
        for drift in self.unrepaired_kept:
            out(f"  still differs after the repair: {_drift_line(drift)}")
        self.refusals_print(result.refused)


def _drift_line(drift: Drift) -> str:
    line = drift.customer_id
    if drift.address_id:
        line += f" address {drift.address_id}"
    if drift.email_hash:
        line += f" email_hash={drift.email_hash[:16]}…"
    if drift.columns:
        line += f" columns: {', '.join(drift.columns)}"
    return line


def _more(count: int) -> str:
    return f"    … and {count:,} more (--json lists every one)"
