"""Changing the address of a logged-in identity (docs/account.md, "Changing
the email"): its logins (emailpass and email-otp entity ids), its
customer's email and its proof of the mailbox move together, in one
transaction; every token issued before is refused. The old address gets a
signed undo token, valid EMAIL_CHANGE_UNDO_TTL.

One account per address holds through the unique constraints
(provid_provider_entity_uniq, the registered customers' lower(email)
index): a race lost to another sign-up of the new address is a
`duplicate_error` and rolls everything back."""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery import Task
from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.views.decorators.debug import sensitive_variables

from accounts import selectors
from accounts.models import AuthIdentity, Customer, Provider, ProviderIdentity
from accounts.services.identities import (
    IDENTITY_EXISTS,
    email_identity_lock,
)
from accounts.services.login_sessions import identity_tokens_revoke
from core.emails import email_hash
from core.errors import DuplicateError, InvalidData
from core.locale import request_language
from core.tasks import notice_publish

logger = logging.getLogger("accounts")

SAME_ADDRESS = "The new email address is the account's address already"
UNDO_SALT = "accounts.email_change.undo"
UNDO_INVALID = "This link is invalid or has expired"
MOVED_PROVIDERS = (Provider.EMAILPASS, Provider.EMAIL_OTP)


def email_taken(*, email: str, identity_id: str) -> bool:
    """Whether another account has the address: a login of another identity
    (either provider), or a registered customer not this identity's."""
    if (
        ProviderIdentity.objects.filter(entity_id=email, provider__in=Provider.values)
        .exclude(auth_identity_id=identity_id)
        .exists()
    ):
        return True
    customer = selectors.registered_customer_for_email(email=email)
    return (
        customer is not None
        and not AuthIdentity.objects.filter(pk=identity_id, customer=customer).exists()
    )


def email_change_allowed_check(*, identity_id: str, current: str, new: str) -> None:
    """400 for the account's own address, 422 `duplicate_error` with
    register's wording for a taken one (no more than register tells)."""
    if new == current:
        raise InvalidData(SAME_ADDRESS)
    if email_taken(email=new, identity_id=identity_id):
        raise DuplicateError(IDENTITY_EXISTS)


def _email_move(
    *, identity_id: str, new: str, now: datetime, keep_session_id: str | None = None
) -> AuthIdentity:
    """Inside a transaction: lock the new address and the identity, move its
    logins and customer to `new`, mark the mailbox proven, revoke tokens and
    end the sessions but `keep_session_id`."""
    email_identity_lock(email=new)
    identity = AuthIdentity.objects.select_for_update().get(pk=identity_id)
    if email_taken(email=new, identity_id=identity_id):
        raise DuplicateError(IDENTITY_EXISTS)
    try:
        with transaction.atomic():
            ProviderIdentity.objects.filter(
                auth_identity_id=identity_id, provider__in=MOVED_PROVIDERS
            ).update(entity_id=new, updated_at=now)
            if identity.customer_id is not None:
                customer = Customer.objects.select_for_update().get(
                    pk=identity.customer_id
                )
                customer.email = new
                customer.updated_at = now
                customer.save(update_fields=["email", "updated_at"])
    except IntegrityError as exc:
        raise DuplicateError(IDENTITY_EXISTS) from exc
    identity_tokens_revoke(
        identity_id=identity_id,
        now=now,
        keep_session_id=keep_session_id,
        email_verified_at=now,
        updated_at=now,
    )
    identity.refresh_from_db()
    return identity


def email_change(
    *, identity_id: str, new: str, now: datetime, keep_session_id: str | None
) -> AuthIdentity:
    """Move the identity to `new` (proven by the caller's code); return it
    with its new token generation. Every session but the caller's ends."""
    with transaction.atomic():
        return _email_move(
            identity_id=identity_id, new=new, now=now, keep_session_id=keep_session_id
        )


@dataclass(frozen=True)
class EmailChangeUndone:
    identity: AuthIdentity
    restored: str


def email_change_undo_token(*, identity_id: str, old: str) -> str:
    """The old address's way back: signed (SECRET_KEY, its own salt) and
    timestamped; `email_change_undo` refuses it after EMAIL_CHANGE_UNDO_TTL.
    Signed, not encrypted: it holds the old address (the mail's own) and
    never the new one."""
    return signing.dumps({"i": identity_id, "o": old}, salt=UNDO_SALT)


@sensitive_variables("token")
def email_change_undo(*, token: str, now: datetime) -> EmailChangeUndone:
    """Restore the old address if it is still free, whatever address the
    account has moved to since (a thief's second change must not void the
    owner's way back); every token is refused (the customer is told to
    reset the password). A forged or expired token, or one whose account
    has the old address again (spent) or is gone, is 400."""
    try:
        data = signing.loads(
            token,
            salt=UNDO_SALT,
            max_age=settings.EMAIL_CHANGE_UNDO_TTL,
        )
        identity_id, old = str(data["i"]), str(data["o"])
    except (signing.BadSignature, KeyError, TypeError):
        raise InvalidData(UNDO_INVALID, code="undo_invalid") from None
    with transaction.atomic():
        current = selectors.auth_identity_email(auth_identity_id=identity_id)
        if current is None or current == old:  # gone, or restored already
            raise InvalidData(UNDO_INVALID, code="undo_invalid")
        try:
            identity = _email_move(identity_id=identity_id, new=old, now=now)
        except DuplicateError:
            raise DuplicateError(
                "The previous address belongs to another account now"
            ) from None
    return EmailChangeUndone(identity=identity, restored=old)


def email_changed_notice_queue(
    *, identity_id: str, old: str, changed_at: datetime, language: str | None = None
) -> None:
    """After the commit: the notice with the undo link to the old address.
    A broker outage is logged, never raised (the change has committed)."""
    from accounts.tasks import email_changed_email_send_task

    _notice_queue(
        email_changed_email_send_task,
        kwargs={
            "email": old,
            "changed_at": changed_at.isoformat(),
            "token": email_change_undo_token(identity_id=identity_id, old=old),
            "language": language,
        },
        kwargsrepr={"email": email_hash(old), "changed_at": "*", "token": "******"},
    )


def email_change_confirmed_notice_queue(
    *, new: str, changed_at: datetime, language: str | None = None
) -> None:
    """After the commit: the new address is told it is the account's sign-in
    address now, and that the old one may undo the change."""
    from accounts.tasks import email_change_confirmed_email_send_task

    _notice_queue(
        email_change_confirmed_email_send_task,
        kwargs={
            "email": new,
            "changed_at": changed_at.isoformat(),
            "language": language,
        },
        kwargsrepr={"email": email_hash(new), "changed_at": "*"},
    )


def email_change_undone_notice_queue(*, email: str) -> None:
    """After an undo: tell the restored address to reset the password."""
    from accounts.tasks import email_change_undone_email_send_task

    _notice_queue(
        email_change_undone_email_send_task,
        # The request's language, else (None) the worker reads the customer's.
        kwargs={"email": email, "language": request_language()},
        kwargsrepr={"email": email_hash(email)},
    )


def _notice_queue(
    task: "Task[..., Any]",
    *,
    kwargs: dict[str, str | None],
    kwargsrepr: dict[str, str],
) -> None:
    notice_publish(task, kwargs=kwargs, kwargsrepr=kwargsrepr, what="Email change")
