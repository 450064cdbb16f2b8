"""The RQ worker of the latency-sensitive queues (`line`): warm, with a short lease, taking waiting
jobs along when a backlog builds.

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

**Taking jobs along.** RQ's own bookkeeping of a job (taking it, registries, heartbeats, result,
django-tasks' callbacks: some twenty Redis round trips) costs as much CPU as answering a LINE event.
When jobs of a function in TAKE_ALONG wait behind the one this worker took, it takes up to
TAKE_ALONG_MAX more of them at once (never more than half of those waiting, so other workers get
their share) and runs them right after it, each with its own timeout, recording each as finished.
A taken job waits in RQ's intermediate list meanwhile, where the sweep finds it if this worker dies
(operations/queues.py); one that fails goes back to its queue and runs on its own with RQ's usual
failure handling. Jobs taken along do not send django-tasks' started/finished signals (nothing in
Madoguchi listens to them).
"""

import threading

from django.db import close_old_connections
from rq.job import JobStatus
from rq.timeouts import JobTimeoutException
from rq.worker import SimpleWorker, WorkerStatus

LEASE_TTL = 15  # seconds a job stays claimed without a renewal
LEASE_RENEW = 5  # seconds between renewals
# Functions whose jobs are short and many; each is idempotent and independent of the others.
TAKE_ALONG = {"madoguchi.line.tasks.process_events"}
TAKE_ALONG_MAX = 9


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
            taken = self._take_along(job, queue)
            self.perform_job(job, queue, execution)
            for other in taken:
                self._perform_taken(other, queue)
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

    # --- taking jobs along ------------------------------------------------------------------------

    def _take_along(self, job, queue) -> list:
        """Move up to TAKE_ALONG_MAX waiting jobs of the same function from the head of the queue to
        its intermediate list (as RQ does when it takes one), and return them. A job of another
        function met at the head goes back where it was."""
        if job.func_name not in TAKE_ALONG:
            return []
        want = min(TAKE_ALONG_MAX, queue.count // 2)
        connection, intermediate = queue.connection, queue.intermediate_queue_key
        taken = []
        while len(taken) < want:
            raw = connection.lmove(queue.key, intermediate, "LEFT", "RIGHT")
            if raw is None:
                break
            job_id = raw.decode() if isinstance(raw, bytes) else raw
            other = queue.fetch_job(job_id)
            if other is None:  # deleted while waiting
                connection.lrem(intermediate, 1, job_id)
                continue
            if other.func_name != job.func_name or other.get_status() != JobStatus.QUEUED:
                with connection.pipeline() as pipe:
                    pipe.lrem(intermediate, 1, job_id)
                    pipe.lpush(queue.key, job_id)
                    pipe.execute()
                break
            taken.append(other)
        return taken

    def _perform_taken(self, job, queue) -> None:
        connection, intermediate = queue.connection, queue.intermediate_queue_key
        try:
            with self.death_penalty_class(job.timeout or queue.DEFAULT_TIMEOUT, JobTimeoutException, job_id=job.id):
                task = job.func  # a django-tasks Task (django_tasks_rq's Job checks it is one)
                task.call(*job.args, **job.kwargs)
        except Exception:
            self.log.warning("job %s taken along failed; back to its queue", job.id, exc_info=True)
            with connection.pipeline() as pipe:
                pipe.lrem(intermediate, 1, job.id)
                pipe.lpush(queue.key, job.id)
                pipe.execute()
            return
        ttl = job.get_result_ttl(self.default_result_ttl)
        with connection.pipeline() as pipe:
            job.set_status(JobStatus.FINISHED, pipeline=pipe)
            if ttl != 0:
                queue.finished_job_registry.add(job, ttl, pipeline=pipe)
            job.cleanup(ttl, pipeline=pipe, remove_from_queue=False)
            pipe.lrem(intermediate, 1, job.id)
            pipe.execute()
