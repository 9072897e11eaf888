"""Social login (issue 18; docs/social-login.md): Medusa's
`/auth/customer/{provider}` start and callback for OpenID Connect
providers and GitHub. The provider half (state, PKCE, nonce, the ID token
or GitHub's API) is social's; the linking rules are accounts'
(accounts/services/social.py); this flow joins them, issues the token and
counts every outcome by provider (core.metrics.social_logins).

A token with `actor_id: ""` (outcome `new`, or a returning login that
never finished its profile) is Medusa's documented next step:
`POST /store/customers` with the token's `user_metadata.email`, then
`POST /auth/token/refresh`. Neither the provider's tokens nor the user's
email reach a log line: the log names the identity and the outcome."""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, transaction

from accounts import services as accounts
from accounts.models import AuthIdentity
from core.client_info import ClientInfo
from core.emails import email_parse
from core.errors import ApiError, InvalidData, Unauthorized
from core.metrics import input_rejected, social_logins
from orphans.services import signups_open_check
from social import services as social
from social.providers import IdTokenClaims, provider_names

logger = logging.getLogger("social")

NO_EMAIL = "The provider did not share a valid email address"
LINK_NOT_YOURS = "Log in to the account that started the link"


@dataclass(frozen=True)
class SocialLoginResult:
    token: str
    login: accounts.SocialLogin


def social_login_start(*, provider: str, callback_url: str | None) -> str:
    """The provider's authorization URL (Medusa's `{location}`)."""
    try:
        return social.login_start(provider=provider, callback_url=callback_url)
    except ApiError as error:
        _count(provider, error)
        raise


def social_link_start(
    *, identity: AuthIdentity, provider: str, callback_url: str | None
) -> str:
    """A logged-in customer links a provider account: the same
    authorization URL, its state remembering the identity (and its
    revocation generation); the callback then adds the login to it."""
    return social.login_start(
        provider=provider,
        callback_url=callback_url,
        link=social.LinkRequest(
            identity_id=identity.id, generation=identity.token_generation
        ),
    )


def social_unlink(*, identity: AuthIdentity, provider: str) -> None:
    """Remove a provider login, never the last way to sign in."""
    accounts.social_login_unlink(identity_id=identity.id, provider=provider)
    logger.info(
        "Social login unlinked",
        extra={"provider": provider, "authIdentityId": identity.id},
    )


def _account(
    provider: str, claims: IdTokenClaims, posted: dict[str, str]
) -> accounts.ProviderAccount:
    if claims.email is None:
        raise Unauthorized(NO_EMAIL)
    try:
        email = email_parse(claims.email)
    except InvalidData:
        raise Unauthorized(NO_EMAIL) from None
    return accounts.ProviderAccount(
        provider=provider,
        subject=claims.subject,
        email=email,
        email_verified=claims.email_verified,
        # The ID token's profile claims win over the posted name (Apple's
        # ID token has none; its name comes posted, on the first login).
        profile={**posted, **claims.profile},
        private_email=claims.private_email,
    )


def social_login_finish(
    *,
    provider: str,
    code: str | None,
    state: str | None,
    issuer: str | None,
    client: ClientInfo,
    now: datetime,
    caller_identity_id: str | None = None,
    user: str | None = None,
) -> SocialLoginResult:
    """The provider's callback: verified claims, the identity they log in
    as, and its token, committed together.

    A link's callback must come with a credential of the account that
    started it (`caller_identity_id`; the SDK sends its stored token):
    otherwise an attacker could start a link on their own account and have
    a victim's browser finish it, and the victim's provider account would
    sign in to the attacker's account (login CSRF).

    `user` is what Apple posts beside the code on a first authorization:
    its name is kept in the new login's `user_metadata` (set at the first
    login only, as every profile is), for the storefront's profile step."""
    try:
        finished = social.login_finish(
            provider=provider, code=code, state=state, issuer=issuer
        )
        if finished.link is not None and (
            finished.link.identity_id != caller_identity_id
        ):
            raise Unauthorized(LINK_NOT_YOURS)
        account = _account(
            provider,
            finished.claims,
            social.posted_profile(provider=provider, user=user),
        )
        with transaction.atomic():
            if finished.link is None:
                login = accounts.identity_for_social_login(account=account, now=now)
                if login.outcome == "new":
                    # A new identity is a sign-up: paused with the others
                    # (orphans' circuit breaker); logins go on.
                    signups_open_check()
            else:
                login = accounts.SocialLogin(
                    identity=accounts.social_login_link(
                        identity_id=finished.link.identity_id,
                        generation=finished.link.generation,
                        account=account,
                        now=now,
                    ),
                    outcome="linked",
                )
            # A session of its own (accounts.services.login_sessions); a
            # login of an existing account (not a sign-up, not a link made
            # from the account itself) may mail the new device notice.
            token = accounts.access_token_for_login(
                identity=login.identity,
                provider=provider,
                client=client,
                now=now,
                announce=finished.link is None and login.outcome != "new",
            )
    except (ApiError, DatabaseError) as error:
        _count(provider, error)
        raise
    social_logins.labels(provider=provider, outcome=login.outcome).inc()
    logger.info(
        "Social login",
        extra={
            "provider": provider,
            "outcome": login.outcome,
            "authIdentityId": login.identity.id,
        },
    )
    accounts.customer_locale_remember(customer_id=login.identity.customer_id)
    return SocialLoginResult(token=token, login=login)


def _count(provider: str, error: Exception) -> None:
    outcome = "refused" if input_rejected(error) else "error"
    social_logins.labels(provider=provider, outcome=outcome).inc()


# Every provider's outcomes exist from the start at 0, so increase() sees
# the first event of each (deploy/prometheus/alerts.yml, SocialLoginErrors).
for _provider in provider_names():
    for _outcome in ("returning", "linked", "new", "refused", "error"):
        social_logins.labels(provider=_provider, outcome=_outcome)
