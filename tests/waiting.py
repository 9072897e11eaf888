"""Waiting on the live stack for something to become true."""

import time


def wait_for(what: str, check, timeout: float = 60.0):
    """`check()`'s first truthy answer; fails naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s"
        time.sleep(0.1)
    return found
