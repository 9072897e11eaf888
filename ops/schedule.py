"""The beat schedule, defined in code. Beat's DatabaseScheduler copies it into
django-celery-beat's tables at start (keeping an admin's pause), and a data
migration creates the rows so the schedule exists right after migrate."""

from typing import TypedDict

from celery.schedules import crontab


class BeatEntry(TypedDict):
    """An entry of Celery's beat_schedule, as this project writes them."""

    task: str
    schedule: crontab
    options: dict[str, int]


BEAT_SCHEDULE: dict[str, BeatEntry] = {
    # Every minute, drain the replication outbox: changes whose kick was lost
    # (Redis or the worker down) or whose backoff ended (replica/tasks.py).
    "drain-replica-outbox": {
        "task": "replica.tasks.replica_drain_kick_task",
        "schedule": crontab(minute="*"),
        "options": {"expire_seconds": 50},
    },
    # Every minute, send the code mails whose kick was lost, whose backoff
    # ended, or whose drain died (otp/mail.py).
    "send-code-mails": {
        "task": "otp.tasks.otp_mail_drain_kick_task",
        "schedule": crontab(minute="*"),
        "options": {"expire_seconds": 50},
    },
    # Daily at 03:41, compare Medusa's replica with our customers and write
    # ours over what differs (replica/tasks.py: its cost).
    "verify-replica": {
        "task": "replica.tasks.replica_verify_task",
        "schedule": crontab(minute="41", hour="3"),
        "options": {"expire_seconds": 6 * 60 * 60},
    },
    # Every hour at :17, delete orphans older than ORPHAN_MAX_AGE.
    "sweep-orphans": {
        "task": "orphans.tasks.orphans_sweep_task",
        "schedule": crontab(minute="17"),
        "options": {"expire_seconds": 50 * 60},
    },
    # Every hour at :37, drop expired customer sessions and reset tokens.
    "purge-expired-credentials": {
        "task": "accounts.tasks.expired_credentials_purge_task",
        "schedule": crontab(minute="37"),
        "options": {"expire_seconds": 50 * 60},
    },
    # Every hour at :47, forget one-time-code challenges older than a day.
    "purge-otp-challenges": {
        "task": "otp.tasks.otp_challenges_purge_task",
        "schedule": crontab(minute="47"),
        "options": {"expire_seconds": 50 * 60},
    },
}


def beat_schedule_install(periodic_task_model, crontab_model) -> None:
    """Create the PeriodicTask rows of BEAT_SCHEDULE (idempotent; models are
    passed in so a migration can use its historical ones)."""
    for name, entry in BEAT_SCHEDULE.items():
        crontab_row, _ = crontab_model.objects.get_or_create(
            **_crontab_fields(entry["schedule"]), timezone="UTC"
        )
        periodic_task_model.objects.get_or_create(
            name=name,
            defaults={
                "task": entry["task"],
                "crontab": crontab_row,
                "expire_seconds": entry["options"]["expire_seconds"],
            },
        )


def _crontab_fields(schedule: crontab) -> dict[str, str]:
    """The fields as written (a crontab keeps them in private attributes,
    which celery-types does not declare)."""
    fields = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
    return {field: str(getattr(schedule, f"_orig_{field}")) for field in fields}
