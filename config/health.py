"""GET /health: 200 "OK" while PostgreSQL answers, 503 otherwise (Medusa's
shape). Redis (cache and broker) is reported, not fatal: logins work without
it. `Accept: application/json` gets the details."""

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import DatabaseError, connection
from django.http import HttpResponse, JsonResponse

from core.http import read_only


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return False
    return True


def _redis_ok() -> bool:
    try:
        backend = caches["default"]
        if not isinstance(backend, RedisCache):
            return False
        client = backend._cache.get_client()  # noqa: SLF001  (a ping, not a cache read)
        return bool(client.ping())
    except Exception:  # noqa: BLE001  (any failure means "not available")
        return False


@read_only
def health(request):
    database = _database_ok()
    status = 200 if database else 503
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse(
            {
                "status": "ok" if database else "unavailable",
                "database": "ok" if database else "unavailable",
                "redis": "ok" if _redis_ok() else "unavailable",
            },
            status=status,
        )
    text = "OK" if database else "Service Unavailable"
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
