"""Rows for tests, made through the same services the API uses."""

from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts import services
from accounts.models import AuthIdentity, Customer, Provider, ProviderIdentity
from accounts.tokens import access_token_issue
from core.client_info import ClientInfo

# The client a factory's login comes from (a session's coarse facts).
TEST_CLIENT = ClientInfo(ip_prefix="127.0.0.0/24", user_agent="tests")

PASSWORD = "correct horse battery staple"


def identity_create(*, email: str, password: str = PASSWORD, hasher="default"):
    """An emailpass identity without a customer (what register leaves)."""
    identity = AuthIdentity.objects.create()
    ProviderIdentity.objects.create(
        auth_identity=identity,
        provider=Provider.EMAILPASS,
        entity_id=email,
        password_hash=make_password(password, hasher=hasher),
    )
    return identity


def customer_create(*, email: str, password: str = PASSWORD, **profile) -> Customer:
    """A finished two-step signup: identity, provider identity, customer."""
    identity = identity_create(email=email, password=password)
    return services.customer_create_for_identity(
        auth_identity_id=identity.id,
        profile=services.Profile(email=email, **profile),
        now=timezone.now(),
    )


def registration_token(api, email: str, password: str = PASSWORD) -> str:
    """Step 1 of the two-step signup, through the API."""
    return api.post(
        "/auth/customer/emailpass/register",
        {"email": email, "password": password},
        format="json",
    ).json()["token"]


def profile_create(api, token: str, email: str, **fields):
    """Step 2 of the two-step signup, through the API."""
    return api.post(
        "/store/customers",
        {"email": email, **fields},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def token_for(customer_or_identity, provider: str = Provider.EMAILPASS) -> str:
    identity = (
        customer_or_identity.auth_identity
        if isinstance(customer_or_identity, Customer)
        else customer_or_identity
    )
    identity.refresh_from_db()
    return services.access_token_for_login(
        identity=identity, provider=provider, client=TEST_CLIENT, now=timezone.now()
    )


def token_without_session(identity: AuthIdentity, *, issued_at) -> str:
    """A token as this server signed them before login sessions (no `sid`)."""
    return access_token_issue(
        auth_identity_id=identity.id,
        customer_id=identity.customer_id,
        auth_provider=Provider.EMAILPASS,
        app_metadata={},
        user_metadata=None,
        generation=identity.token_generation,
        session_id=None,
        now=issued_at,
    )


def identities_bulk_create(
    count: int, *, prefix: str, created_at=None
) -> list[AuthIdentity]:
    """Many unlinked emailpass identities at once (a dummy hash: nobody logs in)."""
    created_at = created_at or timezone.now()
    identities = AuthIdentity.objects.bulk_create(
        AuthIdentity(created_at=created_at, updated_at=created_at) for _ in range(count)
    )
    ProviderIdentity.objects.bulk_create(
        ProviderIdentity(
            auth_identity=identity,
            provider=Provider.EMAILPASS,
            entity_id=f"{prefix}.{n}@example.com",
            password_hash="argon2$not-a-real-hash",
        )
        for n, identity in enumerate(identities)
    )
    return identities


def fullwidth_domain(email: str) -> str:
    """`email` with a full-width domain (`ｅｘａｍｐｌｅ．ｃｏｍ`): the same
    address under IDNA's UTS #46 mapping, a different string for Medusa."""
    local, domain = email.split("@")
    return f"{local}@" + "".join(chr(ord(char) + 0xFEE0) for char in domain)
