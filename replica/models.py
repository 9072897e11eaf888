"""The replication outbox. Triggers on the customer and address tables
(migration 0001) insert a row here in the same transaction as every change,
whatever made it: the API, a flow, staff in admin, a queryset update. A row
says only "this customer changed": the drain (replica/services/drain.py)
copies the customer's current state to Medusa and then deletes the rows it
read, so a row is applied at least once and a burst of changes costs one
write."""

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now


class Change(models.Model):
    id = models.BigAutoField(primary_key=True)
    # No foreign key: a deleted customer's change must outlive its row, so
    # the drain can delete the replica too.
    customer_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(db_default=Now())
    attempts = models.PositiveIntegerField(default=0, db_default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The failure's kind and constraint, never its message: PostgreSQL puts
    # the conflicting email in a unique violation's detail.
    last_error = models.TextField(blank=True, default="", db_default="")
    parked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "replication change"
        indexes = [
            # The drain's scan: pending changes in commit order.
            models.Index(
                fields=["id"],
                condition=Q(parked_at__isnull=True),
                name="replica_change_pending_idx",
            ),
            models.Index(fields=["customer_id"], name="replica_change_customer_idx"),
        ]
        permissions = [("retry_change", "Can retry parked replication changes")]

    def __str__(self) -> str:
        return f"{self.customer_id} #{self.id}"


class SyncCursor(models.Model):
    """How far a long `medusa_sync` run got (replica/services/sync.py), so
    that a rerun after Ctrl-C or a crash resumes where it stopped."""

    name = models.CharField(max_length=32, primary_key=True)
    # The last customer id done, in id order ("" before the first batch).
    position = models.CharField(max_length=64, blank=True, default="")
    # Which Medusa database the run writes (host:port/dbname): a rerun
    # against another one must not skip the customers done in the first.
    target = models.CharField(max_length=300, blank=True, default="")
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "replication sync cursor"

    def __str__(self) -> str:
        return f"{self.name} at {self.position or 'start'}"
