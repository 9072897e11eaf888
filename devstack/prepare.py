"""Prepares a stack's database in one Django process: migrate,
collectstatic, ensure_bootstrap and, with --disable-beat, every
PeriodicTask disabled.

Beat's jobs follow the wall clock (the sweep at :17 deletes orphans older
than a day): on throw-away data they would strike tests and benchmarks at a
random minute. Beat keeps a disabled job disabled when it starts.

    python -m devstack.prepare [--disable-beat]
"""

import argparse
import os


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.prepare")
    parser.add_argument("--disable-beat", action="store_true")
    parser.add_argument("--verbosity", type=int, default=1)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=args.verbosity)
    call_command("collectstatic", interactive=False, verbosity=0)
    call_command("ensure_bootstrap")
    if args.disable_beat:
        from django_celery_beat.models import PeriodicTask

        PeriodicTask.objects.update(enabled=False)


if __name__ == "__main__":
    main()
