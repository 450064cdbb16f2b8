"""Prometheus metrics: request counts and latencies from each process, and the state of the service
read from the database at each scrape (queue depth and age, notices failed or uncertain, payments
pending, reconciliation mismatches open, unknown payment notifications, LINE answers pushed or lost).

With several gunicorn workers set PROMETHEUS_MULTIPROC_DIR (an empty directory per start) so the
request metrics of all workers are summed (deploy/gunicorn.conf.py marks exited workers). Labels are
view names and status classes, never paths, ids or anything typed by a resident.
"""

import os
import time

from django.db.models import Count
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

REQUESTS = Counter("madoguchi_http_requests_total", "HTTP requests answered", ["view", "method", "status"])
LATENCY = Histogram("madoguchi_http_request_duration_seconds", "Time to answer an HTTP request", ["view"],
                    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match else "unmatched"
        LATENCY.labels(view).observe(time.perf_counter() - started)
        REQUESTS.labels(view, request.method if request.method in {"GET", "POST", "HEAD"} else "other",
                        f"{response.status_code // 100}xx").inc()
        return response


class StateCollector:
    """Gauges computed from the database when Prometheus scrapes."""

    def collect(self):
        from madoguchi.core.throttle import tallies
        from madoguchi.notifications.models import Notice, NoticeStatus
        from madoguchi.payments.models import Payment, PaymentStatus, ReconciliationMismatch

        from .queues import backlog

        depth = GaugeMetricFamily("madoguchi_queue_depth", "Tasks ready to run", labels=["queue"])
        age = GaugeMetricFamily("madoguchi_queue_oldest_age_seconds", "Age of the oldest task ready to run",
                                labels=["queue"])
        running = GaugeMetricFamily("madoguchi_queue_running", "Tasks running", labels=["queue"])
        for item in backlog():
            depth.add_metric([item.queue], item.waiting)
            age.add_metric([item.queue], item.oldest_seconds)
            running.add_metric([item.queue], item.running)
        yield from (depth, age, running)

        notices = GaugeMetricFamily("madoguchi_notices", "Notices by status (not yet sent or given up)",
                                    labels=["transport", "status"])
        rows = (Notice.objects.exclude(status=NoticeStatus.SENT).values("transport", "status")
                .annotate(n=Count("id")).order_by())
        for row in rows:
            notices.add_metric([row["transport"], row["status"]], row["n"])
        yield notices

        pending = GaugeMetricFamily("madoguchi_payments_pending", "Payments started and not settled",
                                    labels=["provider"])
        for row in (Payment.objects.filter(status=PaymentStatus.PENDING).values("provider")
                    .annotate(n=Count("id")).order_by()):
            pending.add_metric([row["provider"]], row["n"])
        yield pending

        mismatches = GaugeMetricFamily("madoguchi_reconciliation_mismatches_open",
                                       "Reconciliation differences not repaired", labels=["kind"])
        for row in (ReconciliationMismatch.objects.filter(repaired=False).values("kind")
                    .annotate(n=Count("id")).order_by()):
            mismatches.add_metric([row["kind"]], row["n"])
        yield mismatches

        today = GaugeMetricFamily("madoguchi_events_today", "Events counted without storing them, last 24 h",
                                  labels=["event"])
        for key, count in sorted(tallies().items()):
            today.add_metric([key], count)
        yield today

        up = GaugeMetricFamily("madoguchi_scrape_timestamp_seconds", "When these gauges were read")
        up.add_metric([], timezone.now().timestamp())
        yield up


def exposition() -> bytes:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(StateCollector())
    return generate_latest(registry)
