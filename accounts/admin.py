from django.contrib import admin

from accounts.models import AuthIdentity, Customer, ProviderIdentity, PublishableApiKey
from config.admin import ReadOnlyAdmin


class ProviderIdentityInline(admin.TabularInline):
    model = ProviderIdentity
    # Never the password hash.
    fields = ("id", "provider", "entity_id", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "email",
        "first_name",
        "last_name",
        "has_account",
        "created_at",
    )
    list_filter = ("has_account",)
    search_fields = ("email", "id", "last_name")
    ordering = ("-created_at",)
    fields = (
        "id",
        "email",
        "first_name",
        "last_name",
        "company_name",
        "phone",
        "has_account",
        "metadata",
        "created_at",
        "updated_at",
        "deleted_at",
    )
    readonly_fields = fields


@admin.register(AuthIdentity)
class AuthIdentityAdmin(ReadOnlyAdmin):
    list_display = ("id", "customer", "created_at")
    search_fields = ("id", "provider_identities__entity_id", "customer__email")
    ordering = ("-created_at",)
    fields = (
        "id",
        "customer",
        "app_metadata",
        "tokens_valid_after",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = [ProviderIdentityInline]
    list_select_related = ("customer",)


@admin.register(ProviderIdentity)
class ProviderIdentityAdmin(ReadOnlyAdmin):
    list_display = ("id", "provider", "entity_id", "auth_identity", "created_at")
    list_filter = ("provider",)
    search_fields = ("entity_id", "id", "auth_identity__id")
    ordering = ("-created_at",)
    fields = (
        "id",
        "provider",
        "entity_id",
        "auth_identity",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields


@admin.register(PublishableApiKey)
class PublishableApiKeyAdmin(admin.ModelAdmin):
    list_display = ("title", "token", "created_at", "revoked_at")
    fields = ("title", "token", "revoked_at")
    search_fields = ("title",)
