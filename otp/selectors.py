from accounts.models import AuthIdentity, Customer, Provider
from accounts.selectors import provider_identity_get
from otp.models import OtpChallenge, OtpFailureBudget


def challenge_latest_for_update(*, email: str) -> OtpChallenge | None:
    """The newest challenge of an email, row-locked (otp_email_created_idx)."""
    return (
        OtpChallenge.objects.select_for_update()
        .filter(email=email)
        .order_by("-created_at")
        .first()
    )


def failure_budget(*, email: str) -> OtpFailureBudget:
    """The email's budget row, or an unsaved empty one."""
    return OtpFailureBudget.objects.filter(email=email).first() or OtpFailureBudget(
        email=email
    )


def auth_identity_for_email(*, email: str) -> AuthIdentity | None:
    """The one identity an address has proved, through the unique index of
    (entity_id, provider) — never by scanning identities (seed 003)."""
    for provider in (Provider.EMAIL_OTP, Provider.EMAILPASS):
        provider_identity = provider_identity_get(provider=provider, entity_id=email)
        if provider_identity is not None:
            return provider_identity.auth_identity
    customer = registered_customer_for_email(email=email)
    if customer is None:
        return None
    return AuthIdentity.objects.filter(customer=customer).first()


def registered_customer_for_email(*, email: str) -> Customer | None:
    # At most one: the partial unique index customer_registered_email_uniq.
    return Customer.objects.filter(
        email=email, has_account=True, deleted_at__isnull=True
    ).first()
