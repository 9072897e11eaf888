"""Staff see challenges (never the code hash) and clear lockouts, audited in
Django's admin log."""

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.db.models import Q
from django.urls import path
from django.utils import timezone

from core.admin import LargeTableAdmin, ReadOnlyAdmin
from core.emails import email_normalize
from otp import services
from otp.models import OtpChallenge, OtpFailureBudget


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [(s, s) for s in ("live", "used", "locked", "replaced", "expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        open_ = {
            "consumed_at__isnull": True,
            "locked_at__isnull": True,
            "replaced_at__isnull": True,
        }
        filters = {
            "live": {**open_, "expires_at__gt": now},
            "expired": {**open_, "expires_at__lte": now},
            "used": {"consumed_at__isnull": False},
            "locked": {"locked_at__isnull": False},
            "replaced": {"replaced_at__isnull": False},
        }
        return queryset.filter(**filters[self.value()]) if self.value() else queryset


def _audit(request, obj, message: str) -> None:
    LogEntry.objects.log_actions(
        user_id=request.user.pk,
        queryset=[obj],
        action_flag=CHANGE,
        change_message=message,
        single_object=True,
    )


@admin.action(
    description="Clear the OTP lockout of these emails", permissions=["clear_lockout"]
)
def clear_lockout(modeladmin, request, queryset):
    emails = sorted({row.email for row in queryset})
    for email in emails:
        budget = services.otp_lockout_clear(email=email, now=timezone.now())
        _audit(request, budget, "Cleared OTP lockout")
    messages.success(request, f"Cleared the OTP lockout of {len(emails)} email(s).")


class ClearLockoutPermission:
    def has_clear_lockout_permission(self, request) -> bool:
        return request.user.has_perm("otp.clear_otp_lockout")


@admin.register(OtpChallenge)
class OtpChallengeAdmin(ClearLockoutPermission, LargeTableAdmin, ReadOnlyAdmin):
    list_display = (
        "id",
        "email",
        "purpose",
        "state",
        "attempts",
        "created_at",
        "expires_at",
    )
    list_filter = (StateFilter, "purpose")
    search_fields = ("email", "id")
    search_help_text = "A whole challenge id or email address (any case)."
    ordering = ("-created_at",)
    # Never the code hash.
    fields = (
        "id",
        "email",
        "purpose",
        "attempts",
        "max_attempts",
        "created_at",
        "expires_at",
        "consumed_at",
        "locked_at",
        "replaced_at",
    )
    readonly_fields = fields
    actions = [clear_lockout]

    def search_q(self, term: str) -> Q:
        # Through otp_email_purpose_created_idx (emails are stored in their
        # normal form), or the primary key.
        return Q(email=email_normalize(term)) | Q(id=term)


@admin.register(OtpFailureBudget)
class OtpFailureBudgetAdmin(ClearLockoutPermission, LargeTableAdmin, ReadOnlyAdmin):
    """A row per address that was ever given a wrong code: searched by the
    whole address, through the primary key."""

    list_display = ("email", "consecutive_failures", "updated_at")
    list_display_links = None
    search_fields = ("email",)
    search_help_text = "A whole email address (any case)."
    ordering = ("-consecutive_failures",)
    readonly_fields = ("email", "consecutive_failures", "updated_at")
    actions = [clear_lockout]

    def search_q(self, term: str) -> Q:
        return Q(email=email_normalize(term))

    def get_urls(self):
        # The list only: it shows every field, and a row's own pages would
        # have the email (the primary key) in their URL, which access logs
        # keep. Without them the admin log's entries of a cleared lockout
        # link nowhere (LogEntry.get_admin_url finds no change page).
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "",
                self.admin_site.admin_view(self.changelist_view),
                name="{}_{}_changelist".format(*info),
            )
        ]
