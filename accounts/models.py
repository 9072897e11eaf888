"""Customers, auth identities and provider identities (docs/architecture.md,
"Data model"). Customers are not Django users: staff are.

Every invariant is a named PostgreSQL constraint, so a bug in Python, a
race, or a hand-written INSERT cannot break it.
"""

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower, Trim
from django.utils import timezone

from core import ids
from core.emails import PRINTABLE_ASCII

# The codes of settings.LANGUAGES, which Customer.locale may hold; a test
# keeps the two equal (a new language: both, and a migration).
MAIL_LANGUAGES = ("en", "zh-hans")


class Provider(models.TextChoices):
    """The providers whose entity_id is the normalized email. Any other
    provider is a social login (an OpenID Connect provider named in
    settings.SOCIAL_PROVIDERS) whose entity_id is the provider's subject."""

    EMAILPASS = "emailpass", "Email and password"
    EMAIL_OTP = "email-otp", "Email one-time code"


# A social provider's name (settings.SOCIAL_PROVIDERS checks the same).
SOCIAL_PROVIDER_NAME = r"^[a-z][a-z0-9-]{1,30}$"


# A customer who signed up (not a guest of an order) and is not erased: at
# most one per email (customer_registered_email_uniq). The code mails'
# lease repeats it in SQL (otp/mail.py, _LEASE_SQL).
REGISTERED = Q(has_account=True, deleted_at__isnull=True)


class CustomerQuerySet(models.QuerySet["Customer"]):
    def registered_with_email(self, email: str) -> "CustomerQuerySet":
        """The registered customer of a normalized (lower-case) email, at
        most one (customer_registered_email_uniq), through an index on
        lower(email): there is none on `email`, which would scan the table."""
        return self.alias(email_lower=Lower("email")).filter(
            REGISTERED, email_lower=email
        )


class Customer(models.Model):
    id = models.CharField(
        primary_key=True, max_length=64, default=ids.new_customer_id, editable=False
    )
    email = models.CharField(max_length=254, null=True, blank=True)  # noqa: DJ001
    company_name = models.TextField(null=True, blank=True)  # noqa: DJ001
    first_name = models.TextField(null=True, blank=True)  # noqa: DJ001
    last_name = models.TextField(null=True, blank=True)  # noqa: DJ001
    phone = models.TextField(null=True, blank=True)  # noqa: DJ001
    has_account = models.BooleanField(default=False)
    metadata = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The language of the customer's mail (settings.LANGUAGES), remembered
    # from their requests for mail the worker sends later; NULL: not known.
    locale = models.CharField(max_length=16, null=True, blank=True)  # noqa: DJ001

    objects = CustomerQuerySet.as_manager()

    class Meta:
        indexes = [
            # Support finds any customer, guests too, by email in admin.
            models.Index(Lower("email"), name="customer_email_lower_idx"),
            # The orphans dashboard counts the sign-ups of its period that
            # ended with a customer (orphans.selectors.signup_success_rate).
            models.Index(
                fields=["created_at"],
                condition=Q(has_account=True),
                name="customer_account_created_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=REGISTERED,
                name="customer_registered_email_uniq",
            ),
            # A registered customer's email is the normalized email its
            # identity proved, so OTP and password logins land on one row.
            models.CheckConstraint(
                condition=Q(has_account=False)
                | Q(email__isnull=False, email=Lower(Trim("email"))),
                name="customer_registered_email_normalized",
            ),
            # The normal form's domain is IDNA's ASCII form and local parts
            # are ASCII (core.emails): no full-width look-alike of a
            # registered address can be stored beside it.
            models.CheckConstraint(
                condition=Q(has_account=False) | Q(email__regex=PRINTABLE_ASCII),
                name="customer_registered_email_printable_ascii",
            ),
            # One of settings.LANGUAGES; adding a language adds it here.
            models.CheckConstraint(
                condition=Q(locale__isnull=True) | Q(locale__in=MAIL_LANGUAGES),
                name="customer_locale_supported",
            ),
        ]

    def __str__(self) -> str:
        return self.id


