"""Orphans: holds, sweep runs, the deletion audit, failure events, and the
signup circuit breaker. The audit and events keep emails as HMACs only."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import AuthIdentity


class Orphan(AuthIdentity):
    """Admin's view of auth identities without a customer."""

    class Meta:
        proxy = True
        permissions = [
            ("hold_orphan", "Can put an orphan on hold or release it"),
            ("run_sweep", "Can run the orphan sweep"),
            ("view_orphan_dashboard", "Can view the orphan dashboard"),
        ]


class OrphanHold(models.Model):
    """An orphan staff asked the sweep to keep (e.g. while a customer is
    being helped)."""

    auth_identity = models.OneToOneField(
        AuthIdentity,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="orphan_hold",
    )
    held_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    held_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"hold on {self.auth_identity_id}"


class Trigger(models.TextChoices):
    BEAT = "beat", "Celery beat"
    COMMAND = "command", "Management command"
    ADMIN = "admin", "Admin"


class SweepRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        FINISHED = "finished"
        FAILED = "failed"

    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    dry_run = models.BooleanField(default=False)
    cutoff = models.DateTimeField()
    batch_size = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.RUNNING
    )
    found = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"sweep {self.pk} ({self.trigger}, {self.status})"


class OrphanDeletion(models.Model):
    """Audit of one deleted orphan. Append-only, keyed by the identity id,
    so two sweeps can never both record one deletion.

    The sweep writes one row per orphan, so every index and key check here
    is paid a million times for a million orphans (docs/performance.md): the
    identity id is the primary key (no surrogate id, sequence and second
    unique index), and the run and staff user are plain ids, as an
    append-only audit should keep them anyway (nothing deletes sweep runs; a
    deleted staff account's id and username stay on what it did)."""

    auth_identity_id = models.CharField(max_length=64, primary_key=True)
    email_hash = models.CharField(max_length=64)
    providers = models.JSONField(default=list)
    identity_created_at = models.DateTimeField()
    deleted_at = models.DateTimeField(db_index=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # indexed where set, below: sweeps leave it empty
        related_name="+",
    )
    staff_username = models.CharField(max_length=150, blank=True)
    sweep_run = models.ForeignKey(
        SweepRun,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="deletions",
    )

    class Meta:
        ordering = ["-deleted_at"]
        indexes = [
            models.Index(
                fields=["staff_user"],
                condition=models.Q(staff_user__isnull=False),
                name="orphandeletion_staff_user_idx",
            )
        ]

    def __str__(self) -> str:
        return f"deleted {self.auth_identity_id}"


class OrphanEvent(models.Model):
    """Seed 000's `Customer profile creation failed after auth registration`,
    kept in the database for the dashboard and the circuit breaker: the
    first failure of each identity (later ones are only logged)."""

    auth_identity_id = models.CharField(max_length=64, unique=True)
    email_hash = models.CharField(max_length=64, blank=True)
    error = models.CharField(max_length=200)
    # The client's input was refused (a 4xx): an orphan all the same, counted
    # and swept, but no sign that we are failing, so not the breaker's. A
    # database default: processes of the previous release keep inserting
    # while a rolling deploy runs.
    rejected = models.BooleanField(db_default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"profile failure of {self.auth_identity_id}"


class SignupGate(models.Model):
    """One row: whether new signups are paused (the runbook's escalation)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    paused_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(id=1), name="signupgate_single_row"
            )
        ]
        permissions = [("pause_signups", "Can pause and resume signups")]

    def __str__(self) -> str:
        return "signups paused" if self.paused_at else "signups open"


class SignupGateChange(models.Model):
    """Audit of every pause and resume."""

    class Action(models.TextChoices):
        PAUSE = "pause"
        RESUME = "resume"

    action = models.CharField(max_length=8, choices=Action.choices)
    at = models.DateTimeField(default=timezone.now)
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    automatic = models.BooleanField(default=False)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.action} at {self.at:%Y-%m-%d %H:%M}"
