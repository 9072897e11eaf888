"""Changing the address of a logged-in account (docs/account.md, "Changing
the email"): a code to the new address (otp's challenges, purpose
`email_change`, the identity as the challenge's subject), then, on the
right code, accounts' move of the logins, the customer and the proof in
the transaction that consumes it; the notice with the undo link to the old
address after the commit. The replica follows the customer row by itself
(replica's triggers)."""

from datetime import datetime

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from accounts import selectors
from accounts import services as accounts
from accounts.models import AuthIdentity
from core.emails import email_parse
from core.errors import InvalidData, NotFound
from core.locale import mail_language, request_language
from otp import selectors as otp_selectors
from otp.mail import code_mail
from otp.models import Purpose
from otp.services import otp_challenge_open, otp_verify


def _language(identity: AuthIdentity) -> str:
    """The mails' language: the request's, else the customer's stored one
    (docs/account.md, "Mail in the customer's language")."""
    return mail_language(request_language(), selectors.customer_locale_loaded(identity))


def _address_of(identity: AuthIdentity) -> str:
    email = selectors.auth_identity_email(auth_identity_id=identity.id)
    if email is None:  # a login-less identity cannot hold a token
        raise NotFound("The account has no login address")
    return email


def email_change_request(
    *, identity: AuthIdentity, email: str, ip: str, now: datetime
) -> int:
    """Mail a code to the new address; return its lifetime in seconds. The
    address is normalized and validated as at registration (400), the
    account's own is 400, a taken one 422; the OTP send limits apply (429);
    the mail goes with the challenge (otp/mail.py)."""
    new = email_parse(email)
    accounts.email_change_allowed_check(
        identity_id=identity.id, current=_address_of(identity), new=new
    )
    language = _language(identity)
    otp_challenge_open(
        email=new,
        purpose=Purpose.EMAIL_CHANGE,
        ip=ip,
        now=now,
        subject=identity.id,
        mail=lambda challenge, code: code_mail(
            to=new,
            templates="accounts/email/email_change_code/",
            code=code,
            language=language,
        ),
    )
    return int(settings.OTP_TTL_SECONDS)


@sensitive_variables("code")
def email_change_confirm(
    *,
    identity: AuthIdentity,
    code: str,
    ip: str,
    now: datetime,
    session_id: str | None,
) -> AuthIdentity:
    """The code of the identity's newest change request: the move, in the
    transaction that consumes it (a taken address rolls both back: 422,
    the code still usable); return the identity with its new generation.
    Every login session but `session_id` (the caller's) ends."""
    challenge = otp_selectors.challenge_latest_for_subject(
        subject=identity.id, purpose=Purpose.EMAIL_CHANGE
    )
    if challenge is None:
        raise InvalidData(
            "No active code for this email; request a new one", code="otp_not_found"
        )
    old = _address_of(identity)
    changed = otp_verify(
        email=challenge.email,
        code=code,
        ip=ip,
        now=now,
        purpose=Purpose.EMAIL_CHANGE,
        subject=identity.id,
        login=lambda new: accounts.email_change(
            identity_id=identity.id, new=new, now=now, keep_session_id=session_id
        ),
    )
    language = _language(identity)
    accounts.email_changed_notice_queue(
        identity_id=identity.id, old=old, changed_at=now, language=language
    )
    accounts.email_change_confirmed_notice_queue(
        new=challenge.email, changed_at=now, language=language
    )
    return changed


@sensitive_variables("token")
def email_change_undo(*, token: str, now: datetime) -> AuthIdentity:
    """The old address's link: the account back, every token refused, and a
    mail telling the customer to choose a new password."""
    undone = accounts.email_change_undo(token=token, now=now)
    accounts.email_change_undone_notice_queue(email=undone.restored)
    return undone.identity
