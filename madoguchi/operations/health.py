"""Probes for load balancers and the metrics endpoint.

/healthz: the process answers (no database), for restarting a hung process.
/readyz: whether this instance should get traffic. `fail` (HTTP 503) when the database does not
answer or a queue's oldest waiting task is older than READY_MAX_QUEUE_AGE (workers are down or far
behind: residents would wait for replies and notices); `warn` (HTTP 200) when JPKI revocation data
is stale (signatures are refused, everything else works), or when a municipality's replica is older
than its own limit (副本の更新日時, registry.replica.freshness: certificates would be issued from data
that may be out of date). The answer holds check names, states and counts only.
"""

import datetime
import hmac

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from madoguchi.core.http import client_ip, in_networks, parse_address, parse_networks

from .metrics import exposition
from .queues import backlog


@never_cache
@require_GET
def healthz(http_request):
    return HttpResponse("ok", content_type="text/plain")


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means not ready
        return {"state": "fail", "error": exc.__class__.__name__}
    return {"state": "ok"}


def _queues() -> dict:
    queues, state = {}, "ok"
    for item in backlog():
        limit = settings.READY_MAX_QUEUE_AGE.get(item.queue, 900)
        late = item.oldest_seconds > limit
        state = "fail" if late else state
        queues[item.queue] = {"waiting": item.waiting, "oldest_seconds": round(item.oldest_seconds, 1),
                              "running": item.running, "state": "fail" if late else "ok"}
    return {"state": state, "queues": queues}


def _revocation() -> dict:
    from madoguchi.identity.trust import stale_anchors

    stale = stale_anchors()
    return {"state": "warn" if stale else "ok", "stale_anchors": len(stale)}


def _replicas() -> dict:
    from madoguchi.registry.models import ReplicaState

    now = timezone.now()
    stale = sum(1 for data_as_of, hours in ReplicaState.objects.filter(data_as_of__isnull=False)
                .values_list("data_as_of", "max_age_hours") if now - data_as_of > datetime.timedelta(hours=hours))
    return {"state": "warn" if stale else "ok", "stale_municipalities": stale}


@never_cache
@require_GET
def readyz(http_request):
    checks = {"database": _database()}
    if checks["database"]["state"] == "ok":
        checks["queues"] = _queues()
        checks["revocation_data"] = _revocation()
        checks["replica"] = _replicas()
    states = {check["state"] for check in checks.values()}
    status = "fail" if "fail" in states else "warn" if "warn" in states else "ok"
    return JsonResponse({"status": status, "checks": checks}, status=503 if status == "fail" else 200)


def _metrics_allowed(http_request) -> bool:
    token = settings.METRICS_TOKEN
    given = http_request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    networks = parse_networks(settings.METRICS_NETWORKS)
    return bool(networks) and in_networks(parse_address(client_ip(http_request)), networks)


@never_cache
@require_GET
def metrics(http_request):
    if not _metrics_allowed(http_request):
        return HttpResponse(status=404)  # not announced to whoever may not read it
    return HttpResponse(exposition(), content_type="text/plain; version=0.0.4; charset=utf-8")
