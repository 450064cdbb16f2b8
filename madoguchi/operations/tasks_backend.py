"""The Redis task backend: django-tasks-rq, with a job enqueued inside a transaction pushed to Redis
only when that transaction commits.

A warm worker (operations/rq_worker.py) takes a job within milliseconds. Pushed before the commit, a
job could run before the rows it is about are visible — the webhook records LINE's events and
enqueues their task in one transaction — find nothing and end, and the events would wait for
housekeeping's safety net. (The database backend needs none of this: its task row commits together
with those rows. If the process dies between the commit and the push, the rows are there without a
job; the lease sweep and housekeeping handle them, as for a job lost with its worker.)
"""

import threading

from django.db import transaction
from django_tasks.base import TaskResult, TaskResultStatus
from django_tasks_rq import RQBackend as LibraryRQBackend

# Both names select Redis (settings.TASKS); this one is what MADOGUCHI_TASK_BACKEND=rq means.
RQ_BACKENDS = {"django_tasks_rq.RQBackend", "madoguchi.operations.tasks_backend.RQBackend"}


class RQBackend(LibraryRQBackend):
    def enqueue(self, task, args, kwargs):
        if not transaction.get_connection().in_atomic_block:
            return super().enqueue(task, args, kwargs)
        self.validate_task(task)
        # What the caller gets now: READY, its id and enqueue time filled in when the job is pushed.
        pending = TaskResult(task=task, id="", status=TaskResultStatus.READY, enqueued_at=None, started_at=None,
                             finished_at=None, last_attempted_at=None, args=list(args), kwargs=dict(kwargs),
                             backend=self.alias, errors=[], worker_ids=[])

        def push():
            pushed = super(RQBackend, self).enqueue(task, args, kwargs)
            for name in ("id", "enqueued_at"):
                object.__setattr__(pending, name, getattr(pushed, name))

        transaction.on_commit(push)
        return pending


def share_redis_clients() -> None:
    """Give django-rq one Redis client per queue and process instead of a new one per call.

    django-rq builds a new client, with its own connection pool, on every `get_queue()`: each enqueue
    at the webhook and each job's result (django-tasks-rq reads it when the job starts and ends) opened
    a new TCP connection with its handshake, about a fifth of the webhook's time at 100 LINE events/s.
    redis-py's client is thread-safe and its pool resets itself in a forked child (RQ's work horse), so
    one client per queue serves the whole process. Called from the operations app's ready()."""
    import django_rq
    import django_rq.queues

    if getattr(django_rq.queues.get_connection, "shared", False):
        return
    build = django_rq.queues.get_connection
    clients: dict[tuple[str, bool], object] = {}
    lock = threading.Lock()

    def shared(name: str = "default", use_strict_redis: bool = False):
        key = (name, use_strict_redis)
        with lock:
            if key not in clients:
                clients[key] = build(name, use_strict_redis)
            return clients[key]

    shared.shared = True
    django_rq.queues.get_connection = shared
    django_rq.get_connection = shared
