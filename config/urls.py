from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from api.urls import auth_urlpatterns, store_urlpatterns
from config.health import health
from core.errors import InvalidData, NotFound, UnknownError, error_response
from ops.metrics import metrics

urlpatterns = [
    path("health", health, name="health"),
    path("metrics", metrics, name="metrics"),
    path("auth/", include((auth_urlpatterns, "auth"))),
    path("store/", include((store_urlpatterns, "store"))),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]


def not_found(request, exception=None):
    return error_response(NotFound("Not found"))


def bad_request(request, exception=None):
    return error_response(InvalidData("Bad request"))


def server_error(request):
    # Medusa's body for an unknown error; every 500 is a bug to fix.
    return error_response(UnknownError("An unknown error occurred."))


handler400 = bad_request
handler404 = not_found
handler500 = server_error
