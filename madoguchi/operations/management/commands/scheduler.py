"""`manage.py scheduler`: the periodic jobs, in place of cron.

Runs the lease sweep (tasks and notices of stopped workers) every SWEEP seconds, `housekeeping`
every HOUSEKEEPING seconds, enqueues the payment reconciliation of the day before once a day
after RECONCILE_AT and writes the audit trail checkpoint once a day after CHECKPOINT_AT (local time).
Any number of schedulers may run (one per host, for availability):
each job is claimed through a database counter per period, so it runs once per period in total.
"""

import datetime
import io
import signal
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone

from madoguchi.core.throttle import hit
from madoguchi.notifications.tasks import recover_stuck
from madoguchi.operations.queues import requeue_stale_tasks
from madoguchi.payments.tasks import reconcile_yesterday

SWEEP = 15
HOUSEKEEPING = 300
RECONCILE_AT = datetime.time(3, 0)
CHECKPOINT_AT = datetime.time(3, 30)


class Command(BaseCommand):
    help = "Run the periodic jobs (lease sweep, housekeeping, daily reconciliation and audit checkpoint) until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run what is due now and exit")
        parser.add_argument("--tick", type=float, default=1.0)

    def handle(self, *args, once=False, tick=1.0, **options):
        self.running = True
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        while self.running:
            self.run_due()
            if once:
                return
            time.sleep(tick)

    def stop(self, *args):
        self.running = False

    def claim(self, job: str, seconds: int) -> bool:
        return hit(f"scheduler:{job}", 1, datetime.timedelta(seconds=seconds))

    def run_due(self) -> None:
        if self.claim("sweep", SWEEP):
            tasks, notices = requeue_stale_tasks(), recover_stuck()
            if tasks or notices:
                self.stdout.write(f"sweep: {tasks} tasks re-queued, {notices} notices left mid-send recovered")
        if self.claim("housekeeping", HOUSEKEEPING):
            out = io.StringIO()
            call_command("housekeeping", stdout=out)
            self.stdout.write("housekeeping: " + out.getvalue().strip())
        now = timezone.localtime()
        if now.time() >= RECONCILE_AT and self.claim(f"reconcile:{now.date()}", 26 * 3600):
            reconcile_yesterday.enqueue()
            self.stdout.write(f"reconciliation of {now.date() - datetime.timedelta(days=1)} enqueued")
        if now.time() >= CHECKPOINT_AT and self.claim(f"checkpoint:{now.date()}", 26 * 3600):
            out = io.StringIO()
            try:
                call_command("audit", "checkpoint", stdout=out)
            except Exception as exc:  # a TSA outage must not stop the other jobs; the next day retries
                self.stderr.write(f"audit checkpoint failed: {exc}")
            else:
                self.stdout.write("audit checkpoint: " + out.getvalue().strip())
