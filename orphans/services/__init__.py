"""Orphans: auth identities whose customer profile was never created.

Detect them at the source (events), pause signups when they pile up (gate),
let staff keep one (holds), and delete them after ORPHAN_MAX_AGE in short
batches that can never take a profile completed meanwhile (deletion, sweep).
The names below are what views, flows, tasks, commands and admin call."""

from orphans.services.deletion import (
    LOCK_BATCH_SQL,
    orphans_delete_batch,
    orphans_delete_selected,
)
from orphans.services.events import (
    PROFILE_FAILURE_EVENT,
    orphan_profile_failure_record,
)
from orphans.services.gate import (
    signups_open_check,
    signups_pause,
    signups_resume,
)
from orphans.services.holds import orphan_hold, orphan_release
from orphans.services.sweep import orphans_sweep, orphans_sweep_preview

__all__ = [
    "LOCK_BATCH_SQL",
    "PROFILE_FAILURE_EVENT",
    "orphan_hold",
    "orphan_profile_failure_record",
    "orphan_release",
    "orphans_delete_batch",
    "orphans_delete_selected",
    "orphans_sweep",
    "orphans_sweep_preview",
    "signups_open_check",
    "signups_pause",
    "signups_resume",
]
