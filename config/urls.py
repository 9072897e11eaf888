from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.urls import auth_urlpatterns, store_urlpatterns
from config.health import health
from ops.metrics import metrics
from otp import urls as otp_urls

urlpatterns = [
    path("health", health),
    path("metrics", metrics),
    path("auth/", include(otp_urls.auth_urlpatterns + auth_urlpatterns)),
    path("store/", include(otp_urls.store_urlpatterns + store_urlpatterns)),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]


def not_found(request, exception=None):
    return JsonResponse({"type": "not_found", "message": "Not found"}, status=404)


def bad_request(request, exception=None):
    return JsonResponse({"type": "invalid_data", "message": "Bad request"}, status=400)


def server_error(request):
    # Medusa's body for an unknown error; every 500 is a bug to fix.
    return JsonResponse(
        {
            "code": "unknown_error",
            "type": "unknown_error",
            "message": "An unknown error occurred.",
        },
        status=500,
    )


handler400 = bad_request
handler404 = not_found
handler500 = server_error
