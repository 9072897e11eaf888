"""The beat schedule's rows, so it exists right after migrate (beat copies
ops/schedule.py into them at start, keeping an admin's pause). The entries
are frozen here as they were when this migration was written: a later edit
of ops/schedule.py reaches the rows through beat, not by rewriting history.
Databases migrated before this app existed got the same rows from orphans'
0002; get_or_create leaves them as they are."""

from django.db import migrations

SCHEDULE = (
    # name, task, minute
    ("sweep-orphans", "orphans.tasks.orphans_sweep_task", "17"),
    (
        "purge-expired-credentials",
        "accounts.tasks.expired_credentials_purge_task",
        "37",
    ),
    ("purge-otp-challenges", "otp.tasks.otp_challenges_purge_task", "47"),
)


def install(apps, schema_editor):
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    periodic_task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, minute in SCHEDULE:
        crontab, _ = crontab_model.objects.get_or_create(
            minute=minute,
            hour="*",
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone="UTC",
        )
        periodic_task_model.objects.get_or_create(
            name=name,
            defaults={"task": task, "crontab": crontab, "expire_seconds": 50 * 60},
        )


class Migration(migrations.Migration):
    dependencies = [
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
