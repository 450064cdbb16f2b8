"""`manage.py workers`: several workers per queue, each its own process, restarted when it dies.

    manage.py workers --line 4 --notices 1 --providers 1 --bulk 1 --default 1

Each child is `db_worker --queue-name <queue>` with the database backend, or `rqworker <queue>` with
RQ; with RQ the queues in WARM_QUEUES (`line`) run `WarmWorker` (operations/rq_worker.py: no fork
per job, a short lease renewed while the job runs), the others RQ's forking worker. A child that
exits or is killed is started again after a second; SIGTERM stops them all. One `workers` per host;
run more hosts for more capacity (queues are shared through the database or Redis).
"""

import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from madoguchi.operations.queues import uses_rq

# Four line workers: a warm line worker spends about half its time waiting for the database and
# LINE; on two cores at 100 LINE events/s four kept up best (docs/operations.md, Measured).
DEFAULT_COUNTS = {"line": 4, "notices": 1, "providers": 1, "bulk": 1, "default": 1}
# Queues whose jobs are many and short (a LINE answer is due within seconds): a warm process runs them.
# The others keep RQ's work horse per job, which isolates the memory of long jobs (PDFs, CRLs).
WARM_QUEUES = {"line"}
WARM_WORKER = "madoguchi.operations.rq_worker.WarmWorker"


class Command(BaseCommand):
    help = "Start and supervise task workers per queue."

    def add_arguments(self, parser):
        for queue, count in DEFAULT_COUNTS.items():
            parser.add_argument(f"--{queue}", type=int, default=count, help=f"workers for the {queue} queue")
        parser.add_argument("--interval", type=float, default=0.2, help="poll interval (database backend)")

    def command(self, queue: str, index: int, interval: float) -> list[str]:
        manage = [sys.executable, os.path.join(settings.BASE_DIR, "manage.py")]
        if uses_rq():
            warm = ["--worker-class", WARM_WORKER] if queue in WARM_QUEUES else []
            return [*manage, "rqworker", *warm, queue]
        worker_id = f"{socket.gethostname()}-{os.getpid()}-{queue}-{index}"[:64]
        return [*manage, "db_worker", "--queue-name", queue, "--interval", str(interval), "--worker-id", worker_id]

    def handle(self, *args, interval=0.2, **options):
        plan = [(queue, i) for queue in DEFAULT_COUNTS for i in range(options[queue])]
        children: dict[tuple[str, int], subprocess.Popen] = {}
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while not stopping:
            for slot in plan:
                child = children.get(slot)
                if child is None or child.poll() is not None:
                    if child is not None:
                        self.stderr.write(f"worker {slot[0]}#{slot[1]} exited with {child.returncode}; restarting")
                    children[slot] = subprocess.Popen(self.command(*slot, interval))
            time.sleep(1)
        for child in children.values():
            child.terminate()
        for child in children.values():
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
