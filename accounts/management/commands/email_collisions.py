"""./dev manage email_collisions [--fix]: stored addresses that are not in
today's normal form (IDNA domains, core.emails), above all two accounts
that now share one address. Prints ids and HMACs of the addresses
(core.emails.email_hash), never an address. Exit status 1 while any row
is left out of the normal form (docs/runbook.md)."""

from django.core.management.base import BaseCommand, CommandError

from accounts.services.normal_form import (
    email_constraints_validate,
    email_normal_form_findings,
    email_normal_form_rewrite,
)


def _rows(rows: list[tuple[str, str | None]]) -> str:
    return ", ".join(
        f"{pk} ({identity_id})" if identity_id else pk for pk, identity_id in rows
    )


class Command(BaseCommand):
    help = (
        "Report stored emails that collide or changed under the normal form "
        "(IDNA domains); --fix rewrites those that collide with nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--fix",
            action="store_true",
            help="rewrite rows whose normal form no other row holds, then "
            "validate the ASCII constraints if every row now holds them",
        )

    def handle(self, *args, **options) -> None:
        findings = email_normal_form_findings()
        left = 0
        for finding in findings:
            state = finding.kind
            if finding.kind == "rewritable" and options["fix"]:
                state = (
                    "rewritten"
                    if email_normal_form_rewrite(finding)
                    else "collision (since the scan)"
                )
            if state not in ("rewritten",):
                left += 1
            self.stdout.write(
                f"{state}\t{finding.table}\temail_hash={finding.email_hash}\t"
                f"{_rows(finding.rows)}"
            )
        counts = {
            kind: sum(1 for finding in findings if finding.kind == kind)
            for kind in ("collision", "unusable", "rewritable")
        }
        self.stdout.write(
            f"{counts['collision']} collisions, {counts['unusable']} unusable, "
            f"{counts['rewritable']} rewritable"
            + (" (rewritten where still free)" if options["fix"] else "")
        )
        if options["fix"] and not left:
            failing = email_constraints_validate()
            if failing:
                left += len(failing)
                self.stdout.write(f"still NOT VALID: {', '.join(failing)}")
            else:
                self.stdout.write("email ASCII constraints validated")
        if left:
            raise CommandError(
                f"{left} stored addresses are not in the normal form: "
                "see docs/runbook.md, 'Email collisions'",
                returncode=1,
            )
