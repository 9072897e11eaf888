"""Data: the signup gate's one row.

This migration once also made the Support group and the beat schedule by
importing live modules. Those now live with their owner: the group is
installed after every migrate (ops.apps), the schedule's rows by
ops/migrations/0001_beat_schedule.py. Databases that ran the old version
keep what it made."""

from django.db import migrations


def install(apps, schema_editor):
    apps.get_model("orphans", "SignupGate").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [
        ("orphans", "0001_initial"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
