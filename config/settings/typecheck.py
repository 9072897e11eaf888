"""Settings for mypy alone: django-stubs' plugin loads them to learn the apps
and models. base.py with stand-ins for what it requires from the
environment (the secrets, DATABASE_URL), so mypy runs from any shell, with or
without ./dev's environment; values from the environment win. Nothing
connects to the database.

They refuse to load anywhere but in mypy: a server running on them would
sign with a published key."""

import os
import sys

from django.core.exceptions import ImproperlyConfigured

if "mypy" not in sys.modules:
    raise ImproperlyConfigured("config.settings.typecheck is for mypy only")

for _name in ("SECRET_KEY", "JWT_SECRET", "COOKIE_SECRET", "EMAIL_HASH_KEY"):
    os.environ.setdefault(_name, f"typecheck-only-{_name}")
os.environ.setdefault("DATABASE_URL", "postgres://typecheck@127.0.0.1:1/typecheck")

from .base import *  # noqa: E402, F403
