"""The in-process API client of the tests."""

from django.db import connection
from rest_framework.test import APIClient


class CommittingAPIClient(APIClient):
    """A request's on_commit callbacks run when it returns, once, as after
    the commit that ends a real request: the test's own transaction never
    commits. So a code asked for is mailed (its drain is queued on commit:
    otp/mail.py) before the test reads the mailbox."""

    def request(self, *args, **kwargs):
        # Read anew each time: a rollback replaces the list, dropping the
        # callbacks of the work it undid.
        start = len(connection.run_on_commit)
        try:
            return super().request(*args, **kwargs)
        finally:
            while len(connection.run_on_commit) > start:
                callbacks = connection.run_on_commit[start:]
                del connection.run_on_commit[start:]
                for _, callback, _ in callbacks:
                    callback()
