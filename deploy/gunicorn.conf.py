"""gunicorn settings for production (docs/operations.md): `gunicorn -c deploy/gunicorn.conf.py madoguchi.wsgi`.

Values come from the environment so one file serves every host.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
max_requests = 5000  # recycle workers now and then; jitter avoids all restarting together
max_requests_jitter = 500
accesslog = "-"
# No query strings in the access log: a provider's return URL carries order ids and signatures.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms rid=%({x-request-id}o)s'
# Forwarded headers are judged by the application (MADOGUCHI_TRUSTED_PROXIES), not by gunicorn.
forwarded_allow_ips = "127.0.0.1"


def child_exit(server, worker):
    # Multi-process Prometheus metrics: forget the gauges of a worker that exited.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