class AuthIdentity(models.Model):
    id = models.CharField(
        primary_key=True,
        max_length=64,
        default=ids.new_auth_identity_id,
        editable=False,
    )
    customer = models.OneToOneField(
        Customer,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="auth_identity",
    )
    # Extra keys carried into the token's app_metadata claim; `customer_id`
    # is derived from `customer` when a token is signed, never stored twice.
    app_metadata = models.JSONField(default=dict, blank=True)
    # Bumped by every revocation (password reset, first proof of the
    # mailbox): a token is valid only while its `gen` claim equals it.
    token_generation = models.PositiveIntegerField(default=0, db_default=0)
    # The last revocation; Medusa's tokens (no `gen`) issued up to this
    # second are refused.
    tokens_valid_after = models.DateTimeField(null=True, blank=True)
    # When the mailbox owner first proved the address (a code or a reset
    # link); until then a password on this identity may be a squatter's.
    email_verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "auth identities"
        indexes = [
            # Orphan queries cost what the orphans cost, not all identities.
            models.Index(
                fields=["created_at"],
                condition=Q(customer__isnull=True),
                name="authid_orphan_created_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(app_metadata__has_key="customer_id"),
                name="authid_customer_id_not_in_app_metadata",
            ),
        ]

    def __str__(self) -> str:
        return self.id


class ProviderIdentity(models.Model):
    id = models.CharField(
        primary_key=True,
        max_length=64,
        default=ids.new_provider_identity_id,
        editable=False,
    )
    auth_identity = models.ForeignKey(
        AuthIdentity, on_delete=models.CASCADE, related_name="provider_identities"
    )
    provider = models.CharField(max_length=32)
    # The normalized email (Provider's), or the OpenID Connect subject: at
    # most 255 ASCII characters (OpenID Connect Core 1.0, 2).
    entity_id = models.CharField(max_length=255)
    password_hash = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    provider_metadata = models.JSONField(null=True, blank=True)
    user_metadata = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "provider identities"
        indexes = [
            # Imported Medusa hashes not yet re-hashed: failed logins do
            # scrypt work while any remain (accounts.hashers.failed_login_work).
            models.Index(
                fields=["id"],
                condition=Q(password_hash__startswith="medusa_scrypt$"),  # noqa: S106
                name="provid_medusa_hash_idx",
            ),
        ]
        constraints = [
            # entity_id leads, so a lookup by email alone uses this index too.
            models.UniqueConstraint(
                fields=["entity_id", "provider"], name="provid_provider_entity_uniq"
            ),
            models.UniqueConstraint(
                fields=["auth_identity", "provider"],
                name="provid_identity_provider_uniq",
            ),
            models.CheckConstraint(
                condition=Q(provider__in=Provider.values)
                | Q(provider__regex=SOCIAL_PROVIDER_NAME),
                name="provid_provider_name",
            ),
            models.CheckConstraint(
                condition=~Q(provider__in=Provider.values)
                | (Q(entity_id=Lower(Trim("entity_id"))) & Q(entity_id__contains="@")),
                name="provid_entity_id_normalized_email",
            ),
            # A subject is never empty.
            models.CheckConstraint(
                condition=~Q(entity_id=""), name="provid_entity_id_not_empty"
            ),
            models.CheckConstraint(
                condition=Q(entity_id__regex=PRINTABLE_ASCII),
                name="provid_entity_id_printable_ascii",
            ),
            models.CheckConstraint(
                condition=(
                    Q(provider=Provider.EMAILPASS, password_hash__isnull=False)
                    & ~Q(password_hash="")
                )
                | (~Q(provider=Provider.EMAILPASS) & Q(password_hash__isnull=True)),
                name="provid_password_hash_iff_emailpass",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.id}"


class LoginSession(models.Model):
    """One login (a password, a code, a provider) and every token refreshed
    or cookie session opened from it: the `sid` claim names it, and a token
    whose session is gone is refused (accounts/selectors.py). Ending a
    session deletes its row. What is stored is coarse on purpose
    (core/client_info.py): enough for the owner to recognise a device."""

    id = models.CharField(
        primary_key=True,
        max_length=64,
        default=ids.new_login_session_id,
        editable=False,
    )
    auth_identity = models.ForeignKey(
        AuthIdentity,
        on_delete=models.CASCADE,
        related_name="login_sessions",
        db_index=False,  # loginsession_identity_used_idx leads with it
    )
    auth_provider = models.CharField(max_length=64)
    user_agent = models.CharField(max_length=200, blank=True, default="")
    ip_prefix = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Written at most once a minute per session (LAST_USED_RESOLUTION).
    last_used_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # The owner's list, newest use first; ending all but one.
            models.Index(
                fields=["auth_identity", "-last_used_at"],
                name="loginsession_identity_used_idx",
            ),
            # The purge of sessions no token can use any more.
            models.Index(fields=["last_used_at"], name="loginsession_used_idx"),
        ]
        permissions = [("end_sessions", "Can end a customer's login sessions")]
        constraints = [
            models.CheckConstraint(
                condition=Q(last_used_at__gte=F("created_at")),
                name="loginsession_used_after_created",
            ),
        ]

    def __str__(self) -> str:
        return self.id


