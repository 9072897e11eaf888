"""Per-family CORS, as Medusa's storeCors / authCors: an origin allowed for
/auth/* is not thereby allowed for /store/*. django-cors-headers asks this
signal whether a request's origin may pass."""

from corsheaders.signals import check_request_enabled
from django.conf import settings


def _origin_allowed(sender, request, **kwargs) -> bool:
    origin = request.headers.get("origin", "")
    if request.path.startswith("/store/"):
        return origin in settings.STORE_CORS
    if request.path.startswith("/auth/"):
        return origin in settings.AUTH_CORS
    return False


check_request_enabled.connect(_origin_allowed)
