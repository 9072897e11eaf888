"""One replication drain queued at a time (core/queued.py)."""

from core.queued import DrainQueued

DRAIN = DrainQueued("replica")
