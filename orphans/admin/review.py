"""Support's tools: review, hold and delete orphans, run the sweep, watch
the dashboard, pause or resume signups. Every change is audited (deletions
in OrphanDeletion, the rest in Django's admin log and SignupGateChange)."""

from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Prefetch
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from accounts.admin import AuthIdentitySearch
from accounts.models import ProviderIdentity
from core.admin import whole_list_refused
from core.tasks import BrokerUnavailable, publish
from orphans import selectors, services
from orphans.models import (
    Orphan,
    OrphanHold,
    SweepRun,
    Trigger,
)


def email_mask(email: str | None) -> str:
    """`j***@example.com`: enough for support to match a caller."""
    if not email or "@" not in email:
        return "—"
    local, domain = email.split("@", 1)
    return f"{local[:1]}***@{domain}"


def hash_short(value: str):
    """The first 12 hex digits, the whole HMAC on hover: a full 64-digit
    column pushed the other columns out of sight in a list."""
    if len(value) <= 12:
        return value
    return format_html('<span title="{}">{}…</span>', value, value[:12])


def audit(request, objects, message: str) -> None:
    LogEntry.objects.log_actions(
        user_id=request.user.pk,
        queryset=list(objects),
        action_flag=CHANGE,
        change_message=message,
    )


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"

    def lookups(self, request, model_admin):
        return [
            ("recent", "under 1 hour"),
            ("day", "1 hour to the sweep age"),
            ("sweepable", "past the sweep age"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        max_age = selectors.orphan_max_age()
        if self.value() == "recent":
            return queryset.filter(created_at__gte=now - timedelta(hours=1))
        if self.value() == "day":
            return queryset.filter(
                created_at__lt=now - timedelta(hours=1), created_at__gte=now - max_age
            )
        if self.value() == "sweepable":
            return queryset.filter(created_at__lt=now - max_age)
        return queryset


class HoldFilter(admin.SimpleListFilter):
    title = "on hold"
    parameter_name = "held"

    def lookups(self, request, model_admin):
        return [("yes", "on hold"), ("no", "not on hold")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(is_held=self.value() == "yes")
        return queryset


@admin.register(Orphan)
class OrphanAdmin(AuthIdentitySearch):
    # "on hold" right after the email: with the filter and nav sidebars a
    # 1280-px screen shows only ~630 px of the list, and later columns scroll.
    list_display = ("id", "masked_email", "is_held", "age", "providers")
    list_filter = (AgeFilter, HoldFilter)
    search_fields = ("id", "provider_identities__entity_id")
    ordering = ("created_at",)
    actions = ["delete_orphans", "hold_orphans", "release_orphans"]
    list_per_page = 50
    change_list_template = "admin/orphans/orphan/change_list.html"

    def get_queryset(self, request):
        # Every unlinked identity, whatever its age; the age filter narrows.
        return (
            selectors.orphans_older_than(cutoff=timezone.now() + timedelta(days=1))
            .annotate(
                is_held=Exists(
                    OrphanHold.objects.filter(auth_identity_id=OuterRef("pk"))
                )
            )
            .prefetch_related(
                Prefetch(
                    "provider_identities",
                    queryset=ProviderIdentity.objects.only(
                        "auth_identity_id", "provider", "entity_id"
                    ),
                )
            )
        )

    @admin.display(description="email")
    def masked_email(self, obj) -> str:
        identities = list(obj.provider_identities.all())
        return email_mask(identities[0].entity_id if identities else None)

    @admin.display(description="providers")
    def providers(self, obj) -> str:
        return (
            ", ".join(sorted(p.provider for p in obj.provider_identities.all())) or "—"
        )

    @admin.display(description="age", ordering="created_at")
    def age(self, obj) -> str:
        return timesince(obj.created_at)

    @admin.display(description="on hold", boolean=True, ordering="is_held")
    def is_held(self, obj) -> bool:
        return obj.is_held

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_hold_permission(self, request) -> bool:
        return request.user.has_perm("orphans.hold_orphan")

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # ours confirms and audits
        return actions

    def _whole_list_refused(self, request) -> bool:
        """Selecting all N matches would load a backlog of up to millions of
        rows into one request: the sweep (Run sweep…) is the tool for those."""
        return whole_list_refused(
            self,
            request,
            "Select the orphans on this page; for a whole backlog use "
            "Run sweep…, which deletes in batches and audits each one.",
        )

    @admin.action(description="Delete selected orphans…", permissions=["delete"])
    def delete_orphans(self, request, queryset):
        # The selection as posted: an identity that gained a customer since
        # the list was shown is no longer in `queryset`, and must be reported
        # as refused rather than silently dropped.
        if self._whole_list_refused(request):
            return None
        ids = request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)
        if request.POST.get("confirmed") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Delete orphans?",
                "orphans": queryset,
                "ids": ids,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(
                request, "admin/orphans/orphan/delete_confirmation.html", context
            )
        deleted, refused = services.orphans_delete_selected(
            auth_identity_ids=ids, staff_user=request.user, now=timezone.now()
        )
        if deleted:
            self.message_user(
                request, f"Deleted {len(deleted)} orphan(s); see the deletion audit."
            )
        if refused:
            self.message_user(
                request,
                f"Refused {len(refused)}: no longer an orphan (a customer was "
                f"created) or on hold: {', '.join(refused)}",
                messages.WARNING,
            )
        return None

    @admin.action(
        description="Put selected orphans on hold (the sweep skips them)",
        permissions=["hold"],
    )
    def hold_orphans(self, request, queryset):
        if self._whole_list_refused(request):
            return
        held = [
            identity
            for identity in queryset
            if services.orphan_hold(
                auth_identity_id=identity.id,
                staff_user=request.user,
                reason="held in admin",
                now=timezone.now(),
            )
        ]
        audit(request, held, "Put on hold")
        self.message_user(request, f"Put {len(held)} orphan(s) on hold.")

    @admin.action(
        description="Release selected orphans from hold", permissions=["hold"]
    )
    def release_orphans(self, request, queryset):
        if self._whole_list_refused(request):
            return
        released = [
            identity
            for identity in queryset
            if services.orphan_release(auth_identity_id=identity.id)
        ]
        audit(request, released, "Released from hold")
        self.message_user(request, f"Released {len(released)} orphan(s).")

    def get_urls(self):
        extra = [
            path(
                "sweep/",
                self.admin_site.admin_view(self.sweep_view),
                name="orphans_sweep",
            ),
            path(
                "dashboard/",
                self.admin_site.admin_view(self.dashboard_view),
                name="orphans_dashboard",
            ),
        ]
        return extra + super().get_urls()

    def sweep_view(self, request):
        if not request.user.has_perm("orphans.run_sweep"):
            raise PermissionDenied
        if request.method == "POST":
            from orphans.tasks import orphans_sweep_task

            try:
                publish(
                    orphans_sweep_task,
                    kwargs={"trigger": Trigger.ADMIN, "staff_user_id": request.user.pk},
                )
            except BrokerUnavailable:
                self.message_user(
                    request, "The task queue is unavailable; try again.", messages.ERROR
                )
            else:
                self.message_user(
                    request, "Sweep queued; its run appears in the history."
                )
            return redirect(reverse("admin:orphans_sweep"))
        preview = services.orphans_sweep_preview(
            older_than=selectors.orphan_max_age(), now=timezone.now()
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Run the orphan sweep",
            "preview": preview,
            "max_age": selectors.orphan_max_age(),
            "runs": SweepRun.objects.select_related("staff_user")[:10],
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/orphans/sweep.html", context)

    def dashboard_view(self, request):
        if not request.user.has_perm("orphans.view_orphan_dashboard"):
            raise PermissionDenied
        stats = selectors.orphan_stats(now=timezone.now())
        peak = max([1] + [max(d["created"], d["cleaned"]) for d in stats["days"]])
        bars = []
        for i, day in enumerate(stats["days"]):
            created = round(160 * day["created"] / peak)
            cleaned = round(160 * day["cleaned"] / peak)
            bars.append(
                {
                    **day,
                    "x": 40 + i * 80,
                    "created_height": created,
                    "created_y": 180 - created,
                    "cleaned_height": cleaned,
                    "cleaned_y": 180 - cleaned,
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Orphans dashboard",
            "stats": stats,
            "bars": bars,
            "peak": peak,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/orphans/dashboard.html", context)
