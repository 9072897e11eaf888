from django.db import migrations

from core.pg_operations import DropLikeIndexes, ForeignKeyDbCascade


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_customer_address"),
    ]

    # Apart from 0008: Django creates 0008's foreign key and indexes at the
    # end of that migration. Medusa's customer_address cascades in the
    # database too; the id's varchar_pattern_ops index has no reader
    # (core/pg_operations.py).
    operations = [
        ForeignKeyDbCascade("customeraddress", "customer"),
        DropLikeIndexes(),
    ]
