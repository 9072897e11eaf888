"""The orphans dashboard counts the period's sign-ups that ended with a
customer: without this index, a read of every customer each time it is
shown. Built concurrently: a shop's signups keep writing customers
meanwhile."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("accounts", "0013_provider_identity_social"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("has_account", True)),
                fields=["created_at"],
                name="customer_account_created_idx",
            ),
        ),
    ]
