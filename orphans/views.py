"""GET /metrics (Prometheus text format), bearer-protected by METRICS_TOKEN."""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from accounts.authentication import bearer_token
from config.http import read_only
from orphans.metrics import scrape_registry


@read_only
def metrics(request):
    expected = settings.METRICS_TOKEN
    if expected and not constant_time_compare(bearer_token(request) or "", expected):
        return JsonResponse({"message": "Unauthorized"}, status=401)
    return HttpResponse(
        generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST
    )
