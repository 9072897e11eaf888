import django.db.models.deletion
from django.db import migrations, models

# provid_identity_provider_uniq (auth_identity_id, provider) serves every
# lookup by identity; the foreign key's own index only cost writes and each
# cascaded delete (docs/performance.md). Only the index goes: Django's
# AlterField would also drop and re-add the foreign key, losing its
# database cascade (0003) and re-checking every row.
INDEX = "accounts_provideridentity_auth_identity_id_a62b318e"


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_foreign_keys_db_cascade"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="provideridentity",
                    name="auth_identity",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="provider_identities",
                        to="accounts.authidentity",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {INDEX}",
                    reverse_sql=f"CREATE INDEX {INDEX} "
                    "ON accounts_provideridentity (auth_identity_id)",
                ),
            ],
        ),
    ]
