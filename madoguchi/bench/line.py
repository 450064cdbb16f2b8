"""BENCH line_webhook_ack_p99 and line_webhook_ingest: the webhook on a real server process.

A gunicorn process serves the app on 127.0.0.1 with the database task backend, as in production: the
webhook verifies, records and enqueues, and the worker (not running here) would reply. The ack
figure sends one event per request at a fixed 200 events/s for 30 s and measures each request from
its scheduled time (so a stalled server is not hidden) over keep-alive connections, with persistent
database connections as in production; ingest sends batches of 10 events (LINE
batches events per delivery) from 16 connections and counts what was persisted.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from madoguchi.bench import BENCH_DIR, demo

RATE, SECONDS = 200, 30
SENDERS = 16  # concurrent deliveries; a stalled server makes requests wait, which their latency includes
INGEST_REQUESTS, INGEST_BATCH, INGEST_CONCURRENCY = 600, 10, 16
TIMEOUT = 5.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _body(prefix: str, n: int, batch: int, user: str) -> bytes:
    events = [{"type": "message", "webhookEventId": f"{prefix}{n:08d}{i:02d}", "timestamp": 0, "mode": "active",
               "deliveryContext": {"isRedelivery": False}, "replyToken": f"r{n}-{i}",
               "source": {"type": "user", "userId": user}, "message": {"type": "text", "id": "1", "text": "申請"}}
              for i in range(batch)]
    return json.dumps({"destination": "U" + "0" * 32, "events": events}, ensure_ascii=False).encode()


_local = threading.local()


def _post(port: int, path: str, body: bytes, secret: str) -> int:
    """One delivery on this sender thread's keep-alive connection. A connection the server closed
    while idle is reopened and the delivery sent once more (safe: events are deduplicated)."""
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    for _attempt in range(2):
        connection = getattr(_local, "connection", None)
        reused = connection is not None
        if connection is None:
            connection = _local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        try:
            connection.request("POST", path, body,
                               {"Content-Type": "application/json", "X-Line-Signature": signature})
            response = connection.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            connection.close()
            _local.connection = None
            if not reused:
                break
    return 0


def _start_server(port: int) -> subprocess.Popen:
    # Persistent database connections, as a production deployment runs.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "madoguchi.settings", "DB_CONN_MAX_AGE": "600",
           "MADOGUCHI_TASK_BACKEND": "django_tasks_db.DatabaseBackend", "LOG_LEVEL": "ERROR"}
    log = open(Path(BENCH_DIR) / "line-gunicorn.log", "wb")  # noqa: SIM115 (closed with the process)
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "madoguchi.wsgi", "--bind", f"127.0.0.1:{port}",
                               "--workers", "2", "--threads", "4", "--worker-class", "gthread"],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("gunicorn did not start")


def ack_p99(port: int, path: str, secret: str) -> float:
    bodies = [_body("A", n, 1, f"U{n % 500:032d}") for n in range(RATE * SECONDS)]
    latencies: list[float] = []
    lock = threading.Lock()

    def send(body: bytes, scheduled: float) -> None:
        status = _post(port, path, body, secret)
        elapsed = time.perf_counter() - scheduled if status == 200 else TIMEOUT
        with lock:
            latencies.append(elapsed)

    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        # Warm-up on the same sender threads: imports, every server thread's database connection and
        # each sender's keep-alive connection are set up before the clock starts.
        list(pool.map(lambda n: _post(port, path, _body("W", n, 1, "U" + "0" * 32), secret), range(400)))
        start = time.perf_counter() + 0.2
        for n, body in enumerate(bodies):
            scheduled = start + n / RATE
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, body, scheduled)
    latencies.sort()
    return latencies[int(len(latencies) * 0.99) - 1] * 1000


def ingest(port: int, path: str, secret: str, municipality) -> float:
    from madoguchi.line.models import WebhookEvent

    bodies = [_body("I", n, INGEST_BATCH, f"U{n % 500:032d}") for n in range(INGEST_REQUESTS)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=INGEST_CONCURRENCY) as pool:
        statuses = list(pool.map(lambda body: _post(port, path, body, secret), bodies))
    elapsed = time.perf_counter() - started
    persisted = WebhookEvent.objects.filter(municipality=municipality, event_id__startswith="I").count()
    assert statuses.count(200) * INGEST_BATCH == persisted, (statuses.count(200), persisted)
    return persisted / elapsed


def run(report) -> None:
    from django.urls import reverse

    from madoguchi.line.account import credentials
    from madoguchi.line.models import LineAccount

    municipality, _clerk = demo()
    LineAccount.objects.get_or_create(municipality=municipality, defaults=dict(
        channel_id="2000000001", login_channel_id="2000000002", liff_id="2000000002-bench"))
    secret = credentials(municipality.code).channel_secret
    path = reverse("line:webhook", args=[municipality.code])
    port = _free_port()
    server = _start_server(port)
    try:
        report("line_webhook_ack_p99", ack_p99(port, path, secret), "ms")
        report("line_webhook_ingest", ingest(port, path, secret, municipality), "events/s")
    finally:
        server.terminate()
        server.wait(timeout=30)
