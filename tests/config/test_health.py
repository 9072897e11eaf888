"""GET /health: plain OK for load balancers, details for operators; other
methods are a JSON 405, as on every route."""

import pytest

pytestmark = pytest.mark.django_db


def test_health_is_ok_text(client):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.content == b"OK"


def test_health_details_report_redis(client):
    response = client.get("/health", HTTP_ACCEPT="application/json")

    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


@pytest.mark.parametrize("path", ["/health", "/metrics"])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "trace"])
def test_health_and_metrics_answer_other_methods_405_json(client, path, method):
    # Was 200 for any method (and 403, the CSRF page, for unsafe ones).
    response = getattr(client, method)(path)

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json()["type"] == "not_allowed"


@pytest.mark.parametrize("path", ["/health", "/metrics"])
def test_health_and_metrics_answer_head(client, path):
    assert client.head(path).status_code == 200
