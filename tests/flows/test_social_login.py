"""The rules of a provider login beyond one round trip (the round trips
themselves, against the real provider, are tests/e2e/test_social_login.py):
two first logins of one provider account at once make one identity, and a
social login whose provider never verified the address goes when the
mailbox owner proves it, as a squatter's password does."""

import threading
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from accounts import services
from accounts.models import AuthIdentity, ProviderIdentity
from tests.factories import token_for

PROVIDER = "google"


def _account(email: str, *, sub: str, verified: bool) -> services.ProviderAccount:
    return services.ProviderAccount(
        provider=PROVIDER, subject=sub, email=email, email_verified=verified
    )


def _signed_up(email: str, *, sub: str, verified: bool) -> AuthIdentity:
    """A provider login's identity with its customer (the profile step)."""
    identity = services.identity_for_social_login(
        account=_account(email, sub=sub, verified=verified), now=timezone.now()
    ).identity
    services.customer_create_for_identity(
        auth_identity_id=identity.id,
        profile=services.Profile(email=email),
        now=timezone.now(),
    )
    return identity


@pytest.mark.django_db(transaction=True)
def test_first_logins_of_one_provider_account_at_once_make_one_identity(email):
    sub = uuid.uuid4().hex
    before = AuthIdentity.objects.count()
    barrier = threading.Barrier(6)
    outcomes: list[services.SocialLogin | BaseException] = []

    def first_login() -> None:
        try:
            barrier.wait()
            outcomes.append(
                services.identity_for_social_login(
                    account=_account(email, sub=sub, verified=True),
                    now=timezone.now(),
                )
            )
        except BaseException as error:  # noqa: BLE001 - reported below
            outcomes.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=first_login) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(isinstance(outcome, services.SocialLogin) for outcome in outcomes), (
        outcomes
    )
    assert len({outcome.identity.id for outcome in outcomes}) == 1
    assert sorted(outcome.outcome for outcome in outcomes).count("new") == 1
    assert (
        ProviderIdentity.objects.filter(provider=PROVIDER, entity_id=sub).count() == 1
    )
    assert AuthIdentity.objects.count() == before + 1  # the losers left nothing


@pytest.mark.django_db
def test_an_unverified_social_login_goes_when_the_owner_proves_the_mailbox(
    api, email, send_code, verify
):
    """Someone whose provider account claims the victim's address, unverified,
    signs up with it before the victim does: the victim's code login proves
    the address, and the squatter's provider login and tokens die."""
    sub = uuid.uuid4().hex
    squatter = _signed_up(email, sub=sub, verified=False)
    squatter_token = token_for(squatter, provider=PROVIDER)

    owner = verify(email, send_code(email))

    assert owner.status_code == 200, owner.json()
    assert not ProviderIdentity.objects.filter(
        provider=PROVIDER, entity_id=sub
    ).exists()
    refresh = api.post(
        "/auth/token/refresh", HTTP_AUTHORIZATION=f"Bearer {squatter_token}"
    )
    assert refresh.status_code == 401
    # The provider account's next login is a first one again: unverified,
    # it does not land on the owner's account.
    again = services.identity_for_social_login(
        account=_account(email, sub=sub, verified=False), now=timezone.now()
    )
    assert again.outcome == "new"
    assert again.identity.id != squatter.id


@pytest.mark.django_db
def test_a_verified_social_login_survives_the_owner_proving_the_mailbox(
    email, send_code, verify
):
    sub = uuid.uuid4().hex
    identity = _signed_up(email, sub=sub, verified=True)

    verify(email, send_code(email))

    assert ProviderIdentity.objects.get(provider=PROVIDER, entity_id=sub)
    assert (
        services.identity_for_social_login(
            account=_account(email, sub=sub, verified=True), now=timezone.now()
        ).identity.id
        == identity.id
    )


@pytest.mark.oidc
@pytest.mark.django_db
def test_a_social_login_from_a_new_device_is_announced_a_sign_up_is_not(
    oidc, email, settings, django_capture_on_commit_callbacks
):
    """NEW_DEVICE_NOTICE on: the sign-up's session is the first one known
    (no notice), the same browser again neither, another browser is mailed."""
    from django.core import mail

    from core.client_info import ClientInfo
    from flows.social_login import social_login_finish, social_login_start

    settings.NEW_DEVICE_NOTICE = True
    sub = uuid.uuid4().hex

    def social_login(agent: str) -> None:
        location = social_login_start(provider=oidc.provider, callback_url=None)
        query = oidc.authorize(location, sub=sub, email=email)
        with django_capture_on_commit_callbacks(execute=True):
            result = social_login_finish(
                provider=oidc.provider,
                code=query["code"],
                state=query["state"],
                issuer=query.get("iss"),
                client=ClientInfo(ip_prefix="203.0.113.0/24", user_agent=agent),
                now=timezone.now(),
            )
        if result.login.outcome == "new":
            services.customer_create_for_identity(
                auth_identity_id=result.login.identity.id,
                profile=services.Profile(email=email),
                now=timezone.now(),
            )

    def notices() -> list:
        return [m for m in mail.outbox if m.to == [email] and "sign-in" in m.subject]

    social_login("Laptop Firefox")
    social_login("Laptop Firefox")
    assert notices() == []

    social_login("Phone Safari")

    (notice,) = notices()
    assert "Phone Safari" in notice.body
