"""The RQ worker of the latency-sensitive queues (`line`): warm, with a short lease.

RQ's default worker forks a work horse for every job, and the fork plus Django's first queries cost
about 0.1 s (more on a loaded host), which capped two LINE workers at about 9 events per second.
`WarmWorker` runs each job in its own, long-lived process instead (RQ's SimpleWorker), so a job
costs only its own work, and keeps what the forking worker gave:

- a **timeout**: the job is interrupted (SIGALRM, RQ's death penalty) after its queue's lease
  (settings.TASK_QUEUES) and fails like any failed job;
- a **lease** renewed while the job runs: a thread renews the job's entry in RQ's started-job
  registry every LEASE_RENEW seconds for LEASE_TTL seconds. A worker killed mid-job (SIGKILL, the
  host gone) stops renewing, so its job is given up LEASE_TTL seconds later and the scheduler's sweep
  (operations/queues.py) puts it back on its queue. With a short lease a killed LINE job runs again
  while the event's reply token still lives (about a minute), so the answer is retried as a reply,
  which LINE refuses if the first attempt had arrived (a token is used once), instead of a push;
- database connections checked before and after each job, as Django does around a request, so a
  connection the database dropped is not reused and CONN_MAX_AGE applies.

Jobs are not taken along in batches: an attempt that moved waiting jobs to RQ's intermediate list
and ran them after the one taken lost jobs under load (their events waited for housekeeping's
safety net), so each job goes through RQ's own bookkeeping. Batching happens in the task instead:
one LINE drain job handles the events of many deliveries (line/tasks.py, operations.queues.wake).
"""

import threading

from django.db import close_old_connections
from rq.worker import SimpleWorker, WorkerStatus

LEASE_TTL = 15  # seconds a job stays claimed without a renewal
LEASE_RENEW = 5  # seconds between renewals


class WarmWorker(SimpleWorker):
    def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
        return LEASE_TTL

    def execute_job(self, job, queue):
        close_old_connections()
        execution = self.prepare_execution(job)
        done = threading.Event()
        renewer = threading.Thread(target=self._renew_lease, args=(job, execution, done), daemon=True,
                                   name=f"lease-{job.id}")
        renewer.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            done.set()
            renewer.join()
            close_old_connections()
        self.set_state(WorkerStatus.IDLE)

    def _renew_lease(self, job, execution, done: threading.Event) -> None:
        while not done.wait(LEASE_RENEW):
            try:
                self.maintain_heartbeats(job, execution)
            except Exception:  # Redis briefly unreachable: the next renewal tries again
                self.log.warning("lease renewal of job %s failed", job.id, exc_info=True)
