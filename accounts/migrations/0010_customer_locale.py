from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_customeraddress_db_cascade"),
    ]

    # A nullable column without a default: PostgreSQL adds it without
    # rewriting the table; the CHECK reads the rows once (all NULL).
    operations = [
        migrations.AddField(
            model_name="customer",
            name="locale",
            field=models.CharField(blank=True, max_length=16, null=True),
        ),
        migrations.AddConstraint(
            model_name="customer",
            constraint=models.CheckConstraint(
                condition=models.Q(("locale__isnull", True))
                | models.Q(("locale__in", ("en", "zh-hans"))),
                name="customer_locale_supported",
            ),
        ),
    ]
