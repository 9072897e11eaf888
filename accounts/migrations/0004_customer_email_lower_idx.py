"""Support's search finds any customer, guests too, by email in admin.
Built concurrently: a shop's signups keep writing customers meanwhile."""

import django.db.models.functions.text
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("accounts", "0003_foreign_keys_db_cascade"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="customer",
            index=models.Index(
                django.db.models.functions.text.Lower("email"),
                name="customer_email_lower_idx",
            ),
        ),
    ]
