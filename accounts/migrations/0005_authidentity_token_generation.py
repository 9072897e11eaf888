"""Exact token revocation: a generation per identity that tokens carry.
A database default, so a rolling deploy's old code can still insert."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_customer_email_lower_idx"),
    ]

    operations = [
        migrations.AddField(
            model_name="authidentity",
            name="token_generation",
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
    ]
