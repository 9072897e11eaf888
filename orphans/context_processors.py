from django.db import DatabaseError
from django.http import HttpRequest

from orphans.selectors import signups_paused


def signup_gate(request: HttpRequest) -> dict[str, bool]:
    """The admin banner: staff see at once that signups are paused."""
    if not request.path.startswith("/admin/"):
        return {}
    try:
        return {"signups_paused": signups_paused()}
    except DatabaseError:
        return {}
