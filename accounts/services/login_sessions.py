"""Login sessions: every login opens one, every token refreshed or cookie
session opened from it carries its id (the `sid` claim), and ending one
deletes its row, which refuses its tokens from then on
(`selectors.auth_identity_for_claims`).

A revocation (a new password, a moved address, the first proof of the
mailbox, staff's "end every session") refuses every token by generation
and ends the sessions with it, except the one that made the change."""

import re
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Greatest

from accounts import selectors
from accounts.models import AuthIdentity, LoginSession, ProviderIdentity
from accounts.tokens import AccessClaims, access_token_issue
from core.client_info import ClientInfo
from core.emails import email_hash
from core.locale import mail_language, request_language
from core.rows import ModelRows
from core.tasks import notice_publish

# Sessions no token can use any more are kept this long, then purged.
EXPIRED_SESSION_RETENTION = timedelta(days=30)


_SESSION = ModelRows(LoginSession, "s")


def login_session_open(
    *, identity: AuthIdentity, provider: str, client: ClientInfo, now: datetime
) -> LoginSession:
    # Every login opens one: a hand-written INSERT (core/rows.py) costs a
    # fraction of the ORM's save.
    return _SESSION.insert(
        LoginSession(
            auth_identity=identity,
            auth_provider=provider,
            user_agent=client.user_agent,
            ip_prefix=client.ip_prefix,
            created_at=now,
            last_used_at=now,
        )
    )


def access_token_for_login(
    *,
    identity: AuthIdentity,
    provider: str,
    client: ClientInfo,
    now: datetime,
    announce: bool = False,
    provider_identity: ProviderIdentity | None = None,
) -> str:
    """A new session for this login, and its first token. `announce`: a
    login of an existing account (not a sign-up), which mails the new
    device notice when NEW_DEVICE_NOTICE is on and the device is new.
    `provider_identity`: the login's, when the caller has read it (else
    it is looked up for the token's user_metadata)."""
    if announce and settings.NEW_DEVICE_NOTICE and identity.customer_id is not None:
        _new_device_notice(identity=identity, provider=provider, client=client, now=now)
    session = login_session_open(
        identity=identity, provider=provider, client=client, now=now
    )
    return access_token_for_identity(
        identity=identity,
        provider=provider,
        session_id=session.id,
        now=now,
        provider_identity=provider_identity,
    )


def _new_device_notice(
    *, identity: AuthIdentity, provider: str, client: ClientInfo, now: datetime
) -> None:
    """New: the account has stored sessions (it has signed in before, as far
    as EXPIRED_SESSION_RETENTION tells) and none from this browser or app
    (`device_of`: the user agent without its version numbers, so an update
    is not a new device). One query for the most recent sessions' agents,
    one for the address when the device is new; the mail goes after the
    commit."""
    agents = list(
        LoginSession.objects.filter(auth_identity_id=identity.id)
        .order_by("-last_used_at")
        .values_list("user_agent", flat=True)[: selectors.SESSIONS_LISTED]
    )
    device = device_of(client.user_agent)
    if not agents or any(device_of(agent) == device for agent in agents):
        return
    email = selectors.auth_identity_email(auth_identity_id=identity.id)
    if email is None:
        return
    locale = selectors.customer_locale_loaded(identity)
    language = mail_language(request_language(), locale)
    transaction.on_commit(
        lambda: new_device_notice_queue(
            email=email, at=now, provider=provider, client=client, language=language
        )
    )


_VERSION = re.compile(r"\d+(?:[._]\d+)*")


def device_of(user_agent: str) -> str:
    """`Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1`
    → `Mozilla/# (iPhone; CPU iPhone OS # like Mac OS X) Safari/#`."""
    return _VERSION.sub("#", user_agent)


def new_device_notice_queue(
    *,
    email: str,
    at: datetime,
    provider: str,
    client: ClientInfo,
    language: str | None,
) -> None:
    from accounts.tasks import new_device_email_send_task

    notice_publish(
        new_device_email_send_task,
        kwargs={
            "email": email,
            "signed_in_at": at.isoformat(),
            "provider": provider,
            "client": client.as_dict(),
            "language": language,
        },
        kwargsrepr={"email": email_hash(email), "signed_in_at": "*", "client": "*"},
        what="New device",
    )


def access_token_for_session(
    *,
    identity: AuthIdentity,
    provider: str,
    claims: AccessClaims,
    client: ClientInfo,
    now: datetime,
) -> str | None:
    """A token that continues the caller's session (a refresh, a change that
    keeps this client logged in). A caller whose token is from before
    sessions gets a new session, unless a sign-out of such tokens (ending
    a session, or every other) committed since its request was
    authenticated: then None, and the new session is gone again."""
    if claims.session_id is not None:
        return access_token_for_identity(
            identity=identity, provider=provider, session_id=claims.session_id, now=now
        )
    session = login_session_open(
        identity=identity, provider=provider, client=client, now=now
    )
    current = AuthIdentity.objects.only("token_generation", "tokens_valid_after").get(
        pk=identity.pk
    )
    if not selectors.token_generation_is_current(claims=claims, identity=current):
        session.delete()
        return None
    return access_token_for_identity(
        identity=identity, provider=provider, session_id=session.id, now=now
    )


