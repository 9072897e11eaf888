"""./dev manage sweep_orphans [--dry-run | --execute] [--older-than 24h]
[--batch-size N] [--workers N] [--force]: find (the default) or delete
orphans."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.durations import duration_parse
from orphans import selectors, services
from orphans.models import Trigger


class Command(BaseCommand):
    help = "Find (dry run, the default) or delete orphaned auth identities."

    def add_arguments(self, parser) -> None:
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--dry-run", action="store_true", help="report only (default)"
        )
        mode.add_argument("--execute", action="store_true", help="delete the orphans")
        parser.add_argument(
            "--older-than",
            default=None,
            help=(
                "age cut-off like 90m, 24h, 7d "
                f"(default ORPHAN_MAX_AGE={settings.ORPHAN_MAX_AGE})"
            ),
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=settings.ORPHAN_SWEEP_BATCH_SIZE,
            help="orphans per transaction",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.ORPHAN_SWEEP_WORKERS,
            help="database connections sweeping at once",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="delete with a cut-off below JWT_EXPIRES_IN (see the runbook)",
        )

    def handle(self, *args, **options) -> None:
        try:
            older_than = (
                duration_parse(options["older_than"])
                if options["older_than"]
                else selectors.orphan_max_age()
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        if options["workers"] < 1:
            raise CommandError("--workers must be at least 1")
        if (
            options["execute"]
            and older_than < settings.JWT_EXPIRES_IN
            and not options["force"]
        ):
            # A registration token lives JWT_EXPIRES_IN: a younger orphan may
            # be a signup whose customer is still to come (register said 2xx).
            raise CommandError(
                f"--older-than {older_than} is below JWT_EXPIRES_IN "
                f"({settings.JWT_EXPIRES_IN}): signups in progress would lose "
                "their identity. Add --force if that is what you want."
            )
        now = timezone.now()
        preview = services.orphans_sweep_preview(older_than=older_than, now=now)
        self.stdout.write(
            f"Orphans created before {preview.cutoff:%Y-%m-%d %H:%M:%S} UTC: "
            f"{preview.sweepable} to delete, {preview.held} on hold (kept)."
        )
        if not options["execute"]:
            for identity in preview.sample:
                self.stdout.write(
                    f"  {identity.id}  created {identity.created_at:%Y-%m-%d %H:%M}"
                )
            self.stdout.write("Dry run: nothing deleted. Run with --execute to delete.")
            return

        def progress(run) -> None:
            self.stdout.write(f"  deleted {run.deleted} of {run.found}")

        run = services.orphans_sweep(
            older_than=older_than,
            batch_size=options["batch_size"],
            trigger=Trigger.COMMAND,
            now=now,
            workers=options["workers"],
            progress=progress,
        )
        self.stdout.write(
            self.style.SUCCESS(f"Deleted {run.deleted} orphans (sweep run {run.pk}).")
        )
