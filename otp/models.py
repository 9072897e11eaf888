"""One-time-code challenges and the per-email failure budget.

A challenge is live while it is not consumed, locked or replaced, and not
expired. Attempt counting happens under the row lock, in PostgreSQL, so a
lost Redis or a burst of parallel guesses cannot raise the number of codes
evaluated above `max_attempts`.
"""

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone

from core.ids import new_id


def new_challenge_id() -> str:
    return new_id("otp")


class Purpose(models.TextChoices):
    """What a right code does: log in (otp login), or prove the address of
    an account that is already logged in (sign-up verification). Each
    purpose has its own open challenge, cooldown and hourly budget, so a
    verification mail never replaces a login code; the failure budget is
    the address's, shared by both."""

    LOGIN = "login", "login"
    VERIFY = "verify", "verify the address"
    EMAIL_CHANGE = "email_change", "change the address"


class OtpChallenge(models.Model):
    id = models.CharField(
        primary_key=True, max_length=64, default=new_challenge_id, editable=False
    )
    email = models.CharField(max_length=254)
    purpose = models.CharField(
        max_length=16,
        choices=Purpose.choices,
        default=Purpose.LOGIN,
        db_default=Purpose.LOGIN,
    )
    # Whose challenge it is, when the address is not the account's yet (an
    # e-mail change: the account's identity id); empty otherwise.
    subject = models.CharField(max_length=64, blank=True, default="", db_default="")
    code_hash = models.CharField(max_length=64)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)
    replaced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "OTP challenge"
        indexes = [
            # Verify reads the newest challenge of an email and purpose; send
            # counts the last hour's challenges of an email and purpose.
            models.Index(
                fields=["email", "purpose", "-created_at"],
                name="otp_email_purpose_created_idx",
            ),
            # An e-mail change's confirmation finds its identity's newest
            # challenge (and so the new address) by subject.
            models.Index(
                fields=["subject", "purpose", "-created_at"],
                name="otp_subject_purpose_idx",
                condition=~Q(subject=""),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(attempts__lte=F("max_attempts")),
                name="otp_attempts_within_max",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")),
                name="otp_expires_after_created",
            ),
            models.CheckConstraint(
                condition=Q(purpose__in=[purpose.value for purpose in Purpose]),
                name="otp_purpose_known",
            ),
            models.UniqueConstraint(
                fields=["email", "purpose"],
                condition=Q(
                    consumed_at__isnull=True,
                    locked_at__isnull=True,
                    replaced_at__isnull=True,
                ),
                name="otp_one_open_challenge_per_email_purpose",
            ),
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def state(self) -> str:
        if self.consumed_at:
            return "used"
        if self.locked_at:
            return "locked"
        if self.replaced_at:
            return "replaced"
        if self.expires_at <= timezone.now():
            return "expired"
        return "live"


class OtpFailureBudget(models.Model):
    """Consecutive wrong codes per email, across challenges. At the ceiling
    (NIST SP 800-63B: no more than 100) OTP stops for the address until a
    successful login or a staff member resets it."""

    email = models.CharField(primary_key=True, max_length=254)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # Set by staff clearing a lockout: earlier challenges stop counting
    # against the hourly budget.
    cleared_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "OTP failure budget"
        permissions = [("clear_otp_lockout", "Can clear an OTP lockout")]

    def __str__(self) -> str:
        return self.email


class OtpMail(models.Model):
    """A challenge's mail, still to send: written in the statement that
    opens the challenge, so a code the API acknowledged is never without its
    mail, and deleted once sent (otp/mail.py). What it says travels sealed
    (core/seal.py): a dump of this table reads no address and no code."""

    id = models.BigAutoField(primary_key=True)
    # A purged challenge's mail goes with it, by PostgreSQL's ON DELETE
    # CASCADE (migration 0005): Django's emulated cascade would load every
    # purged challenge into memory first.
    challenge = models.ForeignKey(
        OtpChallenge,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    sealed = models.TextField()
    created_at = models.DateTimeField(db_default=Now())
    # Sends tried (a drain taking the row counts one).
    attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    # Not before: a drain's lease while it sends, or a failed send's backoff.
    send_after = models.DateTimeField(db_default=Now())
    # The process holding the lease (core/delivery.py's process_tag), so a
    # drain on the same machine takes over a dead one's rows at once.
    leased_by = models.CharField(max_length=200, blank=True, default="", db_default="")

    class Meta:
        verbose_name = "OTP mail"
        indexes = [
            # The challenge purge's cascade (not the _like index a varchar
            # foreign key gets by default: tests/orphans/test_sweep_schema.py).
            models.Index(fields=["challenge"], name="otp_mail_challenge_idx"),
        ]

    def __str__(self) -> str:
        return f"mail #{self.id} of {self.challenge_id}"
