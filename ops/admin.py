"""django-celery-beat's admin, audited."""

from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

# django-celery-beat's list actions (enable, disable, toggle, run) declare no
# permission, so Django offers them to anyone who may view the list, Support
# included, and they write no audit. Here they need the change permission
# (superusers; Support only reads the schedule), and each use is logged.
admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class AuditedPeriodicTaskAdmin(PeriodicTaskAdmin):
    def get_actions(self, request):
        if not self.has_change_permission(request):
            return {}
        # Django's delete_selected logs its deletions itself.
        return {
            name: (
                _audited(func, name) if name in self.actions else func,
                name,
                description,
            )
            for name, (func, name, description) in super().get_actions(request).items()
        }


def _audited(action, name: str):
    def audited_action(modeladmin, request, queryset):
        # The change and its log entry commit together, or neither does.
        with transaction.atomic():
            tasks = list(queryset)
            response = action(modeladmin, request, queryset)
            LogEntry.objects.log_actions(
                user_id=request.user.pk,
                queryset=tasks,
                action_flag=CHANGE,
                change_message=f"Admin action: {name}",
            )
        return response

    return audited_action
