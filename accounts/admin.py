from django.contrib import admin
from django.db.models import Q

from accounts.models import AuthIdentity, Customer, ProviderIdentity, PublishableApiKey
from accounts.selectors import auth_identity_ids_matching, customers_by_email
from core.admin import LargeTableAdmin, ReadOnlyAdmin
from core.emails import email_normalize

# Lists show the newest first by id: ids are ULIDs, sortable by creation, so
# the primary key's index serves the order (sorting a million rows by
# created_at took 0.1 to 1.5 s a page).
NEWEST_FIRST = ("-id",)


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
class CustomerAdmin(LargeTableAdmin, ReadOnlyAdmin):
    list_display = (
        "id",
        "email",
        "first_name",
        "last_name",
        "has_account",
        "created_at",
    )
    list_filter = ("has_account",)
    search_fields = ("id", "email")
    ordering = NEWEST_FIRST
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

    def search_q(self, term: str) -> Q:
        by_email = customers_by_email(email=term).values_list("pk", flat=True)
        return Q(pk__in=[term, *by_email])


class AuthIdentitySearch(LargeTableAdmin):
    """Lists of auth identities (all of them, or the orphans): a term is an
    identity id, or the email of its provider identity or customer."""

    def search_q(self, term: str) -> Q:
        return Q(pk__in=auth_identity_ids_matching(term=term))


@admin.register(AuthIdentity)
class AuthIdentityAdmin(AuthIdentitySearch, ReadOnlyAdmin):
    list_display = ("id", "customer", "created_at")
    search_fields = ("id", "provider_identities__entity_id", "customer__email")
    ordering = NEWEST_FIRST
    fields = (
        "id",
        "customer",
        "app_metadata",
        "email_verified_at",
        "token_generation",
        "tokens_valid_after",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = [ProviderIdentityInline]
    list_select_related = ("customer",)


@admin.register(ProviderIdentity)
class ProviderIdentityAdmin(LargeTableAdmin, ReadOnlyAdmin):
    list_display = ("id", "provider", "entity_id", "auth_identity", "created_at")
    list_filter = ("provider",)
    search_fields = ("id", "entity_id", "auth_identity__id")
    ordering = NEWEST_FIRST
    fields = (
        "id",
        "provider",
        "entity_id",
        "auth_identity",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    def search_q(self, term: str) -> Q:
        return (
            Q(pk=term) | Q(entity_id=email_normalize(term)) | Q(auth_identity_id=term)
        )


@admin.register(PublishableApiKey)
class PublishableApiKeyAdmin(admin.ModelAdmin):
    list_display = ("title", "token", "created_at", "revoked_at")
    fields = ("title", "token", "revoked_at")
    search_fields = ("title",)
