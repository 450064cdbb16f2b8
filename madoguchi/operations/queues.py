"""The task queues seen from operations: leases for tasks of dead workers, backlog for health and metrics.

django-tasks-db marks a task RUNNING when a worker claims it and has no heartbeat, so a worker killed
mid-task leaves it RUNNING for ever. A task RUNNING longer than its queue's lease
(settings.TASK_QUEUES) is made READY again and run by another worker; every task is idempotent
(LINE events by their processed mark, notices by their claim, refunds by their idempotency key).
With RQ, a job of a dead worker is failed as abandoned once its lease passes (the forking worker's
heartbeat, 60-90 s; the warm worker's renewed lease, operations/rq_worker.py); such jobs are re-queued
the same way, and so are jobs a worker took and died with before it started them.
"""

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


def uses_rq() -> bool:
    from .tasks_backend import RQ_BACKENDS

    return settings.TASKS["default"]["BACKEND"] in RQ_BACKENDS


# A wake-up stays pending this long at most: if the job it enqueued is lost (the process died between
# the two steps), the next wake-up after this enqueues again.
WAKE_TTL = 15


def _wake_key(key: str) -> str:
    return f"madoguchi:waiting:{key}"


def wake(task, key: str, *args) -> None:
    """Enqueue `task(*args)`, with RQ only if no job enqueued for `key` is still waiting.

    For a task that drains a table of work (LINE's inbox): one waiting job serves every wake-up until
    a worker starts it, and the job calls `woken(key)` before it reads the table, so work committed
    before a wake-up that found a job waiting is seen by that job. The check runs after the caller's
    transaction commits (before it, the job could start, clear the key and read the table before the
    caller's rows were visible). Under a burst, jobs are then as many as workers can start, not one per
    delivery, and RQ's bookkeeping (about 60 Redis commands a job) is paid per batch. With the database
    backend the task row commits with the work (nothing can run early) and one is enqueued per call."""
    if not uses_rq():
        task.enqueue(*args)
        return

    def ring() -> None:
        import django_rq

        redis = django_rq.get_connection(task.queue_name)
        if redis.set(_wake_key(key), "1", nx=True, ex=WAKE_TTL):
            try:
                task.enqueue(*args)
            except BaseException:
                redis.delete(_wake_key(key))
                raise

    transaction.on_commit(ring)  # at once when no transaction is open


def woken(task, key: str) -> None:
    """Called by a job of `wake` as it starts, before reading its table: later wake-ups enqueue again."""
    if uses_rq():
        import django_rq

        django_rq.get_connection(task.queue_name).delete(_wake_key(key))


