"""Support's tools for orphans, registered with the admin site: review,
hold and delete orphans, run the sweep and watch the dashboard (review),
and read back what happened (history)."""

from orphans.admin import history, review  # noqa: F401  (they register)
