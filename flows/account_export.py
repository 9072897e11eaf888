"""The export of everything held about a customer (GDPR art. 20), read
across the apps that hold it: accounts (profile, addresses, logins, reset
requests), otp (codes and the failure count of the address), orphans (a
failed profile step, a hold), privacy (erased earlier accounts of the
address) and Django's admin log (what staff did to the account).

No secret leaves: no password hash, no hash of a reset token or a code,
no token. Sessions are not listed: a cookie session is a row of Django's
session store that names the identity only inside its signed blob
(docs/account.md, "Export")."""

from datetime import datetime
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType

from accounts import selectors
from accounts.models import (
    AuthIdentity,
    Customer,
    CustomerAddress,
    LoginSession,
    PasswordResetToken,
    ProviderIdentity,
)
from accounts.services.addresses import ADDRESS_FIELDS, DEFAULT_FLAGS
from accounts.services.customers import PROFILE_FIELDS
from orphans.models import OrphanEvent, OrphanHold
from otp.models import OtpChallenge, OtpFailureBudget
from privacy.selectors import erasures_of_address

FORMAT = "storefront-auth/account-export/1"
_SECRET_WORDS = ("password", "hash", "token", "secret")
_ACTIONS = {ADDITION: "added", CHANGE: "changed", DELETION: "deleted"}

CUSTOMER_FIELDS = (
    "id",
    "email",
    *PROFILE_FIELDS,
    "has_account",
    "metadata",
    "created_at",
    "updated_at",
)
ADDRESS_EXPORT_FIELDS = (
    "id",
    *ADDRESS_FIELDS,
    *DEFAULT_FLAGS,
    "metadata",
    "created_at",
    "updated_at",
)
SESSION_EXPORT_FIELDS = (
    "id",
    "auth_provider",
    "user_agent",
    "ip_prefix",
    "created_at",
    "last_used_at",
)


def _without_secrets(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    """A provider's metadata, keys that could hold a credential dropped (an
    import keeps none, this is the belt to that brace)."""
    if metadata is None:
        return None
    return {
        key: value
        for key, value in metadata.items()
        if not any(word in key.lower() for word in _SECRET_WORDS)
    }


def _usable(password_hash: str | None) -> bool:
    return bool(password_hash) and not (password_hash or "").startswith("!")


def _row(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in fields}


def account_export(
    *, customer: Customer, identity: AuthIdentity, now: datetime
) -> dict[str, Any]:
    email = customer.email or ""
    logins = list(
        ProviderIdentity.objects.filter(auth_identity_id=identity.id).order_by("id")
    )
    resets = PasswordResetToken.objects.filter(
        provider_identity__auth_identity_id=identity.id
    ).order_by("created_at")
    codes = OtpChallenge.objects.filter(email=email).order_by("created_at")
    budget = OtpFailureBudget.objects.filter(email=email).first()
    hold = OrphanHold.objects.filter(auth_identity_id=identity.id).first()
    return {
        "format": FORMAT,
        "exported_at": now,
        "customer": _row(customer, CUSTOMER_FIELDS),
        "addresses": [
            _row(address, ADDRESS_EXPORT_FIELDS)
            for address in selectors.addresses_of(customer_id=customer.id)
        ],
        "auth_identity": {
            "id": identity.id,
            "email_verified_at": identity.email_verified_at,
            "tokens_revoked_at": identity.tokens_valid_after,
            "app_metadata": identity.app_metadata,
            "created_at": identity.created_at,
            "updated_at": identity.updated_at,
        },
        "logins": [
            {
                "id": login.id,
                "provider": login.provider,
                "entity_id": login.entity_id,
                # A usable hash, never the hash: Django marks a disabled
                # one with a leading "!".
                "has_password": _usable(login.password_hash),
                "user_metadata": login.user_metadata,
                "provider_metadata": _without_secrets(login.provider_metadata),
                "created_at": login.created_at,
                "updated_at": login.updated_at,
            }
            for login in logins
        ],
        # Every session still stored, the ones no token can use any more
        # included (kept a while, accounts.services.login_sessions).
        "sessions": [
            _row(session, SESSION_EXPORT_FIELDS)
            for session in LoginSession.objects.filter(
                auth_identity_id=identity.id
            ).order_by("-last_used_at", "-id")
        ],
        "password_reset_requests": [
            {"created_at": reset.created_at, "expires_at": reset.expires_at}
            for reset in resets
        ],
        "one_time_codes": [
            {
                "id": challenge.id,
                "purpose": challenge.purpose,
                "state": challenge.state,
                "attempts": challenge.attempts,
                "created_at": challenge.created_at,
                "expires_at": challenge.expires_at,
                "consumed_at": challenge.consumed_at,
            }
            for challenge in codes
        ],
        "one_time_code_failures": None
        if budget is None
        else {
            "consecutive_failures": budget.consecutive_failures,
            "cleared_at": budget.cleared_at,
            "updated_at": budget.updated_at,
        },
        "signup": {
            "profile_step_failures": [
                {"error": event.error, "created_at": event.created_at}
                for event in OrphanEvent.objects.filter(auth_identity_id=identity.id)
            ],
            "hold": None
            if hold is None
            else {"held_at": hold.held_at, "reason": hold.reason},
        },
        "staff_actions": _staff_actions(customer=customer, identity=identity),
        "earlier_accounts_erased": [
            {"customer_id": erasure.customer_id, "erased_at": erasure.erased_at}
            for erasure in (erasures_of_address(email=email) if email else [])
        ],
    }


def _staff_actions(
    *, customer: Customer, identity: AuthIdentity
) -> list[dict[str, Any]]:
    """Django's admin log about the account (the customer, its identity, its
    addresses, a cleared OTP lockout of its address): when, what, and
    Django's message; not which staff member."""
    types = ContentType.objects.get_for_models(
        Customer, AuthIdentity, CustomerAddress, OtpFailureBudget
    )
    address_ids = list(
        CustomerAddress.objects.filter(customer_id=customer.id).values_list(
            "id", flat=True
        )
    )
    entries = LogEntry.objects.filter(
        content_type__in=[types[Customer]], object_id=customer.id
    ).union(
        LogEntry.objects.filter(
            content_type__in=[types[AuthIdentity]], object_id=identity.id
        ),
        LogEntry.objects.filter(
            content_type__in=[types[CustomerAddress]], object_id__in=address_ids
        ),
        # An OTP lockout of the address that staff cleared.
        LogEntry.objects.filter(
            content_type__in=[types[OtpFailureBudget]], object_id=customer.email or ""
        ),
    )
    return [
        {
            "at": entry.action_time,
            "action": _ACTIONS.get(entry.action_flag, str(entry.action_flag)),
            "object": entry.object_repr,
            "message": entry.get_change_message(),
        }
        for entry in sorted(entries, key=lambda entry: entry.action_time)
    ]
