"""The outbox in admin: what waits, what Medusa refused and why, and a
retry for parked changes (audited in Django's admin log)."""

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html

from replica.models import Change
from replica.services.kick import drain_kick


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("pending", "pending"), ("parked", "parked")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(parked_at__isnull=True)
        if self.value() == "parked":
            return queryset.filter(parked_at__isnull=False)
        return queryset


@admin.register(Change)
class ChangeAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "customer",
        "created_at",
        "attempts",
        "last_error",
        "next_attempt_at",
        "parked_at",
    )
    list_filter = (StateFilter,)
    search_fields = ("=customer_id",)
    ordering = ("id",)
    actions = ("retry",)

    @admin.display(description="customer")
    def customer(self, change: Change):
        url = reverse("admin:accounts_customer_change", args=[change.customer_id])
        return format_html('<a href="{}">{}</a>', url, change.customer_id)

    # The outbox is written by the database's triggers and emptied by the
    # drain: staff read it and retry, never edit or delete a change (that
    # would lose it).
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("replica.retry_change")

    @admin.action(description="Retry now", permissions=["retry"])
    def retry(self, request, queryset):
        with transaction.atomic():
            changes = list(queryset.select_for_update())
            Change.objects.filter(id__in=[c.id for c in changes]).update(
                attempts=0, next_attempt_at=None, parked_at=None, last_error=""
            )
            LogEntry.objects.log_actions(
                user_id=request.user.pk,
                queryset=changes,
                action_flag=CHANGE,
                change_message="Retried replication",
            )
        transaction.on_commit(drain_kick)
        self.message_user(
            request, f"{len(changes)} change(s) queued for Medusa.", messages.SUCCESS
        )