def access_token_for_identity(
    *,
    identity: AuthIdentity,
    provider: str,
    session_id: str,
    now: datetime,
    provider_identity: ProviderIdentity | None = None,
) -> str:
    """A token of an open session: the first one, a refresh, or the one a
    password or address change gives the client that made it."""
    if provider_identity is None:
        provider_identity = identity.provider_identities.filter(
            provider=provider
        ).first()
    if identity.customer_id is None:
        # A registration token keeps its identity from the sweep for as long
        # as it lives: the sweep looks at updated_at, and the token lifetime
        # never exceeds ORPHAN_MAX_AGE (checked at start-up).
        AuthIdentity.objects.filter(pk=identity.pk).update(updated_at=now)
    return access_token_issue(
        auth_identity_id=identity.id,
        customer_id=identity.customer_id,
        auth_provider=provider,
        app_metadata=identity.app_metadata or {},
        user_metadata=provider_identity.user_metadata if provider_identity else None,
        generation=identity.token_generation,
        session_id=session_id,
        now=now,
    )


def login_session_touch(
    *, session_id: str, last_used_at: datetime | None, now: datetime
) -> None:
    """Mark the session used, at most once per selectors.LAST_USED_RESOLUTION (the
    condition repeats the check, so parallel requests write once)."""
    if last_used_at is None or now - last_used_at < selectors.LAST_USED_RESOLUTION:
        return
    LoginSession.objects.filter(
        id=session_id, last_used_at__lt=now - selectors.LAST_USED_RESOLUTION
    ).update(last_used_at=now)


def login_session_end(*, auth_identity_id: str, session_id: str, now: datetime) -> bool:
    """End one of the identity's sessions; False if it has none by that id.
    Tokens without a session (Medusa's, ours from before sessions) issued up
    to now are refused too: the session may be one a refresh opened for
    such a token, which could otherwise open another."""
    with transaction.atomic():
        deleted, _ = LoginSession.objects.filter(
            id=session_id, auth_identity_id=auth_identity_id
        ).delete()
        if deleted:
            _sessionless_tokens_refuse(auth_identity_id=auth_identity_id, now=now)
    return deleted > 0


def login_sessions_end_others(
    *, auth_identity_id: str, keep_session_id: str | None, now: datetime
) -> int:
    """End every session but `keep_session_id`, and refuse every token
    without a session issued up to now. Return how many sessions ended."""
    with transaction.atomic():
        _sessionless_tokens_refuse(auth_identity_id=auth_identity_id, now=now)
        return _sessions_end(auth_identity_id=auth_identity_id, keep=keep_session_id)


def _sessionless_tokens_refuse(*, auth_identity_id: str, now: datetime) -> None:
    """`selectors.token_generation_is_current` refuses a token without a
    session issued up to `tokens_valid_after`; never moved back (a
    revocation on a host whose clock is ahead may have set it later)."""
    AuthIdentity.objects.filter(pk=auth_identity_id).update(
        tokens_valid_after=Greatest("tokens_valid_after", Value(now))
    )


def identity_tokens_revoke(
    *,
    identity_id: str,
    now: datetime,
    keep_session_id: str | None = None,
    **changes: Combinable | datetime,
) -> None:
    """Refuse every token issued so far (ours by generation, the others up
    to this second) and end every session but `keep_session_id`, whose
    client gets a token of the new generation from the caller; `changes`
    are further columns of the identity to set in the same UPDATE."""
    AuthIdentity.objects.filter(pk=identity_id).update(
        token_generation=F("token_generation") + 1,
        tokens_valid_after=now,
        **changes,
    )
    _sessions_end(auth_identity_id=identity_id, keep=keep_session_id)


def _sessions_end(*, auth_identity_id: str, keep: str | None) -> int:
    sessions = LoginSession.objects.filter(auth_identity_id=auth_identity_id)
    if keep is not None:
        sessions = sessions.exclude(id=keep)
    deleted, _ = sessions.delete()
    return deleted


def login_sessions_purge(*, now: datetime) -> int:
    """Forget sessions nothing can use, EXPIRED_SESSION_RETENTION after
    their use ended (loginsession_used_idx)."""
    cutoff = now - selectors.login_session_lifetime() - EXPIRED_SESSION_RETENTION
    deleted, _ = LoginSession.objects.filter(last_used_at__lt=cutoff).delete()
    return deleted
