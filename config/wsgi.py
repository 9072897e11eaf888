import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from api.body_limit import BodyLimitMiddleware
from api.wsgi_environ import ProcessEnvironmentStripped

# Production unless told otherwise: a forgotten variable fails closed
# (missing secrets refuse to start) instead of running unhardened.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = ProcessEnvironmentStripped(
    BodyLimitMiddleware(
        get_wsgi_application(), limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    )
)
