"""What support reads back: sweep runs, deletions (the audit), orphan
events and the signup gate with its changes (resumed here)."""

from django.contrib import admin, messages
from django.db.models import Q
from django.utils import timezone

from core.admin import LargeTableAdmin, ReadOnlyAdmin
from core.emails import email_hash
from orphans import services
from orphans.admin.review import hash_short
from orphans.models import (
    OrphanDeletion,
    OrphanEvent,
    SignupGate,
    SignupGateChange,
    SweepRun,
)


@admin.register(SweepRun)
class SweepRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "trigger",
        "dry_run",
        "status",
        "found",
        "deleted",
        "started_at",
        "finished_at",
        "staff_user",
    )
    list_filter = ("trigger", "status", "dry_run")


@admin.register(OrphanDeletion)
class OrphanDeletionAdmin(LargeTableAdmin, ReadOnlyAdmin):
    # Who deleted what and when first: narrow screens scroll the rest.
    list_display = (
        "auth_identity_id",
        "deleted_at",
        "trigger",
        "staff_username",
        "email_hash_short",
        "provider_list",
        "identity_created_at",
    )
    list_filter = ("trigger",)
    search_fields = ("auth_identity_id", "email_hash")
    search_help_text = "A whole identity id, email address (any case) or email hash."

    def search_q(self, term: str) -> Q:
        # The email hash has no index (each would cost the sweep an insert
        # at a random place), so an email or hash reads the whole audit
        # (0.2 s a million rows); an id is found through the primary key.
        if "@" in term:
            return Q(email_hash=email_hash(term))
        if len(term) == 64:
            return Q(email_hash=term.lower()) | Q(pk=term)
        return Q(pk=term)

    @admin.display(description="email hash", ordering="email_hash")
    def email_hash_short(self, obj):
        return hash_short(obj.email_hash)

    @admin.display(description="providers")
    def provider_list(self, obj) -> str:
        return ", ".join(obj.providers) or "—"  # not the JSON '["emailpass"]'


@admin.register(OrphanEvent)
class OrphanEventAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "auth_identity_id",
        "email_hash_short",
        "error",
        "rejected",
    )
    list_filter = ("rejected",)
    search_fields = ("auth_identity_id", "email_hash")

    @admin.display(description="email hash", ordering="email_hash")
    def email_hash_short(self, obj):
        return hash_short(obj.email_hash)


@admin.register(SignupGateChange)
class SignupGateChangeAdmin(ReadOnlyAdmin):
    list_display = ("at", "action", "automatic", "staff_user", "reason")


@admin.register(SignupGate)
class SignupGateAdmin(ReadOnlyAdmin):
    list_display = ("state", "paused_at", "reason")
    actions = ["pause", "resume"]

    @admin.display(description="state")
    def state(self, obj) -> str:
        return str(obj)

    def has_pause_permission(self, request) -> bool:
        return request.user.has_perm("orphans.pause_signups")

    @admin.action(description="Pause new signups", permissions=["pause"])
    def pause(self, request, queryset):
        services.signups_pause(
            staff_user=request.user, reason="paused in admin", now=timezone.now()
        )
        self.message_user(request, "New signups are paused.", messages.WARNING)

    @admin.action(description="Resume signups", permissions=["pause"])
    def resume(self, request, queryset):
        services.signups_resume(
            staff_user=request.user, reason="resumed in admin", now=timezone.now()
        )
        self.message_user(request, "Signups resumed.")
