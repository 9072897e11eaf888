"""The erasure audit's list shows the newest first, a page at a time:
without this index, a sort of every erasure each time it is shown. Built
concurrently: erasures keep being written meanwhile."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("privacy", "0001_initial"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="erasure",
            index=models.Index(fields=["-erased_at"], name="erasure_erased_at_idx"),
        ),
    ]
