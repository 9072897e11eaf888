"""What is already here, for the rows of one batch."""

from collections.abc import Iterable

from accounts.models import AuthIdentity, Customer, CustomerAddress, ProviderIdentity
from orphans.models import OrphanDeletion

MODELS: dict[
    str,
    type[Customer]
    | type[AuthIdentity]
    | type[ProviderIdentity]
    | type[CustomerAddress],
] = {
    "customer": Customer,
    "auth_identity": AuthIdentity,
    "provider_identity": ProviderIdentity,
    "customer_address": CustomerAddress,
}


def ids_here(table: str, ids: Iterable[str]) -> set[str]:
    return set(
        MODELS[table].objects.filter(id__in=list(ids)).values_list("id", flat=True)
    )


def identities_swept_here(ids: Iterable[str]) -> set[str]:
    """Identities the orphan sweep deleted here (its audit keeps their ids)."""
    return set(
        OrphanDeletion.objects.filter(auth_identity_id__in=list(ids)).values_list(
            "auth_identity_id", flat=True
        )
    )


def orphans_among(ids: Iterable[str]) -> list[str]:
    """Those of the identities that have no customer here."""
    return list(
        AuthIdentity.objects.filter(
            id__in=list(ids), customer__isnull=True
        ).values_list("id", flat=True)
    )
