"""Failed staff logins, counted by django-axes in PostgreSQL: per username
and per client address, each against its own limit (docs/runbook.md,
"Staff login")."""

import ipaddress

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib import admin
from django.db.models import Sum
from django.shortcuts import render

from core.ratelimit import client_key


def client_ip(request) -> str | None:
    """The client axes counts failures against, as the request limits count
    it: the address read through TRUSTED_PROXY_COUNT (never the client's own
    X-Forwarded-For claim), an IPv6 client by its /64 (kept as the /64's
    first address: the column holds addresses). Anything else (a
    misconfigured proxy count letting a client name itself) counts as one
    unknown client, not as a client of its own per value."""
    try:
        network = ipaddress.ip_network(client_key(request))
    except ValueError:
        return None
    return str(network.network_address)


class StaffLoginAttempts(AxesDatabaseHandler):
    """axes' database handler with one limit per lockout parameter.

    axes compares a single number, the larger of the failure counts of each
    parameter in AXES_LOCKOUT_PARAMETERS (["username", "ip_address"]), with
    AXES_FAILURE_LIMIT. We want fewer tries for one username (guessing one
    account's password) than for one client (a whole office behind one
    address makes typos; a credential-stuffing client tries many usernames
    once each). So the client's count is shifted onto the username's scale:
    it reaches AXES_FAILURE_LIMIT (= ADMIN_LOGIN_FAILURES_PER_USERNAME)
    exactly when the client has failed ADMIN_LOGIN_FAILURES_PER_CLIENT
    times."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        by_username, by_client = (
            attempts.aggregate(failures=Sum("failures_since_start"))["failures"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        headroom = (
            settings.ADMIN_LOGIN_FAILURES_PER_CLIENT
            - settings.ADMIN_LOGIN_FAILURES_PER_USERNAME
        )
        return max(by_username, by_client - headroom)


def locked_out(request, original_response=None, credentials=None):
    """axes' answer to a login while locked out: 429 with Retry-After. Any
    try while locked out counts as a failure and starts the wait again, so
    the whole cool-off is the honest wait."""
    seconds = int(get_cool_off(request).total_seconds())
    # Rendered here: axes' middleware returns it after the view has run.
    response = render(
        request,
        "staff/locked_out.html",
        {
            **admin.site.each_context(request),
            "title": "Too many failed logins",
            "minutes": max(1, -(-seconds // 60)),
        },
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response
