"""The erasure audit: one row per erased customer, append-only, with the
email as an HMAC only (core.emails.email_hash), so staff can answer "was
this address's account erased, when, at whose request" without the
address being kept."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Erasure(models.Model):
    class Actor(models.TextChoices):
        CUSTOMER = "customer", "The customer"
        STAFF = "staff", "Staff"

    class Proof(models.TextChoices):
        PASSWORD = "password", "Password"  # noqa: S105  (a label)
        CODE = "code", "E-mailed code"
        STAFF = "staff", "Staff (request received by other means)"

    # The erased customer's id, kept because Medusa's orders keep it
    # (the replica soft-deletes the row there): no foreign key, the
    # customer is gone. Unique: a customer is erased once.
    customer_id = models.CharField(max_length=64, unique=True)
    email_hash = models.CharField(max_length=64, db_index=True)
    erased_at = models.DateTimeField(default=timezone.now)
    actor = models.CharField(max_length=16, choices=Actor.choices)
    proof = models.CharField(max_length=16, choices=Proof.choices)
    # The staff user's id and name as they were: an audit outlives accounts.
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    staff_username = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-erased_at"]
        # The audit's list, newest first, a page at a time.
        indexes = [models.Index(fields=["-erased_at"], name="erasure_erased_at_idx")]
        permissions = [("erase_customer", "Can erase a customer (GDPR art. 17)")]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(actor="staff", proof="staff", staff_user__isnull=False)
                    | (Q(actor="customer") & ~Q(proof="staff"))
                ),
                name="erasure_actor_matches_proof",
            ),
            models.CheckConstraint(
                condition=Q(email_hash__regex=r"^[0-9a-f]{64}$"),
                name="erasure_email_hash_hex",
            ),
        ]

    def __str__(self) -> str:
        return f"erasure of {self.customer_id}"
