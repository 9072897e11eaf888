"""OTP login: a right code (otp) logs into the address's one identity,
found or created race-safely (accounts), in the transaction that consumes
the code: a failure while logging in leaves the code usable."""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.views.decorators.debug import sensitive_variables

from accounts import selectors
from accounts import services as accounts
from accounts.models import Customer, CustomerAddress, Provider
from core.client_info import ClientInfo
from core.emails import email_hash
from core.errors import ApiError
from core.metrics import otp_verifications
from otp.services import otp_verify

logger = logging.getLogger("otp")


@dataclass(frozen=True)
class OtpLogin:
    token: str
    customer: Customer | None
    # The customer's addresses, read in the login's transaction, so the
    # answer needs no read after the code is consumed.
    addresses: tuple[CustomerAddress, ...] = ()

    @property
    def is_new_user(self) -> bool:
        return self.customer is None


@sensitive_variables("code")
def otp_login(
    *, email: str, code: str, ip: str, client: ClientInfo, now: datetime
) -> OtpLogin:
    """Log in with a code; every outcome is counted (core.metrics)."""
    try:
        login = otp_verify(
            email=email,
            code=code,
            ip=ip,
            now=now,
            login=lambda proven: _login(email=proven, client=client, now=now),
        )
    except ApiError as error:
        otp_verifications.labels(outcome=error.code or error.type).inc()
        raise
    outcome = "success_new" if login.is_new_user else "success"
    otp_verifications.labels(outcome=outcome).inc()
    return login


def _login(*, email: str, client: ClientInfo, now: datetime) -> OtpLogin:
    """The code proved `email`: its identity (or a new one), linked to the
    login-less registered customer of the address if there is one, with an
    email-otp login, the mailbox marked proven (a password nobody had proven
    switched off, and its owner told by mail), and a token."""
    # A returning code user's login brings its identity, customer and the
    # customer's addresses along, in one statement.
    found = selectors.provider_identity_with_addresses_get(
        provider=Provider.EMAIL_OTP, entity_id=email
    )
    otp_identity, addresses = found if found is not None else (None, [])
    addresses_for = otp_identity.auth_identity.customer_id if otp_identity else None
    identity = (
        otp_identity.auth_identity
        if otp_identity is not None
        else accounts.identity_for_email_get_or_create(email=email, now=now)
    )
    if identity.customer_id is None:
        accounts.registered_customer_claim(identity=identity, email=email, now=now)
    if otp_identity is None:
        otp_identity = accounts.provider_identity_get_or_create(
            auth_identity=identity,
            provider=Provider.EMAIL_OTP,
            entity_id=email,
            now=now,
        )
    proof = accounts.identity_email_proven(identity=identity, now=now)
    if proof.password_disabled:
        accounts.password_disabled_notice_after_commit(email=email, disabled_at=now)
    token = accounts.access_token_for_login(
        identity=identity,
        provider=Provider.EMAIL_OTP,
        client=client,
        now=now,
        announce=True,  # only an existing customer's login is announced
        provider_identity=otp_identity,
    )
    if identity.customer_id is None:
        return OtpLogin(token=token, customer=None)
    logger.info("Existing user logged in via OTP", extra={"userId": email_hash(email)})
    accounts.customer_locale_remember(customer_id=identity.customer_id)
    if identity.customer_id != addresses_for:  # a customer claimed just now
        addresses = selectors.addresses_of(customer_id=identity.customer_id)
    return OtpLogin(token=token, customer=identity.customer, addresses=tuple(addresses))
