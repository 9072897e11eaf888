import re

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts import services
from accounts.models import (
    AuthIdentity,
    Customer,
    CustomerAddress,
    LoginSession,
    Provider,
    ProviderIdentity,
    PublishableApiKey,
)
from accounts.selectors import (
    auth_identity_ids_matching,
    customers_by_email,
    login_email,
    login_sessions_live,
    logins_of,
)
from accounts.services.addresses import (
    ADDRESS_FIELDS,
    DEFAULT_FLAGS,
    addresses_limit_message,
)
from core.admin import LargeTableAdmin, ReadOnlyAdmin, whole_list_refused
from core.emails import email_normalize

# Lists show the newest first by id: ids are ULIDs, sortable by creation, so
# the primary key's index serves the order (sorting a million rows by
# created_at took 0.1 to 1.5 s a page).
NEWEST_FIRST = ("-id",)


class ProviderEmailMixin:
    @admin.display(description="provider's email")
    def provider_email(self, obj: ProviderIdentity) -> str:
        """A social login's address as its provider last said, and whether
        the provider verified it (docs/social-login.md); "-" for email
        logins, whose entity id is the address."""
        if obj.provider in Provider.values:
            return "-"
        metadata = obj.provider_metadata or {}
        email = metadata.get("email")
        if not email:
            return "-"
        verified = "verified" if metadata.get("email_verified") else "not verified"
        return f"{email} ({verified} by the provider)"


