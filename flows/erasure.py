"""Deleting an account (GDPR art. 17), by the customer or by staff: one
transaction removes the logins, addresses and customer row (accounts), the
address's one-time codes (otp) and writes the audit row with the email's
HMAC only (privacy); once it commits, the address gets a notice.

The customer proves it is them again, with the password or a fresh
e-mailed code: a stolen token alone must not erase an account. A wrong
password is refused like a failed login (the view counts it, api/limits.py);
a wrong code is counted by otp like any wrong code."""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from accounts import services as accounts
from accounts.models import AuthIdentity
from core.errors import Unauthorized
from otp.services import otp_address_forget, otp_failures_reset, otp_verify
from privacy.models import Erasure
from privacy.services import erasure_notice_after_commit, erasure_record

WRONG_PASSWORD = "Invalid password"  # noqa: S105  (a message)


def _erase(
    *,
    customer_id: str,
    proof: str,
    staff_user: AbstractBaseUser | None,
    now: datetime,
) -> accounts.ErasedCustomer:
    """Call inside a transaction."""
    erased = accounts.customer_erase(customer_id=customer_id)
    if erased.email:  # a guest erased by staff may have none
        otp_address_forget(email=erased.email)
    erasure_record(
        customer_id=erased.customer_id,
        email=erased.email,
        proof=proof,
        staff_user=staff_user,
        now=now,
    )
    if erased.email:
        erasure_notice_after_commit(email=erased.email, locale=erased.locale)
    return erased


@sensitive_variables("password")
def erase_with_password(
    *, identity: AuthIdentity, email: str, password: str, now: datetime
) -> accounts.ErasedCustomer:
    """`email` is the customer's (what the view counts failures by). The
    password is checked as a login checks it, with the same work for an
    account without one, before anything is locked."""
    try:
        proven = accounts.identity_authenticate_emailpass(
            email=email, password=password
        )
    except Unauthorized:
        raise Unauthorized(WRONG_PASSWORD) from None
    if proven.id != identity.id or identity.customer_id is None:
        raise Unauthorized(WRONG_PASSWORD)
    with transaction.atomic():
        if identity.email_verified_at is not None:
            # As a password login does: a proven owner's password lifts the
            # address's OTP hard stop, so the budget row can go too.
            otp_failures_reset(email=email)
        return _erase(
            customer_id=identity.customer_id,
            proof=Erasure.Proof.PASSWORD,
            staff_user=None,
            now=now,
        )


@sensitive_variables("code")
def erase_with_code(
    *, identity: AuthIdentity, email: str, code: str, ip: str, now: datetime
) -> accounts.ErasedCustomer:
    """A code sent to the customer's own address (POST /store/auth/otp/send),
    checked by otp: a right one is consumed in the erasing transaction, so
    a failure while erasing leaves it usable; a wrong one is counted."""
    customer_id = identity.customer_id
    if customer_id is None:
        raise Unauthorized("Unauthorized")
    return otp_verify(
        email=email,
        code=code,
        ip=ip,
        now=now,
        login=lambda _proven: _erase(
            customer_id=customer_id,
            proof=Erasure.Proof.CODE,
            staff_user=None,
            now=now,
        ),
    )


@transaction.atomic
def erase_by_staff(
    *, customer_id: str, staff_user: AbstractBaseUser, now: datetime
) -> accounts.ErasedCustomer:
    """A request received by other means (a letter, a support ticket),
    checked by staff; the audit names them."""
    return _erase(
        customer_id=customer_id,
        proof=Erasure.Proof.STAFF,
        staff_user=staff_user,
        now=now,
    )
