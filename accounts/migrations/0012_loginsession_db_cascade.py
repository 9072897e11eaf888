from django.db import migrations

from core.pg_operations import DropLikeIndexes, ForeignKeyDbCascade


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_login_session"),
    ]

    # Apart from 0011, as 0009 is from 0008. The cascade lets the orphan
    # sweep's and the erasure's DELETE of identities take their sessions
    # along without a statement of their own.
    operations = [
        ForeignKeyDbCascade("loginsession", "auth_identity"),
        DropLikeIndexes(),
    ]
