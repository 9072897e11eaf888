import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# Sweeps write nearly every audit row, all without a staff user: index only
# the rows that have one (admin deletions). Only the index changes: Django's
# AlterField would also drop and re-add the foreign key.
INDEX = "orphans_orphandeletion_staff_user_id_8f5e9669"


class Migration(migrations.Migration):
    dependencies = [
        ("orphans", "0005_audit_sweep_run_plain_id"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="orphandeletion",
                    name="staff_user",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {INDEX}",
                    reverse_sql=f"CREATE INDEX {INDEX} "
                    "ON orphans_orphandeletion (staff_user_id)",
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="orphandeletion",
            index=models.Index(
                condition=models.Q(("staff_user__isnull", False)),
                fields=["staff_user"],
                name="orphandel_staff_user_idx",
            ),
        ),
    ]
