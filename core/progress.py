"""Progress lines for long management commands (import_medusa,
medusa_sync): one line a second at most on stderr, and the last one of
each pass."""

import sys
import time
from typing import TextIO


class Progress:
    """Called after each batch as `progress(name, done, total)`: writes
    `name: done of total (share), rate/s, ETA`, on one line of a terminal
    (carriage returns), or a line each when stderr is not a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.start()

    def start(self, done: int = 0) -> None:
        """A pass begins with `done` rows done already (a resumed run): its
        rate and ETA count from here."""
        self.started = time.monotonic()
        self.base = done
        self.shown_at = 0.0
        self.last: tuple[str, int] | None = None  # since the last final line

    def __call__(self, name: str, done: int, total: int) -> None:
        now = time.monotonic()
        finished = done >= total
        self.last = (name, done)
        if not finished and now - self.shown_at < 1:
            return
        self.shown_at = now
        rate = (done - self.base) / max(now - self.started, 1e-9)
        share = f"{done / total:.0%}" if total else "100%"
        line = f"{name}: {done:,} of {total:,} ({share}), {rate:,.0f}/s"
        if not finished and rate > 0:
            line += f", ETA {duration_text((total - done) / rate)}"
        end = "\r" if self.stream.isatty() and not finished else "\n"
        self.stream.write(line + end)
        self.stream.flush()
        if finished:
            self.start()

    def end(self) -> None:
        """The pass is over though `done` never reached `total` (rows went
        away meanwhile): its final line."""
        if self.last is not None:
            name, done = self.last
            self(name, done, done)


def duration_text(seconds: float) -> str:
    """42 s, 3 min 05 s, 2 h 07 min."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
