import django.db.models.functions.datetime
from django.db import migrations, models

# One outbox row per changed customer row or address row, in the changing
# transaction (replica/models.py). `SET LOCAL storefront.replica = 'off'`
# skips recording: the importer's rows come from Medusa and are there
# already. An UPDATE that changes nothing records nothing.
TRIGGERS = """
CREATE FUNCTION replica_change_record() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('storefront.replica', true) = 'off' THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO replica_change (customer_id)
        VALUES (to_jsonb(OLD) ->> TG_ARGV[0]);
    END IF;
    IF TG_OP <> 'DELETE'
       AND (TG_OP = 'INSERT'
            OR to_jsonb(NEW) ->> TG_ARGV[0] IS DISTINCT FROM to_jsonb(OLD) ->> TG_ARGV[0]) THEN
        INSERT INTO replica_change (customer_id)
        VALUES (to_jsonb(NEW) ->> TG_ARGV[0]);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER replica_customer_insert_delete
AFTER INSERT OR DELETE ON accounts_customer
FOR EACH ROW EXECUTE FUNCTION replica_change_record('id');
CREATE TRIGGER replica_customer_update
AFTER UPDATE ON accounts_customer
FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
EXECUTE FUNCTION replica_change_record('id');

CREATE TRIGGER replica_address_insert_delete
AFTER INSERT OR DELETE ON accounts_customeraddress
FOR EACH ROW EXECUTE FUNCTION replica_change_record('customer_id');
CREATE TRIGGER replica_address_update
AFTER UPDATE ON accounts_customeraddress
FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
EXECUTE FUNCTION replica_change_record('customer_id');
"""

TRIGGERS_DROP = """
DROP TRIGGER replica_customer_insert_delete ON accounts_customer;
DROP TRIGGER replica_customer_update ON accounts_customer;
DROP TRIGGER replica_address_insert_delete ON accounts_customeraddress;
DROP TRIGGER replica_address_update ON accounts_customeraddress;
DROP FUNCTION replica_change_record();
"""


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0009_customeraddress_db_cascade"),
    ]

    operations = [
        migrations.CreateModel(
            name="Change",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("customer_id", models.CharField(max_length=64)),
                (
                    "created_at",
                    models.DateTimeField(
                        db_default=django.db.models.functions.datetime.Now()
                    ),
                ),
                ("attempts", models.PositiveIntegerField(db_default=0, default=0)),
                ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True, db_default="", default="")),
                ("parked_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "verbose_name": "replication change",
                "permissions": [
                    ("retry_change", "Can retry parked replication changes")
                ],
                "indexes": [
                    models.Index(
                        condition=models.Q(("parked_at__isnull", True)),
                        fields=["id"],
                        name="replica_change_pending_idx",
                    ),
                    models.Index(
                        fields=["customer_id"], name="replica_change_customer_idx"
                    ),
                ],
            },
        ),
        migrations.RunSQL(TRIGGERS, TRIGGERS_DROP),
    ]
