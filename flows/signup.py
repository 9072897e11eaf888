"""Sign-up: register (step 1 of two), the profile step with the seed-000
event when it fails (an orphan is born), and the one-step sign-up. Each
counts its outcome (core.metrics). Their request limits (per client, and
refused registrations per address) are the views' (api/limits.py).

The address verification mail (flows.email_verify) goes once per sign-up,
when the account exists: from the profile step (an address already proven
by a code login gets none) and from the one-step sign-up; register alone
sends nothing (docs/account.md, "Verifying the address")."""

from datetime import datetime

from django.db import DatabaseError, transaction
from django.views.decorators.debug import sensitive_variables

from accounts import services as accounts
from accounts.models import AuthIdentity, Customer, Provider
from core.client_info import ClientInfo
from core.errors import ApiError
from core.metrics import signup_outcome
from flows.email_verify import verification_send_after_signup
from orphans.services import orphan_profile_failure_record


@sensitive_variables("password")
def register(*, email: str, password: str, now: datetime) -> AuthIdentity:
    """Step 1: an emailpass identity (or the unfinished one this password
    opens), for a registration token."""
    return accounts.identity_register_emailpass(email=email, password=password, now=now)


def profile_create(
    *, auth_identity_id: str, profile: accounts.Profile, ip: str, now: datetime
) -> Customer:
    """Step 2: the customer of a registration token's identity; the
    verification mail after the commit, unless the address is proven."""
    customer = accounts.customer_create_for_identity(
        auth_identity_id=auth_identity_id, profile=profile, now=now
    )
    signup_outcome(flow="two_step")
    verification_send_after_signup(identity_id=auth_identity_id, ip=ip)
    return customer


def profile_failed(*, auth_identity_id: str, error: Exception, now: datetime) -> None:
    """Step 2 was refused or failed (its body too): the identity stays an
    orphan, for now. Counted, logged with the email as an HMAC, and, when it
    is our failure, weighed by the signup circuit breaker."""
    signup_outcome(flow="two_step", error=error)
    orphan_profile_failure_record(
        auth_identity_id=auth_identity_id, error=error, now=now
    )


@sensitive_variables("password")
def signup(
    *,
    password: str,
    profile: accounts.Profile,
    ip: str,
    client: ClientInfo,
    now: datetime,
) -> tuple[Customer, str]:
    """One step: identity, login and customer commit together, or nothing,
    with the customer token signed in the same transaction: an answer of 503
    always means nothing was written, so the client's retry is safe."""
    try:
        with transaction.atomic():
            customer, identity = accounts.customer_signup(
                password=password, profile=profile, now=now
            )
            token = accounts.access_token_for_login(
                identity=identity, provider=Provider.EMAILPASS, client=client, now=now
            )
    except (ApiError, DatabaseError) as error:
        signup_outcome(flow="one_step", error=error)
        raise
    signup_outcome(flow="one_step")
    verification_send_after_signup(identity_id=identity.id, ip=ip)
    return customer, token
