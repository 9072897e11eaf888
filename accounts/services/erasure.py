"""Erasing a customer (GDPR art. 17): everything accounts holds about them.

The caller (flows/erasure.py) runs this in the transaction that also
forgets the address's one-time codes and writes the audit row. Deleting
the customer row is what erases them in Medusa too: the replica's trigger
records the delete, and the drain empties the person from Medusa's row
while keeping it for orders (docs/replication.md, "Deleted here")."""

from dataclasses import dataclass

from accounts.models import (
    AuthIdentity,
    Customer,
    CustomerAddress,
    PasswordResetToken,
    ProviderIdentity,
)
from accounts.services.customers import customer_lock


@dataclass(frozen=True)
class ErasedCustomer:
    customer_id: str
    # The address the account was registered with: what the audit hashes,
    # the OTP records are keyed by, and the notice goes to.
    email: str
    auth_identity_id: str | None
    # The language of the customer's mail, for the notice (Customer.locale).
    locale: str | None = None


def customer_erase(*, customer_id: str) -> ErasedCustomer:
    """Delete the customer's logins (identity, provider identities, reset
    tokens), addresses and row. Call inside a transaction: it locks the
    customer first, as every write to a customer does; 404 if it is gone."""
    customer = customer_lock(customer_id)
    identity_id = (
        AuthIdentity.objects.filter(customer_id=customer.id)
        .values_list("id", flat=True)
        .first()
    )
    if identity_id is not None:
        PasswordResetToken.objects.filter(
            provider_identity__auth_identity_id=identity_id
        ).delete()
        ProviderIdentity.objects.filter(auth_identity_id=identity_id).delete()
        # Any orphan hold goes with it (orphans' cascade).
        AuthIdentity.objects.filter(id=identity_id).delete()
    # Each address delete and the customer's are recorded for the replica
    # by their triggers.
    CustomerAddress.objects.filter(customer_id=customer.id).delete()
    Customer.objects.filter(id=customer.id).delete()
    return ErasedCustomer(
        customer_id=customer.id,
        email=customer.email or "",
        auth_identity_id=identity_id,
        locale=customer.locale,
    )
