"""Durations as operators write them: `90s`, `15m`, `24h`, `7d`."""

import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def duration_parse(text: str) -> timedelta:
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration like 90s, 15m, 24h or 7d: {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
