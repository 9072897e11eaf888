"""Settings for the pytest process: base settings, made faster for tests.

The live web server, worker and beat that ./dev test starts use base.py.
"""

from .base import *  # noqa: F403

# Tasks enqueued by in-process tests run at once into the locmem outbox; the
# end-to-end tests go through the real broker and worker instead.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Celery's eager mode (above) ignores the masked kwargsrepr that config.celery
# .publish passes, and would log the real arguments (an email, a code) on
# task success. The real worker honours kwargsrepr; tests/security/
# test_logs.py scans its log too.
LOGGING["loggers"]["celery.app.trace"] = {"level": "WARNING"}  # noqa: F405

# In-process tests run standalone: a drain run eagerly inside a request
# would add Medusa's writes to every test's queries. Tests of the replica
# set it (tests/replica/conftest.py); the live web and worker (base.py)
# replicate into the Medusa database ./dev test starts.
MEDUSA_DATABASE_URL = ""
