"""Deleting orphans: one short transaction per batch that locks its rows
(`FOR UPDATE SKIP LOCKED`: parallel sweeps and a completing signup never
wait on or collide with each other), re-checks "no customer" and "no hold"
in the DELETE itself, and writes an audit row per identity with the email
as an HMAC."""

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import AuthIdentity, PasswordResetToken, ProviderIdentity
from core import metrics
from core.emails import email_hashes
from orphans.models import OrphanDeletion, OrphanHold, SweepRun, Trigger

logger = logging.getLogger("orphans")


# Lock a batch of the oldest sweepable orphans, skipping rows another
# transaction holds (a completing signup, a parallel sweep), and read the
# email the audit hashes. Served by authid_orphan_created_idx; each email is
# read through the index on auth_identity_id, never by joining all provider
# identities (a hash join did, and its cost grew with the table: see
# docs/performance.md).
# The tables, by their models: the statements below are accounts' and
# orphans' schema seen from one place, and follow a renamed table.
_TABLES = {
    "identity": AuthIdentity._meta.db_table,
    "provider": ProviderIdentity._meta.db_table,
    "reset_token": PasswordResetToken._meta.db_table,
    "hold": OrphanHold._meta.db_table,
    "audit": OrphanDeletion._meta.db_table,
}

# The email: an email login's entity id, or a social login's
# user_metadata.email (its entity id is the provider's subject).
LOCK_BATCH_SQL = """
SELECT ai.id,
       (SELECT min(CASE WHEN pi.provider IN ('emailpass', 'email-otp')
                        THEN pi.entity_id
                        ELSE pi.user_metadata ->> 'email' END)
        FROM {provider} pi
        WHERE pi.auth_identity_id = ai.id)
FROM (
    SELECT a.id, a.created_at
    FROM {identity} a
    WHERE a.customer_id IS NULL AND a.created_at < %(cutoff)s
      AND a.updated_at < %(cutoff)s
      AND (%(ids)s::text[] IS NULL OR a.id = ANY(%(ids)s))
      AND NOT EXISTS (
          SELECT 1 FROM {hold} h WHERE h.auth_identity_id = a.id)
    ORDER BY a.created_at
    LIMIT %(limit)s
    FOR UPDATE OF a SKIP LOCKED
) ai
""".format(**_TABLES)  # noqa: S608  (table names of our models, no input)


# One statement deletes the locked identities, re-checking "no customer" and
# "no hold" (the last guards), their reset tokens and provider identities,
# and writes one audit row for each identity it deleted, with the providers
# it deleted.
# It leaves the sweep run's row alone: parallel workers would queue on its
# lock (the sweep writes the count itself, see _Sweeper).
# Foreign keys are deferred, so dependents may go after their identity. The
# email HMAC is made in Python (the key stays out of SQL and its logs). The
# lists come as JSON text: psycopg adapts a Python list element by element
# in Python (measured with client-side binding, as behind PgBouncer), which
# cost more CPU than the deletes themselves.
_DELETE_AND_AUDIT = """
WITH doomed AS (
    SELECT * FROM ROWS FROM (jsonb_array_elements_text(%(ids)s::jsonb),
                             jsonb_array_elements_text(%(email_hashes)s::jsonb))
        AS d(id, email_hash)
), deleted AS (
    -- ANY(ARRAY(...)): one primary-key probe per id (a join with the list
    -- may be planned as a scan of every orphan instead).
    DELETE FROM {identity} a
    WHERE a.id = ANY(ARRAY(SELECT id FROM doomed)) AND a.customer_id IS NULL
      -- A hold that committed after the batch was locked (that statement's
      -- snapshot could not see it), or the cascade would delete it too.
      AND NOT EXISTS (
          SELECT 1 FROM {hold} h WHERE h.auth_identity_id = a.id)
    RETURNING a.id, a.created_at
), providers AS (
    DELETE FROM {provider} p USING deleted
    WHERE p.auth_identity_id = deleted.id
    RETURNING p.id, p.auth_identity_id, p.provider
), tokens AS (
    DELETE FROM {reset_token} t
    WHERE t.provider_identity_id = ANY(ARRAY(SELECT id FROM providers))
), audit AS (
    INSERT INTO {audit}
        (auth_identity_id, email_hash, providers, identity_created_at,
         deleted_at, trigger, staff_user_id, staff_username, sweep_run_id)
    SELECT deleted.id, doomed.email_hash, coalesce(pr.providers, '[]'),
           deleted.created_at, %(deleted_at)s, %(trigger)s, %(staff_user_id)s,
           %(staff_username)s, %(sweep_run_id)s
    FROM deleted
    JOIN doomed ON doomed.id = deleted.id
    LEFT JOIN (
        SELECT auth_identity_id, jsonb_agg(provider ORDER BY provider) AS providers
        FROM providers GROUP BY auth_identity_id
    ) pr ON pr.auth_identity_id = deleted.id
    -- An id deleted once already (an orphan a Medusa import brought back)
    -- keeps its first audit row; the deletion itself still happens.
    ON CONFLICT (auth_identity_id) DO NOTHING
)
SELECT id FROM deleted
""".format(**_TABLES)  # noqa: S608  (table names of our models, no input)


@dataclass(frozen=True)
class Deleter:
    trigger: str
    staff_user: User | None = None
    sweep_run: SweepRun | None = None


def orphans_delete_batch(
    *,
    cutoff: datetime,
    limit: int,
    deleter: Deleter,
    only_ids: list[str] | None = None,
) -> list[str]:
    """Delete up to `limit` orphans in one short transaction; return their ids."""
    params: dict[str, datetime | int | list[str] | None] = {
        "cutoff": cutoff,
        "limit": limit,
        "ids": only_ids,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(LOCK_BATCH_SQL, params)
        locked = cursor.fetchall()
        if not locked:
            return []
        staff = deleter.staff_user
        # An identity without a provider identity has no email: hash "".
        emails = [email or "" for _, email in locked]
        hashes = [
            digest if email else ""
            for digest, email in zip(email_hashes(emails), emails, strict=True)
        ]
        cursor.execute(
            _DELETE_AND_AUDIT,
            {
                "ids": json.dumps([identity_id for identity_id, _ in locked]),
                "email_hashes": json.dumps(hashes),
                "deleted_at": timezone.now(),
                "trigger": deleter.trigger,
                "staff_user_id": staff.pk if staff else None,
                "staff_username": staff.get_username() if staff else "",
                "sweep_run_id": deleter.sweep_run.pk if deleter.sweep_run else None,
            },
        )
        deleted = [row[0] for row in cursor.fetchall()]
    metrics.orphans_cleaned.inc(len(deleted))
    return deleted


def orphans_delete_selected(
    *, auth_identity_ids: list[str], staff_user: User, now: datetime
) -> tuple[list[str], list[str]]:
    """Staff's explicit delete: only identities that are still orphans and not
    on hold go; the rest are refused and returned as such."""
    deleted = orphans_delete_batch(
        cutoff=now,
        limit=len(auth_identity_ids),
        deleter=Deleter(trigger=Trigger.ADMIN, staff_user=staff_user),
        only_ids=list(auth_identity_ids),
    )
    refused = [i for i in auth_identity_ids if i not in set(deleted)]
    return deleted, refused
