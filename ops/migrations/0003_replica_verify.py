"""The replica's daily verify and repair (ops/schedule.py), frozen as
written, like 0001."""

from django.db import migrations


def install(apps, schema_editor):
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    periodic_task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = crontab_model.objects.get_or_create(
        minute="41",
        hour="3",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="UTC",
    )
    periodic_task_model.objects.get_or_create(
        name="verify-replica",
        defaults={
            "task": "replica.tasks.replica_verify_task",
            "crontab": crontab,
            "expire_seconds": 21600,
        },
    )


class Migration(migrations.Migration):
    dependencies = [("ops", "0002_replica_drain")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
