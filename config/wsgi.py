import os

from django.core.wsgi import get_wsgi_application

# Production unless told otherwise: a forgotten variable fails closed
# (missing secrets refuse to start) instead of running unhardened.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = get_wsgi_application()
