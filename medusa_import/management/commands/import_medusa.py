"""./dev manage import_medusa --database-url postgres://… [--dry-run]
[--batch-size N] [--report FILE]: import Medusa's customers, auth identities,
provider identities and customer addresses (docs/migrate-from-medusa.md)."""

import os

import psycopg
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from core.database_urls import url_masked
from core.progress import Progress
from medusa_import import problems, services
from medusa_import.source import MedusaSource, SourceError

TABLE_LABELS = {
    "customer": "customers",
    "auth_identity": "auth identities",
    "provider_identity": "provider identities",
    "customer_address": "addresses",
}


class Command(BaseCommand):
    help = "Import customers, identities and addresses from a Medusa 2.x database."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--database-url",
            default=os.environ.get("MEDUSA_DATABASE_URL"),
            help=(
                "the Medusa database, e.g. postgres://user@host:5432/medusa "
                "(default $MEDUSA_DATABASE_URL; a password is best left to "
                "PGPASSWORD or ~/.pgpass, out of the process list)"
            ),
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="do everything in a transaction that is rolled back; report",
        )
        parser.add_argument(
            "--batch-size", type=int, default=1000, help="rows per transaction"
        )
        parser.add_argument(
            "--report",
            metavar="FILE",
            help="write every row not imported, and every orphan, as JSON lines",
        )

    def handle(self, *args, **options) -> None:
        batch_size = options["batch_size"]
        if not 1 <= batch_size <= 10_000:
            raise CommandError("--batch-size must be between 1 and 10000")
        url = options["database_url"]
        if not url:
            raise CommandError("--database-url (or MEDUSA_DATABASE_URL) is required")
        mode = "DRY RUN, nothing is kept" if options["dry_run"] else "writing"
        self.stdout.write(f"Importing from {url_masked(url)} ({mode}).")
        try:
            sink = open(options["report"], "w") if options["report"] else None  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot write the report: {exc}") from None
        try:
            report = services.Report(dry_run=options["dry_run"], sink=sink)
            with MedusaSource(url) as source:
                services.medusa_import(
                    source=source,
                    batch_size=batch_size,
                    report=report,
                    progress=Progress(),
                )
        except SourceError as exc:
            raise CommandError(str(exc)) from None
        except (psycopg.Error, DatabaseError) as exc:
            # Batches committed so far stay; running again finishes the work.
            raise CommandError(
                f"import stopped: {type(exc).__name__}: {str(exc).strip()}. "
                "Rows written so far are kept; run the import again to finish."
            ) from None
        finally:
            if sink is not None:
                sink.close()
        self._summary(report, options["report"])

    def _summary(self, report: services.Report, report_path: str | None) -> None:
        out = self.stdout.write
        out(
            f"\n{'':22}{'read':>9}{'new':>9}{'updated':>9}{'unchanged':>11}"
            f"{'skipped':>9}"
        )
        for table, counts in report.tables.items():
            out(
                f"{TABLE_LABELS[table]:22}{counts.read:>9,}{counts.inserted:>9,}"
                f"{counts.updated:>9,}{counts.unchanged:>11,}{counts.skipped:>9,}"
            )
        dangling = report.reasons["dangling_customer_link"]
        out(
            f"\nOrphans (identities without a customer) imported: {report.orphans:,}"
            f", {dangling:,} of them with a customer_id naming no live customer."
        )
        out(f"Rows not imported: {report.not_imported:,}.")
        for reason, count in sorted(report.reasons.items()):
            out(f"  {reason:26}{count:>9,}  {problems.REASONS[reason]}")
        shown = [p for p in report.shown if p.reason != "goes_with"]
        if shown:
            out("\nFirst rows (ids; emails only as HMAC-SHA256):")
            for problem in shown:
                line = f"  {problem.table} {problem.id}: {problem.reason}"
                if problem.conflicts_with:
                    line += f" (kept: {problem.conflicts_with})"
                if problem.email_hash:
                    line += f" email_hash={problem.email_hash[:16]}…"
                out(line)
        if report_path:
            out(f"\nEvery row not imported, and every orphan: {report_path}")
        if report.dry_run:
            out(self.style.WARNING("\nDry run: nothing was written."))
        else:
            out(self.style.SUCCESS("\nImport finished."))
