"""Imported Medusa hashes not yet re-hashed, found without a scan (failed
logins do scrypt work while any remain). Built concurrently: logins and
signups keep writing provider identities meanwhile."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("accounts", "0005_authidentity_token_generation"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="provideridentity",
            index=models.Index(
                condition=models.Q(password_hash__startswith="medusa_scrypt$"),  # noqa: S106
                fields=["id"],
                name="provid_medusa_hash_idx",
            ),
        ),
    ]
