"""Data: the Support group, the beat schedule rows and the signup gate row."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from orphans.schedule import beat_schedule_install
from orphans.support import support_group_install


def install(apps, schema_editor):
    # Permissions are normally created after all migrations; make them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    support_group_install(
        apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    )
    beat_schedule_install(
        apps.get_model("django_celery_beat", "PeriodicTask"),
        apps.get_model("django_celery_beat", "CrontabSchedule"),
    )
    apps.get_model("orphans", "SignupGate").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [
        ("orphans", "0001_initial"),
        ("accounts", "0001_initial"),
        ("otp", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
