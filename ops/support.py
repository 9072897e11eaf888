"""The `Support` staff group: exactly what reviewing accounts, orphans and
OTP lockouts needs, and nothing that edits accounts directly."""

SUPPORT_GROUP = "Support"
SUPPORT_PERMISSIONS = [
    # Read customers and identities (never password hashes: admin hides them).
    ("accounts", "view_customer"),
    ("accounts", "view_authidentity"),
    ("accounts", "view_provideridentity"),
    # Read the address book (a superuser edits it).
    ("accounts", "view_customeraddress"),
    # See a customer's login sessions and end them all (a customer who
    # reports a lost device or a stranger in their account).
    ("accounts", "view_loginsession"),
    ("accounts", "end_sessions"),
    # Review, hold and delete orphans; run the sweep; read its history.
    ("orphans", "view_orphan"),
    ("orphans", "delete_orphan"),
    ("orphans", "hold_orphan"),
    ("orphans", "run_sweep"),
    ("orphans", "view_orphan_dashboard"),
    ("orphans", "view_sweeprun"),
    ("orphans", "view_orphandeletion"),
    ("orphans", "view_orphanevent"),
    # See and lift the signup circuit breaker.
    ("orphans", "view_signupgate"),
    ("orphans", "pause_signups"),
    ("orphans", "view_signupgatechange"),
    # OTP: see challenges, clear lockouts.
    ("otp", "view_otpchallenge"),
    ("otp", "view_otpfailurebudget"),
    ("otp", "clear_otp_lockout"),
    # See the Medusa replica's outbox, retry what Medusa refused.
    ("replica", "view_change"),
    ("replica", "retry_change"),
    # See the erasure audit (erasing needs privacy.erase_customer, which
    # Support does not have: see docs/account.md).
    ("privacy", "view_erasure"),
    # See the beat schedule.
    ("django_celery_beat", "view_periodictask"),
]


def support_group_install(group_model, permission_model) -> None:
    group, _ = group_model.objects.get_or_create(name=SUPPORT_GROUP)
    permissions = [
        permission_model.objects.get(content_type__app_label=app, codename=codename)
        for app, codename in SUPPORT_PERMISSIONS
    ]
    group.permissions.set(permissions)
