"""One import run: read Medusa in batches, plan each unit, write, report;
then the addresses of the customers now here, in a pass of their own.

A real run commits batch by batch, so a run that dies half-way is finished
by running it again. A dry run does the very same writes inside one
transaction and rolls it back: its report is what the real run would do.
"""

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TextIO

from django.db import reset_queries, transaction

from medusa_import import address_plan, address_writer, plan, selectors, writer
from medusa_import.problems import NOTES, Problem, Rejected
from medusa_import.source import MedusaSource

logger = logging.getLogger("medusa_import")

SHOWN_PROBLEMS = 50

Progress = Callable[[str, int, int], None]
# A Medusa row (a dict of its columns) as a unit to write, or why it cannot come.
Planner = Callable[[dict[str, Any]], plan.Unit | list[Problem]]
# Plans, writes and reports one batch of Medusa rows.
BatchImport = Callable[[list[dict[str, Any]], "Report"], None]


@dataclass
class TableCounts:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    skipped: int = 0

    @property
    def unchanged(self) -> int:
        return self.read - self.inserted - self.updated - self.skipped


@dataclass
class Report:
    dry_run: bool
    sink: TextIO | None = None  # every problem and orphan, as JSON lines
    tables: dict[str, TableCounts] = field(
        default_factory=lambda: {table: TableCounts() for table in writer.TABLES}
    )
    orphans: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    shown: list[Problem] = field(default_factory=list)

    @property
    def not_imported(self) -> int:
        return sum(n for reason, n in self.reasons.items() if reason not in NOTES)

    def read(self, row: dict[str, Any]) -> None:
        if "providers" in row:
            self.tables["auth_identity"].read += 1
            self.tables["provider_identity"].read += len(row["providers"])
            # A soft-deleted identity's customer is read by the lone pass.
            self.tables["customer"].read += (
                row["customer"] is not None and row["deleted_at"] is None
            )
        else:
            self.tables["customer"].read += 1

    def problems(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self.reasons[problem.reason] += 1
            if problem.reason not in NOTES:
                self.tables[problem.table].skipped += 1
            if len(self.shown) < SHOWN_PROBLEMS:
                self.shown.append(problem)
            self._record(problem.as_dict())

    def outcome(self, outcome: writer.Outcome) -> None:
        for table in writer.TABLES:
            self.tables[table].inserted += outcome.inserted[table]
            self.tables[table].updated += outcome.updated[table]
        for unit in outcome.written:
            self.problems(unit.problems)
        # Orphans as written: a link made here since an earlier pass stays.
        for identity_id in selectors.orphans_among(
            unit.orphan_id for unit in outcome.written if unit.orphan_id is not None
        ):
            self.orphans += 1
            self._record(
                {"table": "auth_identity", "id": identity_id, "reason": "orphan"}
            )
        self.problems(outcome.refused)

    def addresses(self, outcome: address_writer.AddressOutcome) -> None:
        self.tables["customer_address"].inserted += outcome.inserted
        self.tables["customer_address"].updated += outcome.updated
        self.problems(outcome.problems)

    def _record(self, line: dict[str, Any]) -> None:
        if self.sink is not None:
            self.sink.write(json.dumps(line) + "\n")


def medusa_import(
    *,
    source: MedusaSource,
    batch_size: int,
    report: Report,
    progress: Progress | None = None,
) -> Report:
    counts = source.counts()
    # Addresses last: their customers are here by then.
    passes: list[tuple[str, int, Iterable[list[dict[str, Any]]], BatchImport]] = [
        ("auth identities", counts.auth_identities,
         source.identity_batches(batch_size), _unit_importer(plan.identity_unit)),
        ("customers without identity", counts.lone_customers,
         source.lone_customer_batches(batch_size),
         _unit_importer(plan.lone_customer_unit)),
        ("addresses", counts.addresses, source.address_batches(batch_size),
         _address_batch_import),
    ]  # fmt: skip
    finished = False
    try:
        with transaction.atomic() if report.dry_run else nullcontext():
            for name, total, batches, batch_import in passes:
                done = 0
                for batch in batches:
                    batch_import(batch, report)
                    reset_queries()  # with DEBUG on, Django keeps every query
                    done += len(batch)
                    if progress:
                        progress(name, done, total)
            if report.dry_run:
                transaction.set_rollback(True)
        finished = True
    finally:
        logger.info(
            "Medusa import finished" if finished else "Medusa import stopped",
            extra={
                "dryRun": report.dry_run,
                "tables": {name: asdict(c) for name, c in report.tables.items()},
                "orphans": report.orphans,
                "reasons": dict(report.reasons),
            },
        )
    return report


def _unit_importer(planner: Planner) -> BatchImport:
    return lambda batch, report: _batch_import(batch, planner, report)


def _batch_import(
    batch: list[dict[str, Any]], planner: Planner, report: Report
) -> None:
    units: list[plan.Unit] = []
    refused: list[Problem] = []
    for row in batch:
        report.read(row)
        planned = planner(row)
        if isinstance(planned, plan.Unit):
            units.append(planned)
        else:
            refused += planned
    units, refused = _screened(units, refused)
    report.problems(refused)
    report.outcome(writer.units_write(units))


def _address_batch_import(batch: list[dict[str, Any]], report: Report) -> None:
    report.tables["customer_address"].read += len(batch)
    rows: list[address_plan.AddressRow] = []
    refused: list[Problem] = []
    for row in batch:
        try:
            rows.append(address_plan.address_row(row))
        except Rejected as exc:
            refused.append(exc.problem)
    # An address an earlier pass imported stays, as a customer does.
    here = {
        ("customer_address", address_id)
        for address_id in selectors.ids_here(
            "customer_address", (p.id for p in refused if p.reason == "soft_deleted")
        )
    }
    report.problems(_deleted_in_medusa(p, here) for p in refused)
    report.addresses(address_writer.addresses_write(rows))


def _screened(
    units: list[plan.Unit], refused: list[Problem]
) -> tuple[list[plan.Unit], list[Problem]]:
    """What an earlier pass and the sweep since did here changes two cases:
    an orphan the sweep already deleted here is not brought back, and a row
    soft-deleted in Medusa that an earlier pass imported is only noted (it
    stays here; staff decide, docs/migrate-from-medusa.md)."""
    swept = selectors.identities_swept_here(
        unit.orphan_id for unit in units if unit.orphan_id is not None
    )
    kept = []
    for unit in units:
        if unit.orphan_id is not None and unit.orphan_id in swept:
            problem = Problem("auth_identity", unit.orphan_id, "swept_here")
            refused += unit.rejection(problem)
        else:
            kept.append(unit)
    # Soft-deleted rows, and the rows that go with a soft-deleted identity.
    problems = refused + [p for unit in kept for p in unit.problems]
    deleted_ids = {p.id for p in problems if p.reason == "soft_deleted"}
    deleted = [
        p
        for p in problems
        if p.reason == "soft_deleted"
        or (p.reason == "goes_with" and p.conflicts_with in deleted_ids)
    ]
    here = {
        (table, row_id)
        for table in writer.TABLES
        for row_id in selectors.ids_here(
            table, (p.id for p in deleted if p.table == table)
        )
    }
    if here:
        refused = [_deleted_in_medusa(p, here) for p in refused]
        for unit in kept:
            unit.problems = [_deleted_in_medusa(p, here) for p in unit.problems]
    return kept, refused


def _deleted_in_medusa(problem: Problem, here: set[tuple[str, str]]) -> Problem:
    kept_here = (problem.table, problem.id) in here
    if kept_here and problem.reason in ("soft_deleted", "goes_with"):
        return replace(problem, reason="deleted_in_medusa")
    return problem
