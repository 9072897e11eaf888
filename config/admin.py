from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows staff read but never edit by hand: changes go through services
    (and their audit), never through a raw model form."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
