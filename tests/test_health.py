"""/healthz, /readyz and /metrics for load balancers and monitoring; JSON logs with a request id."""

import datetime
import io
import json
import logging

import pytest
from django.test import Client
from django.utils import timezone

from madoguchi.core.logs import JsonFormatter

from .flow import post_notification, received

pytestmark = pytest.mark.django_db(transaction=True)
DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend",
                          "QUEUES": ["line", "notices", "providers", "bulk", "default"]}}


def test_healthz_answers_without_the_database(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert response.status_code == 200 and response.content == b"ok"
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_ready_with_an_answering_database_and_short_queues(settings):
    settings.TASKS = DB_BACKEND
    response = Client().get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["checks"]["database"]["state"] == "ok"
    assert set(body["checks"]["queues"]["queues"]) == {"line", "notices", "providers", "bulk", "default"}


def test_readyz_fails_when_a_queue_is_far_behind(settings, municipality, resident):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = DB_BACKEND
    received(municipality, resident)  # its notice task waits in the notices queue: no worker runs here
    assert Client().get("/readyz").status_code == 200
    DBTaskResult.objects.filter(queue_name="notices").update(
        enqueued_at=timezone.now() - datetime.timedelta(minutes=10))
    response = Client().get("/readyz")
    assert response.status_code == 503
    notices = response.json()["checks"]["queues"]["queues"]["notices"]
    assert notices["state"] == "fail" and notices["waiting"] == 1 and notices["oldest_seconds"] >= 600


def test_readyz_warns_when_revocation_data_is_stale(municipality):
    from madoguchi.identity.contrib.sandbox.card import ensure_authority
    from madoguchi.identity.models import RevocationList

    ensure_authority()
    RevocationList.objects.update(next_update=timezone.now() - datetime.timedelta(hours=1))
    response = Client().get("/readyz")
    assert response.status_code == 200 and response.json()["status"] == "warn"
    assert response.json()["checks"]["revocation_data"]["stale_anchors"] >= 1


def test_readyz_warns_when_a_replica_is_older_than_its_limit(municipality, other_municipality):
    from madoguchi.registry.models import ReplicaState

    now = timezone.now()
    ReplicaState.objects.create(municipality=municipality, data_as_of=now - datetime.timedelta(hours=2))
    fresh = Client().get("/readyz").json()["checks"]["replica"]
    assert fresh == {"state": "ok", "stale_municipalities": 0}
    ReplicaState.objects.create(municipality=other_municipality, data_as_of=now - datetime.timedelta(hours=30),
                                max_age_hours=26)
    response = Client().get("/readyz")
    assert response.status_code == 200 and response.json()["status"] == "warn"
    assert response.json()["checks"]["replica"] == {"state": "warn", "stale_municipalities": 1}


def test_metrics_need_the_token_or_an_allowed_network(settings, municipality, resident):
    settings.METRICS_TOKEN, settings.METRICS_NETWORKS = "s3cret-token-for-prometheus", "10.9.0.0/16"
    settings.TASKS = DB_BACKEND
    request = received(municipality, resident)
    assert Client().get("/metrics").status_code == 404
    assert Client().get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    by_token = Client().get("/metrics", headers={"Authorization": "Bearer s3cret-token-for-prometheus"})
    assert by_token.status_code == 200
    by_network = Client(REMOTE_ADDR="10.9.1.2").get("/metrics")
    assert by_network.status_code == 200
    text = by_token.content.decode()
    assert 'madoguchi_queue_depth{queue="notices"} 1.0' in text
    assert 'madoguchi_notices{status="pending",transport="email"} 1.0' in text
    assert 'madoguchi_http_requests_total{method="GET",status="4xx",view="metrics"}' in text
    assert "madoguchi_http_request_duration_seconds_bucket" in text
    # Labels name views, never paths, ids or personal data.
    assert str(request.public_id) not in text and resident.name not in text and "/m/" not in text


def test_log_lines_are_json_with_the_request_id_and_no_body(caplog):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("madoguchi.payments.views")
    logger.addHandler(handler)
    try:
        body = b'{"event_id": "evt", "order_id": "\xe5\xb1\xb1\xe7\x94\xb0"}'
        response = post_notification(body, signature="t=1,v1=" + "0" * 64)
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 400
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["request_id"] == response["X-Request-ID"] and line["level"] == "WARNING"
    assert "山田" not in stream.getvalue()


def test_request_id_is_taken_from_the_trusted_proxy_only(settings):
    settings.TRUSTED_PROXIES = "10.0.0.0/8"
    proxied = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_REQUEST_ID="lb-0123456789abcdef").get("/healthz")
    assert proxied["X-Request-ID"] == "lb-0123456789abcdef"
    direct = Client(REMOTE_ADDR="203.0.113.5", HTTP_X_REQUEST_ID="chosen-by-client-123").get("/healthz")
    assert direct["X-Request-ID"] != "chosen-by-client-123" and len(direct["X-Request-ID"]) == 32