def _uses_db() -> bool:
    return settings.TASKS["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend"


def requeue_stale_tasks() -> int:
    """Give the tasks of dead workers back to their queue; returns how many."""
    if _uses_db():
        from django_tasks.base import TaskResultStatus
        from django_tasks_db.models import DBTaskResult

        now, requeued = timezone.now(), 0
        for queue, lease in settings.TASK_QUEUES.items():
            requeued += DBTaskResult.objects.filter(
                status=TaskResultStatus.RUNNING, queue_name=queue,
                started_at__lt=now - datetime.timedelta(seconds=lease),
            ).update(status=TaskResultStatus.READY, started_at=None, run_after=now)
        if requeued:
            logger.warning("re-queued %s tasks of stopped workers", requeued)
        return requeued
    if uses_rq():
        return _requeue_abandoned_rq_jobs()
    return 0


def _requeue_abandoned_rq_jobs() -> int:
    import django_rq
    from rq.job import JobStatus
    from rq.registry import FailedJobRegistry, StartedJobRegistry

    requeued = 0
    for queue_name in settings.TASK_QUEUES:
        queue = django_rq.get_queue(queue_name)
        started = StartedJobRegistry(queue=queue)
        # A worker killed after taking a job but before marking it started leaves an entry whose job is
        # still `queued` yet on no queue; RQ's clean-up below would drop that entry and the job with it.
        waiting = set(queue.get_job_ids())
        for job_id in set(started.get_expired_job_ids()):
            job = queue.fetch_job(job_id)
            if job is not None and job.get_status() == JobStatus.QUEUED and job_id not in waiting:
                queue.enqueue_job(job)
                requeued += 1
        requeued += _requeue_stuck_in_intermediate(queue, started, waiting)
        started.cleanup()  # moves jobs of dead workers past their lease to failed, as abandoned
        failed = FailedJobRegistry(queue=queue)
        for job_id in failed.get_job_ids():
            job = queue.fetch_job(job_id)
            if job is not None and any(why in (job.exc_info or "") for why in ABANDONED):
                failed.requeue(job_id)
                requeued += 1
    return requeued


# How RQ records a job given up because its worker died (its lease ran out), or taken off the queue
# by a worker that died before starting it.
ABANDONED = ("AbandonedJobError", "stuck in intermediate queue")


def _requeue_stuck_in_intermediate(queue, started, waiting: set[str]) -> int:
    """RQ moves a job it takes to the queue's intermediate list first; a worker killed right then
    leaves it there, in no registry. Such a job seen on two sweeps (over a minute apart, RQ's own
    rule) is put back on its queue."""
    from rq.job import JobStatus

    intermediate, requeued = queue.intermediate_queue, 0
    running = {job_id for job_id, _execution in started.get_job_and_execution_ids(cleanup=False)}
    for job_id in intermediate.get_job_ids():
        if job_id in running or job_id in waiting:
            continue
        job = queue.fetch_job(job_id)
        if job is None:
            intermediate.remove(job_id)
        elif not intermediate.set_first_seen(job_id) and intermediate.should_be_cleaned_up(job_id):
            intermediate.remove(job_id)
            if job.get_status() == JobStatus.QUEUED:
                queue.enqueue_job(job)
                requeued += 1
    return requeued


@dataclass(frozen=True)
class Backlog:
    queue: str
    waiting: int
    oldest_seconds: float  # age of the oldest task ready to run (0 when none)
    running: int


def backlog() -> list[Backlog]:
    """Per queue: tasks waiting, the age of the oldest one ready to run, tasks running."""
    now = timezone.now()
    if _uses_db():
        from django.db.models import Case, Count, F, Min, Q, When
        from django_tasks.base import TaskResultStatus
        from django_tasks_db.models import DBTaskResult, get_date_max

        # A task is due from its run_after, or from when it was enqueued if it had none (date max).
        ready = Q(status=TaskResultStatus.READY) & (Q(run_after=get_date_max()) | Q(run_after__lte=now))
        due = Case(When(run_after=get_date_max(), then=F("enqueued_at")), default=F("run_after"))
        rows = {r["queue_name"]: r for r in DBTaskResult.objects.filter(
            status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING]).values("queue_name").annotate(
            waiting=Count("id", filter=ready), running=Count("id", filter=Q(status=TaskResultStatus.RUNNING)),
            oldest=Min(due, filter=ready)).order_by()}
        empty = {"waiting": 0, "running": 0, "oldest": None}
        return [Backlog(q, rows.get(q, empty)["waiting"],
                        max((now - rows[q]["oldest"]).total_seconds(), 0.0) if rows.get(q, empty)["oldest"] else 0.0,
                        rows.get(q, empty)["running"]) for q in settings.TASK_QUEUES]
    if uses_rq():
        import django_rq
        from rq.registry import StartedJobRegistry

        result = []
        for q in settings.TASK_QUEUES:
            queue = django_rq.get_queue(q)
            ids = queue.get_job_ids(0, 0)
            oldest = 0.0
            if ids:
                job = queue.fetch_job(ids[0])
                if job is not None and job.enqueued_at:
                    oldest = (now - job.enqueued_at.replace(tzinfo=datetime.UTC)).total_seconds()
            result.append(Backlog(q, queue.count, max(oldest, 0.0), StartedJobRegistry(queue=queue).count))
        return result
    return [Backlog(q, 0, 0.0, 0) for q in settings.TASK_QUEUES]
