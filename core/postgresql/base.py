"""Django's PostgreSQL backend with a health check that needs no round trip
(ENGINE "core.postgresql"; config/settings/base.py).

With CONN_HEALTH_CHECKS Django checks a kept connection before it serves a
new request, and its check sends `SELECT 1`: a round trip per request, a
third of `/me`'s (docs/performance.md, "A health check without a round
trip"). A connection the server or PgBouncer closed (a restart, a
terminated backend, an idle timeout) has the server's last message and the
end of the stream waiting in its socket; a live idle one has nothing to
read. So an idle connection with nothing to read is usable, one with
something to read is not (a message the server sends unasked on a live
one, a NOTIFY after a LISTEN, would cost a reconnect: nothing here
listens). A peer that vanished without closing the socket is not seen
until a query waits for it, here the request's own rather than
`SELECT 1` (which would have waited as long, then reconnected). After an
error (Django's check at the end of such a request) and outside an idle
session, the check is Django's own."""

import select
from typing import Any

import psycopg
from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection: psycopg.Connection[Any] | None = self.connection
        if connection is None or connection.closed:  # broken ones are closed
            return False
        if (
            self.errors_occurred
            or connection.info.transaction_status != TransactionStatus.IDLE
        ):
            return super().is_usable()
        poller = select.poll()
        poller.register(connection.fileno(), select.POLLIN | select.POLLPRI)
        return not poller.poll(0)
