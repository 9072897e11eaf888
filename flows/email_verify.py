"""Verifying the address of an account (docs/account.md): a code and a link
in one mail (otp's challenges, purpose `verify`: HMAC-stored code, counted
attempts, lockout, expiry, the OTP send limits), and the proof marks the
identity's mailbox proven through accounts' one code path
(`identity_email_proven`), keeping the password the customer signed up
with and every session they hold.

Sign-up sends the mail by itself (the profile step and the one-step
sign-up), after its commit and without failing: the account works before
it is confirmed."""

import logging
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts import selectors
from accounts import services as accounts
from accounts.models import AuthIdentity, Customer
from core.errors import InvalidData, NotAllowed
from core.locale import mail_language, request_language
from otp import codes
from otp.mail import CodeMail, code_mail
from otp.models import Purpose
from otp.services import (
    otp_challenge_open,
    otp_verify,
    otp_verify_link,
)

logger = logging.getLogger("accounts")


@dataclass(frozen=True)
class Verified:
    identity: AuthIdentity
    customer: Customer | None


def _address_of(identity: AuthIdentity) -> str:
    email = selectors.auth_identity_email(auth_identity_id=identity.id)
    if email is None:
        raise NotAllowed("This account has no e-mail address to verify")
    return email


def verification_send(*, identity: AuthIdentity, ip: str, now: datetime) -> int:
    """Mail a code and a link for the identity's address; return their
    lifetime in seconds, or 0 when the address is proven already (nothing
    is sent). Limits as an OTP send (429); the mail goes with the
    challenge (otp/mail.py)."""
    if identity.email_verified_at is not None:
        return 0
    email = _address_of(identity)
    language = mail_language(
        request_language(), selectors.customer_locale_loaded(identity)
    )
    otp_challenge_open(
        email=email,
        purpose=Purpose.VERIFY,
        ip=ip,
        now=now,
        mail=lambda challenge, code: _mail(
            email=email, code=code, challenge_id=challenge.id, language=language
        ),
    )
    return int(settings.OTP_TTL_SECONDS)


@sensitive_variables("code", "token")
def _mail(*, email: str, code: str, challenge_id: str, language: str) -> CodeMail:
    query = urlencode({"token": codes.link_token_issue(challenge_id=challenge_id)})
    return code_mail(
        to=email,
        templates="accounts/email/verify_email/",
        code=code,
        language=language,
        verify_url=f"{settings.EMAIL_VERIFY_URL}?{query}",
    )


def verification_send_after_signup(*, identity_id: str, ip: str) -> None:
    """Once the sign-up's transaction commits: the verification mail, if
    the address is not proven yet. The request opens the challenge and
    its mail (about five queries); a drain sends it. Never fails
    the sign-up: a limit, the broker or the database down is logged, and
    the customer can ask again (`POST /store/auth/email/verify/send`)."""

    def send() -> None:
        try:
            identity = (
                AuthIdentity.objects.select_related("customer")
                .filter(pk=identity_id)
                .first()
            )
            if identity is None:
                return
            verification_send(identity=identity, ip=ip, now=timezone.now())
        except Exception as error:  # noqa: BLE001  (never fail the sign-up)
            logger.warning(
                "Verification mail not sent at sign-up",
                extra={"authIdentityId": identity_id, "error": type(error).__name__},
            )

    transaction.on_commit(send)


def _proven(identity_id: str, now: datetime) -> Verified:
    """In the challenge's transaction: the identity's mailbox is proven,
    its password and sessions kept."""
    identity = (
        AuthIdentity.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=identity_id)
    )
    accounts.identity_email_proven(identity=identity, now=now, keeps_password=True)
    return Verified(identity=identity, customer=selectors.customer_of(identity))


@sensitive_variables("code")
def verify_by_code(
    *, identity: AuthIdentity, code: str, ip: str, now: datetime
) -> Verified:
    """A code typed in a session of the identity. Already proven: 200 as is
    for any well-formed code (there is nothing left to prove), 400 for a
    malformed one, as the schema states."""
    if identity.email_verified_at is not None:
        if not codes.code_is_well_formed(code):
            raise InvalidData("Invalid code", code="otp_invalid")
        return Verified(identity=identity, customer=selectors.customer_of(identity))
    return otp_verify(
        email=_address_of(identity),
        code=code,
        ip=ip,
        now=now,
        purpose=Purpose.VERIFY,
        login=lambda _email: _proven(identity.id, now),
    )


@sensitive_variables("token")
def verify_by_link(*, token: str, ip: str, now: datetime) -> Verified:
    """The mailed link, without a login: the address's identity now."""

    def proven(email: str) -> Verified:
        identity = selectors.auth_identity_for_email(email=email)
        if identity is None:
            raise NotAllowed(
                "The account of this link no longer exists", code="otp_not_found"
            )
        return _proven(identity.id, now)

    return otp_verify_link(
        token=token, purpose=Purpose.VERIFY, ip=ip, now=now, login=proven
    )
