"""Writes for customer accounts, one module per concern; the names below are
what views, tasks, commands and other apps call."""

from accounts.services.addresses import (
    address_create,
    address_delete,
    address_update,
)
from accounts.services.customers import (
    Profile,
    customer_create_for_identity,
    customer_locale_remember,
    customer_signup,
    customer_update,
    registered_customer_claim,
)
from accounts.services.email_change import (
    EmailChangeUndone,
    email_change,
    email_change_allowed_check,
    email_change_confirmed_notice_queue,
    email_change_undo,
    email_change_undone_notice_queue,
    email_changed_notice_queue,
)
from accounts.services.erasure import ErasedCustomer, customer_erase
from accounts.services.identities import (
    MailboxProof,
    identity_authenticate_emailpass,
    identity_email_proven,
    identity_for_email_get_or_create,
    identity_register_emailpass,
    password_policy_check,
    provider_identity_get_or_create,
)
from accounts.services.login_sessions import (
    access_token_for_identity,
    access_token_for_login,
    access_token_for_session,
    identity_tokens_revoke,
    login_session_end,
    login_session_touch,
    login_sessions_end_others,
)
from accounts.services.password_change import (
    code_confirmation_allowed_check,
    current_password_check,
    password_change,
    password_changed_notice_queue,
)
from accounts.services.passwords import (
    expired_credentials_purge,
    password_disabled_notice_after_commit,
    password_reset_request,
    password_reset_token_issue,
    password_update_with_reset_token,
)
from accounts.services.social import (
    ProviderAccount,
    SocialLogin,
    identity_for_social_login,
    social_login_link,
    social_login_unlink,
)

__all__ = [
    "EmailChangeUndone",
    "ErasedCustomer",
    "MailboxProof",
    "Profile",
    "ProviderAccount",
    "SocialLogin",
    "access_token_for_identity",
    "access_token_for_login",
    "access_token_for_session",
    "address_create",
    "address_delete",
    "address_update",
    "code_confirmation_allowed_check",
    "current_password_check",
    "customer_create_for_identity",
    "customer_erase",
    "customer_locale_remember",
    "customer_signup",
    "customer_update",
    "email_change",
    "email_change_allowed_check",
    "email_change_undo",
    "email_change_undone_notice_queue",
    "email_change_confirmed_notice_queue",
    "email_changed_notice_queue",
    "expired_credentials_purge",
    "identity_authenticate_emailpass",
    "identity_email_proven",
    "identity_for_email_get_or_create",
    "identity_for_social_login",
    "identity_register_emailpass",
    "identity_tokens_revoke",
    "login_session_end",
    "login_session_touch",
    "login_sessions_end_others",
    "password_change",
    "password_changed_notice_queue",
    "password_disabled_notice_after_commit",
    "password_policy_check",
    "password_reset_request",
    "password_reset_token_issue",
    "password_update_with_reset_token",
    "provider_identity_get_or_create",
    "registered_customer_claim",
    "social_login_link",
    "social_login_unlink",
]