class ProviderIdentityInline(ProviderEmailMixin, admin.TabularInline):
    model = ProviderIdentity
    # Never the password hash.
    fields = ("id", "provider", "entity_id", "provider_email", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class LoginSessionInline(admin.TabularInline):
    """The identity's sessions, newest use first; staff end them all with
    the customers list's action (never one by one: a customer reporting a
    stranger in their account wants every device out)."""

    model = LoginSession
    fields = (
        "id",
        "auth_provider",
        "created_at",
        "last_used_at",
        "ip_prefix",
        "user_agent",
    )
    readonly_fields = fields
    ordering = ("-last_used_at",)
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class CustomerAddressForm(forms.ModelForm):
    def clean_country_code(self) -> str | None:
        code = self.cleaned_data.get("country_code")
        if code is None:
            return None
        code = code.strip().lower()
        if not re.fullmatch("[a-z]{2}", code):
            raise forms.ValidationError("Two letters: an ISO 3166-1 alpha-2 code.")
        return code


class CustomerAddressFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        kept = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        if len(kept) > settings.ADDRESSES_PER_CUSTOMER_MAX:
            raise forms.ValidationError(addresses_limit_message())
        for flag in DEFAULT_FLAGS:
            if sum(1 for data in kept if data.get(flag)) > 1:
                label = flag.removeprefix("is_").replace("_", " ")
                raise forms.ValidationError(f"Only one address can be the {label}.")


class CustomerAddressInline(admin.StackedInline):
    """Support reads a customer's addresses; superusers edit them, through
    the same services as the API (defaults cleared on the others, the
    bound). Metadata is the storefront's: shown, not edited here."""

    model = CustomerAddress
    form = CustomerAddressForm
    formset = CustomerAddressFormSet
    fields = (
        "id",
        *ADDRESS_FIELDS,
        *DEFAULT_FLAGS,
        "metadata",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("id", "metadata", "created_at", "updated_at")
    ordering = ("id",)
    extra = 0

    def has_add_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser


@admin.register(Customer)
class CustomerAdmin(LargeTableAdmin, ReadOnlyAdmin):
    list_display = (
        "id",
        "email",
        "first_name",
        "last_name",
        "has_account",
        "email_verified",
        "created_at",
    )
    list_filter = ("has_account",)
    # The identity's proof of the mailbox comes in the list's one query.
    list_select_related = ("auth_identity",)
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
        "email_verified",
        "logins",
        "login_sessions",
        "metadata",
        "created_at",
        "updated_at",
        "deleted_at",
    )
    readonly_fields = fields
    inlines = [CustomerAddressInline]
    actions = ("end_sessions",)

    @admin.display(boolean=True, description="email verified")
    def email_verified(self, obj: Customer) -> bool:
        """The customer's identity proved the mailbox (docs/account.md)."""
        identity = getattr(obj, "auth_identity", None)
        return identity is not None and identity.email_verified_at is not None

    def search_q(self, term: str) -> Q:
        by_email = customers_by_email(email=term).values_list("pk", flat=True)
        return Q(pk__in=[term, *by_email])

    @admin.display(description="ways to sign in")
    def logins(self, obj: Customer) -> str:
        """Each login's provider, and for a social one the address its
        provider gave (docs/social-login.md)."""
        identity = getattr(obj, "auth_identity", None)
        if identity is None:
            return "–"
        return (
            ", ".join(
                login.provider
                if login.provider in Provider.values
                else f"{login.provider} ({login_email(login) or 'no email'})"
                for login in logins_of(identity_id=identity.id)
            )
            or "–"
        )

    @admin.display(description="login sessions")
    def login_sessions(self, obj: Customer) -> str:
        identity = getattr(obj, "auth_identity", None)
        if identity is None:
            return "–"
        live = login_sessions_live(auth_identity_id=identity.id, now=timezone.now())
        url = reverse("admin:accounts_authidentity_change", args=[identity.id])
        return format_html(
            '{} open: <a href="{}">see them on the auth identity</a>', live.count(), url
        )

    def has_end_sessions_permission(self, request) -> bool:
        return request.user.has_perm("accounts.end_sessions")

    @admin.action(
        description="End every session (sign out of every device)",
        permissions=["end_sessions"],
    )
    def end_sessions(self, request, queryset):
        """Every token and cookie of the selected customers is refused from
        now on, Medusa's and ours from before sessions too; logged."""
        if whole_list_refused(
            self,
            request,
            "Select the customers on this page: ending every session of a "
            "whole search's customers is not a support action.",
        ):
            return
        now = timezone.now()
        with transaction.atomic():
            customers = list(queryset.select_related("auth_identity"))
            for customer in customers:
                identity = getattr(customer, "auth_identity", None)
                if identity is not None:
                    services.identity_tokens_revoke(identity_id=identity.id, now=now)
            LogEntry.objects.log_actions(
                user_id=request.user.pk,
                queryset=customers,
                action_flag=CHANGE,
                change_message="Ended every session",
            )
        self.message_user(
            request,
            f"Every session of {len(customers)} customer(s) ended.",
            messages.SUCCESS,
        )

    def has_change_permission(self, request, obj=None) -> bool:
        # The customer's own fields stay read-only; a superuser's Save
        # button is there for the addresses.
        return obj is not None and request.user.is_superuser

    def save_model(self, request, obj, form, change) -> None:
        pass  # every field of the customer is read-only

    def save_formset(self, request, form, formset, change) -> None:
        """Through accounts.services: deletions first (they make room),
        then changes, then new addresses."""
        customer = form.instance
        now = timezone.now()
        formset.save(commit=False)
        for address in formset.deleted_objects:
            services.address_delete(customer_id=customer.id, address_id=address.id)
        for address, changed in formset.changed_objects:
            services.address_update(
                customer_id=customer.id,
                address_id=address.id,
                changes={name: getattr(address, name) for name in changed},
                now=now,
            )
        for address in formset.new_objects:
            services.address_create(
                customer_id=customer.id,
                changes={
                    name: getattr(address, name)
                    for name in (*ADDRESS_FIELDS, *DEFAULT_FLAGS)
                },
                now=now,
            )


class AuthIdentitySearch(LargeTableAdmin):
    """Lists of auth identities (all of them, or the orphans): a term is an
    identity id, or the email of its provider identity or customer."""

    def search_q(self, term: str) -> Q:
        return Q(pk__in=auth_identity_ids_matching(term=term))


@admin.register(AuthIdentity)
class AuthIdentityAdmin(AuthIdentitySearch, ReadOnlyAdmin):
    list_display = ("id", "customer", "email_verified", "created_at")
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
    inlines = [ProviderIdentityInline, LoginSessionInline]
    list_select_related = ("customer",)

    @admin.display(boolean=True, description="email verified")
    def email_verified(self, obj: AuthIdentity) -> bool:
        return obj.email_verified_at is not None


class ProviderFilter(admin.SimpleListFilter):
    """The providers a login may name, known without a query: Django's own
    filter of a field without choices lists the values of every row
    (SELECT DISTINCT over all provider identities, each time the list is
    shown)."""

    title = "provider"
    parameter_name = "provider"

    def lookups(self, request, model_admin):
        names = (*Provider.values, *settings.SOCIAL_LOGIN_PROVIDERS)
        return [(name, name) for name in names]

    def queryset(self, request, queryset):
        return queryset.filter(provider=self.value()) if self.value() else queryset


@admin.register(ProviderIdentity)
class ProviderIdentityAdmin(ProviderEmailMixin, LargeTableAdmin, ReadOnlyAdmin):
    list_display = ("id", "provider", "entity_id", "auth_identity", "created_at")
    list_filter = (ProviderFilter,)
    search_fields = ("id", "entity_id", "auth_identity__id")
    ordering = NEWEST_FIRST
    fields = (
        "id",
        "provider",
        "entity_id",
        "provider_email",
        "auth_identity",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    def search_q(self, term: str) -> Q:
        # A social login's subject is case-sensitive: as typed, too.
        return (
            Q(pk=term)
            | Q(entity_id=email_normalize(term))
            | Q(entity_id=term.strip())
            | Q(auth_identity_id=term)
        )


@admin.register(PublishableApiKey)
class PublishableApiKeyAdmin(admin.ModelAdmin):
    list_display = ("title", "token", "created_at", "revoked_at")
    fields = ("title", "token", "revoked_at")
    search_fields = ("title",)
