"""The code mails' minute drain (ops/schedule.py), frozen as written, like
0002."""

from django.db import migrations


def install(apps, schema_editor):
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    periodic_task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = crontab_model.objects.get_or_create(
        minute="*",
        hour="*",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="UTC",
    )
    periodic_task_model.objects.get_or_create(
        name="send-code-mails",
        defaults={
            "task": "otp.tasks.otp_mail_drain_kick_task",
            "crontab": crontab,
            "expire_seconds": 50,
        },
    )


class Migration(migrations.Migration):
    dependencies = [("ops", "0003_replica_verify")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
