"""Running import_medusa in tests, and reading what it says and wrote."""

import io
import json

from django.core.management import call_command
from django.utils import timezone

from accounts.models import AuthIdentity, Customer, CustomerAddress, ProviderIdentity

TABLE_LABELS = ["customers", "auth identities", "provider identities", "addresses"]


PASSWORDS = ["first secret phrase", "ünïcode päss wörd", "third one, longer"]


def run_import(medusa, *args, tmp_path=None) -> tuple[str, list[dict]]:
    """Runs the command; returns its output and the report's JSON lines."""
    out = io.StringIO()
    report = (tmp_path or tmp_dir()) / f"report-{timezone.now().timestamp()}.jsonl"
    call_command(
        "import_medusa", "--database-url", medusa.url, "--report", str(report),
        *args, stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    output = out.getvalue()
    for label in TABLE_LABELS:  # every row read lands in one column
        assert min(table_line(output, label)) >= 0, output
    return output, lines


def tmp_dir():
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp())


def login(api, email: str, password: str):
    return api.post(
        "/auth/customer/emailpass",
        {"email": email, "password": password},
        format="json",
    )


def me(api, token: str):
    return api.get("/store/customers/me", HTTP_AUTHORIZATION=f"Bearer {token}")


def by_reason(lines: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for line in lines:
        grouped.setdefault(line["reason"], []).append(line)
    return grouped


def summary_lines(output: str) -> list[str]:
    """The output without its first line, report path and closing words."""
    skip = ("Importing from", "Every row", "Dry run", "Import finished")
    return [line for line in output.splitlines() if not line.startswith(skip)]


def rows_snapshot(medusa):
    """Our rows with Medusa's ids, every column."""
    return [
        sorted(model.objects.filter(id__in=medusa.ids(table)).values_list())
        for model, table in [
            (Customer, "customer"),
            (AuthIdentity, "auth_identity"),
            (ProviderIdentity, "provider_identity"),
            (CustomerAddress, "customer_address"),
        ]
    ]


def table_line(output: str, label: str) -> list[int]:
    """read, new, updated, unchanged, skipped from the summary table."""
    line = next(line for line in output.splitlines() if line.startswith(label))
    return [int(cell.replace(",", "")) for cell in line[len(label) :].split()]


def nested(depth: int) -> str:
    """JSON text of objects `depth` deep (json.dumps would hit Python's
    recursion limit long before 10,000)."""
    return '{"a":' * depth + "1" + "}" * depth
