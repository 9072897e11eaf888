"""Reads, each through an index."""

from core.emails import email_hash
from privacy.models import Erasure


def erasures_of_address(*, email: str) -> list[Erasure]:
    """Earlier accounts of this address that were erased (by the email's
    HMAC, erasure's own index)."""
    return list(Erasure.objects.filter(email_hash=email_hash(email)).order_by("id"))
