"""Social logins (docs/social-login.md) in ProviderIdentity: any provider
named like a social one, keyed by its OpenID Connect subject (up to 255
characters); the email checks hold for the email providers alone.

The new checks are weaker than the ones they replace, so every stored row
holds them: added NOT VALID (a moment's lock), then validated without
blocking writes. Widening a varchar rewrites nothing in PostgreSQL.
"""

import django.db.models.functions.text
from django.contrib.postgres.operations import AddConstraintNotValid
from django.db import migrations, models

VALIDATED = (
    "provid_provider_name",
    "provid_entity_id_normalized_email",
    "provid_entity_id_not_empty",
)


class Migration(migrations.Migration):
    atomic = False  # VALIDATE must not run under the ADD's exclusive lock

    dependencies = [
        ("accounts", "0012_loginsession_db_cascade"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="provideridentity",
            name="provid_provider_known",
        ),
        migrations.RemoveConstraint(
            model_name="provideridentity",
            name="provid_entity_id_normalized_email",
        ),
        migrations.AlterField(
            model_name="provideridentity",
            name="entity_id",
            field=models.CharField(max_length=255),
        ),
        migrations.AlterField(
            model_name="provideridentity",
            name="provider",
            field=models.CharField(max_length=32),
        ),
        AddConstraintNotValid(
            model_name="provideridentity",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("provider__in", ["emailpass", "email-otp"]),
                    ("provider__regex", "^[a-z][a-z0-9-]{1,30}$"),
                    _connector="OR",
                ),
                name="provid_provider_name",
            ),
        ),
        AddConstraintNotValid(
            model_name="provideridentity",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("provider__in", ["emailpass", "email-otp"]), _negated=True
                    ),
                    models.Q(
                        (
                            "entity_id",
                            django.db.models.functions.text.Lower(
                                django.db.models.functions.text.Trim("entity_id")
                            ),
                        ),
                        ("entity_id__contains", "@"),
                    ),
                    _connector="OR",
                ),
                name="provid_entity_id_normalized_email",
            ),
        ),
        AddConstraintNotValid(
            model_name="provideridentity",
            constraint=models.CheckConstraint(
                condition=models.Q(("entity_id", ""), _negated=True),
                name="provid_entity_id_not_empty",
            ),
        ),
        *(
            migrations.RunSQL(
                f"ALTER TABLE accounts_provideridentity VALIDATE CONSTRAINT {name}",
                migrations.RunSQL.noop,
            )
            for name in VALIDATED
        ),
    ]
