"""Stored addresses are printable ASCII: the normal form's domain is IDNA's
ASCII form (core.emails), so a full-width look-alike of an address cannot
be stored beside it.

Added NOT VALID (new and changed rows are checked at once, with a moment's
lock), then validated without blocking writes. Rows stored before the normal
form had IDNA (a full-width domain, say) would fail the validation: then the
constraint stays NOT VALID, the migration says so, and
`manage.py email_collisions` lists those rows and rewrites the ones it can
(docs/runbook.md); its `--fix` validates the constraints once they hold.
"""

import sys

from django.contrib.postgres.operations import AddConstraintNotValid
from django.db import IntegrityError, migrations, models, transaction

CONSTRAINTS = (
    ("accounts_customer", "customer_registered_email_printable_ascii"),
    ("accounts_provideridentity", "provid_entity_id_printable_ascii"),
)


def validate_if_rows_hold(apps, schema_editor):
    connection = schema_editor.connection
    for table, name in CONSTRAINTS:
        try:
            with transaction.atomic(using=connection.alias):
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"ALTER TABLE {connection.ops.quote_name(table)} "
                        f"VALIDATE CONSTRAINT {connection.ops.quote_name(name)}"
                    )
        except IntegrityError:
            sys.stderr.write(
                f"\n  {name} left NOT VALID: stored rows break it; "
                "run `manage.py email_collisions`\n"
            )


class Migration(migrations.Migration):
    atomic = False  # VALIDATE must not run under the ADD's exclusive lock

    dependencies = [
        ("accounts", "0006_provid_medusa_hash_idx"),
    ]

    operations = [
        AddConstraintNotValid(
            model_name="customer",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("has_account", False),
                    ("email__regex", "^[!-~]+$"),
                    _connector="OR",
                ),
                name="customer_registered_email_printable_ascii",
            ),
        ),
        AddConstraintNotValid(
            model_name="provideridentity",
            constraint=models.CheckConstraint(
                condition=models.Q(("entity_id__regex", "^[!-~]+$")),
                name="provid_entity_id_printable_ascii",
            ),
        ),
        migrations.RunPython(validate_if_rows_hold, migrations.RunPython.noop),
    ]
