"""Stored addresses against the normal form (core.emails).

Rows written before the normal form had IDNA may hold an address it now
maps elsewhere: `foo@ｅxample.com` is `foo@example.com` today, so its owner
could no longer log in, and if `foo@example.com` exists too the two are one
mailbox with two accounts. Only rows that are not printable ASCII can be
affected (the earlier CHECKs already kept the rest trimmed and lower-cased,
and IDNA leaves an ASCII domain as it is or refuses it), so the scan reads
just those, through PostgreSQL's regex. What it finds, per address:

- collision: two accounts (identities, or registered customers) now share
  the normal form; staff decide which one keeps it (docs/runbook.md);
- unusable: the normal form is no valid address (IDNA refuses the domain,
  or the local part is not ASCII): nobody can log in with it any more;
- rewritable: no other row has the normal form: `--fix` rewrites it.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction

from accounts.models import Customer, ProviderIdentity
from accounts.services.identities import email_identity_lock
from core.emails import PRINTABLE_ASCII, email_hash, email_is_valid, email_normalize

CONSTRAINTS = (
    ("accounts_customer", "customer_registered_email_printable_ascii"),
    ("accounts_provideridentity", "provid_entity_id_printable_ascii"),
)


@dataclass
class Finding:
    kind: str  # collision | unusable | rewritable
    table: str  # provider_identity | customer
    email_hash: str  # HMAC of the normal form, never the address
    # (row id, its auth identity or None); for a collision every holder.
    rows: list[tuple[str, str | None]]
    normal: str = field(repr=False, default="")


def _provider_findings() -> list[Finding]:
    candidates = list(
        ProviderIdentity.objects.exclude(entity_id__regex=PRINTABLE_ASCII)
        .order_by("id")
        .values_list("id", "auth_identity_id", "provider", "entity_id")
    )
    groups: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    findings = []
    for pk, identity_id, provider, entity_id in candidates:
        normal = email_normalize(entity_id)
        if not email_is_valid(normal):
            findings.append(
                Finding(
                    "unusable",
                    "provider_identity",
                    email_hash(normal),
                    [(pk, identity_id)],
                    normal,
                )
            )
        else:
            groups[normal].append((pk, identity_id, provider))
    for normal, members in groups.items():
        holders = ProviderIdentity.objects.filter(entity_id=normal).values_list(
            "id", "auth_identity_id", "provider"
        )
        everyone = [*holders, *members]
        identities = {identity_id for _, identity_id, _ in everyone}
        providers = [provider for _, _, provider in everyone]
        if len(identities) > 1 or len(providers) != len(set(providers)):
            rows: list[tuple[str, str | None]] = [
                (pk, identity_id) for pk, identity_id, _ in everyone
            ]
            findings.append(
                Finding(
                    "collision", "provider_identity", email_hash(normal), rows, normal
                )
            )
        else:
            findings.extend(
                Finding(
                    "rewritable",
                    "provider_identity",
                    email_hash(normal),
                    [(pk, identity_id)],
                    normal,
                )
                for pk, identity_id, _ in members
            )
    return findings


def _customer_findings() -> list[Finding]:
    candidates = list(
        Customer.objects.filter(has_account=True)
        .exclude(email__regex=PRINTABLE_ASCII)
        .order_by("id")
        .values_list("id", "email", "deleted_at")
    )
    groups: dict[str, list[str]] = defaultdict(list)
    findings = []
    for pk, email, deleted_at in candidates:
        normal = email_normalize(email or "")
        if not email_is_valid(normal):
            findings.append(
                Finding(
                    "unusable", "customer", email_hash(normal), [(pk, None)], normal
                )
            )
        elif deleted_at is not None:  # the unique index leaves it out
            findings.append(
                Finding(
                    "rewritable", "customer", email_hash(normal), [(pk, None)], normal
                )
            )
        else:
            groups[normal].append(pk)
    for normal, members in groups.items():
        holders = Customer.objects.registered_with_email(normal).values_list(
            "id", flat=True
        )
        everyone = [*holders, *members]
        if len(everyone) > 1:
            findings.append(
                Finding(
                    "collision",
                    "customer",
                    email_hash(normal),
                    [(pk, None) for pk in everyone],
                    normal,
                )
            )
        else:
            findings.append(
                Finding(
                    "rewritable",
                    "customer",
                    email_hash(normal),
                    [(members[0], None)],
                    normal,
                )
            )
    return findings


def email_normal_form_findings() -> list[Finding]:
    """Every stored address that is not in the normal form, by kind."""
    return _provider_findings() + _customer_findings()


def email_normal_form_rewrite(finding: Finding) -> bool:
    """Rewrite a `rewritable` row to its normal form, under the per-email
    lock that identity creation takes; False when a row took the address
    since the scan (it is a collision now)."""
    ((pk, identity_id),) = finding.rows
    try:
        with transaction.atomic():
            email_identity_lock(email=finding.normal)
            if finding.table == "provider_identity":
                row = ProviderIdentity.objects.filter(pk=pk).first()
                if row is None:
                    return False
                # The address may already be this identity's other login's
                # (both of its logins were rewritable): only another
                # identity's, or another login of the same provider, collides.
                taken = ProviderIdentity.objects.filter(entity_id=finding.normal)
                if taken.exclude(auth_identity_id=identity_id).exists() or (
                    taken.filter(provider=row.provider).exists()
                ):
                    return False
                updated = ProviderIdentity.objects.filter(pk=pk).update(
                    entity_id=finding.normal
                )
            else:
                updated = Customer.objects.filter(pk=pk).update(email=finding.normal)
    except IntegrityError:
        return False
    return updated == 1


def email_constraints_validate() -> list[str]:
    """VALIDATE the ASCII CHECKs the migration may have left NOT VALID;
    the names of those that still fail."""
    failing = []
    for table, name in CONSTRAINTS:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                # Inside a caller's transaction (a test), ALTER TABLE needs
                # the deferred foreign-key checks done first.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(
                    f"ALTER TABLE {connection.ops.quote_name(table)} "
                    f"VALIDATE CONSTRAINT {connection.ops.quote_name(name)}"
                )
        except IntegrityError:
            failing.append(name)
    return failing
