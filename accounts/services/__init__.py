"""Writes for customer accounts, one module per concern; the names below are
what views, tasks, commands and other apps call."""

from accounts.services.addresses import (
    address_create,
    address_delete,
    address_update,
)
from accounts.services.customers import (
    CUSTOMER_EXISTS,
    Profile,
    customer_create_for_identity,
    customer_signup,
    customer_update,
    identity_link,
    metadata_merge,
    registered_customer_claim,
)
from accounts.services.identities import (
    IDENTITY_EXISTS,
    INVALID_CREDENTIALS,
    access_token_for_identity,
    email_identity_lock,
    identity_authenticate_emailpass,
    identity_email_proven,
    identity_for_email_get_or_create,
    identity_register_emailpass,
    password_policy_check,
    provider_identity_get_or_create,
)
from accounts.services.passwords import (
    INVALID_TOKEN,
    expired_credentials_purge,
    password_reset_request,
    password_reset_token_issue,
    password_update_with_reset_token,
)

__all__ = [
    "CUSTOMER_EXISTS",
    "IDENTITY_EXISTS",
    "INVALID_CREDENTIALS",
    "INVALID_TOKEN",
    "Profile",
    "access_token_for_identity",
    "address_create",
    "address_delete",
    "address_update",
    "customer_create_for_identity",
    "customer_signup",
    "customer_update",
    "email_identity_lock",
    "expired_credentials_purge",
    "identity_authenticate_emailpass",
    "identity_email_proven",
    "identity_for_email_get_or_create",
    "identity_link",
    "identity_register_emailpass",
    "metadata_merge",
    "password_policy_check",
    "password_reset_request",
    "password_reset_token_issue",
    "password_update_with_reset_token",
    "provider_identity_get_or_create",
    "registered_customer_claim",
]
