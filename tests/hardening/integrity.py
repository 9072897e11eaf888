"""Whole-table checks the load and fault tests share: whatever the traffic
did, no row is left without the rows it needs."""

from accounts.models import AuthIdentity, Customer


def rows_missing_their_parts() -> tuple[int, int]:
    """(registered customers without an identity, identities without a
    provider identity)."""
    unlinked_customers = Customer.objects.filter(
        has_account=True, auth_identity__isnull=True
    ).count()
    bare_identities = AuthIdentity.objects.filter(
        provider_identities__isnull=True
    ).count()
    return unlinked_customers, bare_identities
