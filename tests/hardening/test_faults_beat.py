"""Beat keeps its schedule through a PostgreSQL outage: a tick that has to
read the schedule while the database is down is tried again shortly, it
does not end beat (ops/scheduler.py). Against the test stack's real
PostgreSQL, stopped and started again."""

import datetime

from config.celery import app
from ops.scheduler import OUTAGE_RETRY_SECONDS, DatabaseScheduler
from tests.hardening.faults import stopped


def test_a_tick_during_an_outage_waits_and_the_next_one_reads_again(
    transactional_db,
):
    scheduler = DatabaseScheduler(app=app)
    scheduler.tick()  # the first read of the schedule
    # Due for its full read of the schedule (every 5 minutes), as it was
    # when PostgreSQL went away under it.
    scheduler._last_full_sync -= datetime.timedelta(minutes=10)  # noqa: SLF001

    with stopped("pg"):
        during = scheduler.tick()
    scheduler._last_full_sync -= datetime.timedelta(minutes=10)  # noqa: SLF001
    after = scheduler.tick()

    assert during == OUTAGE_RETRY_SECONDS
    assert isinstance(after, float | int)
    assert scheduler.schedule  # read again, from the database that is back
