"""/metrics answers only the scraper holding METRICS_TOKEN, with every series
the dashboards and alerts read."""

import pytest


@pytest.mark.django_db
def test_metrics_need_the_token_when_one_is_set(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"

    anonymous = client.get("/metrics")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    right = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")

    assert anonymous.status_code == wrong.status_code == 401
    assert right.status_code == 200
    body = right.content.decode()
    for series in (
        "orphaned_auth_identities_created_total",
        "orphaned_auth_identities_cleaned_total",
        "orphaned_auth_identities ",
        "signup_attempts_total",
        "signups_paused ",
    ):
        assert series in body
