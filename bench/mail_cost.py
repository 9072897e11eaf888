"""What a code mail costs the worker: CPU per mail of
core.mail.templated_mail_send (the three templates rendered, the message
built and written by core.mail.FileBackend to a temporary directory),
in-process, three ways in rounds that alternate, so a drift of the
machine touches all alike: as the worker sends it (rendered once,
`varying="code"`), rendered each time, and rendered each time through
Django's EmailMultiAlternatives as it is (no boundary of our own, every
header through the library's Header: what core.mail._Alternatives saves)
(docs/performance.md, "A code mail's cost, and the web server's floor"
and "A code mail rendered once").

    python -m bench.mail_cost [--mails 300] [--rounds 12]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

from bench.common import django_setup, load_note, say, table, write_result


def _per_mail_us(mails: int, varying: str | None = "code") -> float:
    from core.mail import templated_mail_send

    start = time.process_time()
    for i in range(mails):
        templated_mail_send(
            templates="otp/email/",
            context={"code": f"{i:06d}", "minutes": 10},
            to=f"cost{i}@bench.example",
            language="en",
            varying=varying,
        )
    return (time.process_time() - start) / mails * 1e6


def run(*, mails: int, rounds: int, keep_in: Path | None = None) -> dict:
    """The rounds; each kind's mails in a folder of its own (once,
    core-mail, django) under `keep_in` (kept) or a temporary directory."""
    from django.core.mail import EmailMultiAlternatives
    from django.test import override_settings

    import core.mail

    say(f"\ncode mail cost, in-process ({rounds} rounds of {mails}); {load_note()}")
    # Each kind: its message class, the folder of its mails, `varying`.
    ours = core.mail._Alternatives  # noqa: SLF001
    kinds = {
        "core.mail's, rendered once": (ours, "once", "code"),
        "core.mail's": (ours, "core-mail", None),
        "Django's as it is": (EmailMultiAlternatives, "django", None),
    }
    samples: dict[str, list[float]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory() as scratch:
        root = keep_in or Path(scratch)
        with override_settings(
            EMAIL_BACKEND="core.mail.FileBackend", EMAIL_FILE_PATH=scratch
        ):
            _per_mail_us(20)  # templates loaded, translations read
        for index in range(rounds):
            order = list(kinds) if index % 2 else list(reversed(kinds))
            for kind in order:
                message_class, folder, varying = kinds[kind]
                (root / folder).mkdir(exist_ok=True)
                with (
                    override_settings(
                        EMAIL_BACKEND="core.mail.FileBackend",
                        EMAIL_FILE_PATH=str(root / folder),
                    ),
                    mock.patch.object(core.mail, "_Alternatives", message_class),
                ):
                    samples[kind].append(_per_mail_us(mails, varying))
    results = {
        kind: {
            "median_us": round(statistics.median(values)),
            "rounds_us": [round(v) for v in values],
        }
        for kind, values in samples.items()
    }
    say(
        table(
            ("message", "CPU µs per mail (median)", "rounds"),
            [
                (kind, r["median_us"], ", ".join(map(str, r["rounds_us"])))
                for kind, r in results.items()
            ],
        )
    )
    return {"load": load_note(), "mails": mails, "kinds": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()
    django_setup()
    write_result("mail-cost", run(mails=args.mails, rounds=args.rounds))


if __name__ == "__main__":
    main()