class PasswordResetToken(models.Model):
    """A single-use reset token: only the SHA-256 of its `jti` is stored."""

    id = models.CharField(
        primary_key=True, max_length=64, default=ids.new_reset_token_id, editable=False
    )
    provider_identity = models.ForeignKey(
        ProviderIdentity, on_delete=models.CASCADE, related_name="reset_tokens"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")),
                name="authprt_expires_after_created",
            ),
        ]

    def __str__(self) -> str:
        return self.id


class PublishableApiKey(models.Model):
    """Keys a storefront sends in `x-publishable-api-key` on /store/* routes."""

    id = models.CharField(
        primary_key=True, max_length=64, default=ids.new_api_key_id, editable=False
    )
    token = models.CharField(max_length=128, unique=True)
    title = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "publishable API key"

    def __str__(self) -> str:
        return self.title


class CustomerAddress(models.Model):
    """Medusa's `customer_address` row, column for column, so replicating it
    to Medusa is a straight copy (docs/medusa-contract.md, "Medusa's
    tables"). Addresses are deleted for good, as Medusa does: `deleted_at`
    stays NULL (a CHECK), kept only so the columns match."""

    id = models.CharField(
        primary_key=True,
        max_length=64,
        default=ids.new_customer_address_id,
        editable=False,
    )
    # Indexed by cuaddr_customer_id_idx, which leads with it.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="addresses", db_index=False
    )
    address_name = models.TextField(null=True, blank=True)  # noqa: DJ001
    is_default_shipping = models.BooleanField(default=False, db_default=False)
    is_default_billing = models.BooleanField(default=False, db_default=False)
    company = models.TextField(null=True, blank=True)  # noqa: DJ001
    first_name = models.TextField(null=True, blank=True)  # noqa: DJ001
    last_name = models.TextField(null=True, blank=True)  # noqa: DJ001
    address_1 = models.TextField(null=True, blank=True)  # noqa: DJ001
    address_2 = models.TextField(null=True, blank=True)  # noqa: DJ001
    city = models.TextField(null=True, blank=True)  # noqa: DJ001
    country_code = models.TextField(null=True, blank=True)  # noqa: DJ001
    province = models.TextField(null=True, blank=True)  # noqa: DJ001
    postal_code = models.TextField(null=True, blank=True)  # noqa: DJ001
    phone = models.TextField(null=True, blank=True)  # noqa: DJ001
    metadata = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name_plural = "customer addresses"
        indexes = [
            # A customer's addresses, in id (creation) order: the list, the
            # count under the bound, the customer's `addresses`.
            models.Index(fields=["customer", "id"], name="cuaddr_customer_id_idx"),
        ]
        constraints = [
            # Medusa's own partial unique indexes: one default of each kind.
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(is_default_shipping=True),
                name="cuaddr_one_default_shipping",
            ),
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(is_default_billing=True),
                name="cuaddr_one_default_billing",
            ),
            # Medusa's regions hold lower-case ISO 3166-1 alpha-2 codes.
            models.CheckConstraint(
                condition=Q(country_code__isnull=True)
                | Q(country_code__regex=r"^[a-z]{2}$"),
                name="cuaddr_country_code_iso_lower",
            ),
            models.CheckConstraint(
                condition=Q(deleted_at__isnull=True), name="cuaddr_not_soft_deleted"
            ),
        ]

    def __str__(self) -> str:
        return self.id
