"""The beat schedule (ops/schedule.py): installed by migration, enabled by
its install, read but not switched by Support, every staff action on it
audited."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User

from ops.schedule import BEAT_SCHEDULE, beat_schedule_install

pytestmark = pytest.mark.django_db

PERIODIC_TASKS = "/admin/django_celery_beat/periodictask/"


def test_beat_schedule_exists_after_migrate():
    """The data migration's rows. ./dev test disables them before beat
    starts, so the wall-clock jobs stay out of the tests; the next test
    shows the install enables them."""
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="sweep-orphans")
    assert task.task == "orphans.tasks.orphans_sweep_task"
    assert task.crontab.minute == "17"
    assert task.expire_seconds == 3000
    assert set(PeriodicTask.objects.values_list("name", flat=True)) >= set(
        BEAT_SCHEDULE
    )


def test_the_schedule_installs_enabled():
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    PeriodicTask.objects.all().delete()
    beat_schedule_install(PeriodicTask, CrontabSchedule)

    installed = dict(PeriodicTask.objects.values_list("name", "enabled"))
    assert installed == dict.fromkeys(BEAT_SCHEDULE, True)


def test_support_reads_the_schedule_but_cannot_switch_it(support):
    from django_celery_beat.models import PeriodicTask

    sweep = PeriodicTask.objects.get(name="sweep-orphans")
    PeriodicTask.objects.filter(pk=sweep.pk).update(enabled=True)

    listing = support.get(PERIODIC_TASKS)
    support.post(
        PERIODIC_TASKS, {"action": "disable_tasks", "_selected_action": [sweep.pk]}
    )

    assert listing.status_code == 200
    assert b"disable_tasks" not in listing.content
    assert PeriodicTask.objects.get(pk=sweep.pk).enabled
    assert not LogEntry.objects.exists()


def test_a_superusers_schedule_action_is_audited(client):
    from django_celery_beat.models import PeriodicTask

    admin = User.objects.create_superuser("root", password="pw-for-tests-only")
    client.force_login(admin)
    sweep = PeriodicTask.objects.get(name="sweep-orphans")
    PeriodicTask.objects.filter(pk=sweep.pk).update(enabled=True)

    client.post(
        PERIODIC_TASKS, {"action": "disable_tasks", "_selected_action": [sweep.pk]}
    )

    assert not PeriodicTask.objects.get(pk=sweep.pk).enabled
    entry = LogEntry.objects.get(object_id=str(sweep.pk))
    assert (entry.user, entry.change_message) == (admin, "Admin action: disable_tasks")
