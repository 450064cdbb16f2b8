"""The Redis task backend: django-tasks-rq, with a job enqueued inside a transaction pushed to Redis
only when that transaction commits.

A warm worker (operations/rq_worker.py) takes a job within milliseconds. Pushed before the commit, a
job could run before the rows it is about are visible — the webhook records LINE's events and
enqueues their task in one transaction — find nothing and end, and the events would wait for
housekeeping's safety net. (The database backend needs none of this: its task row commits together
with those rows. If the process dies between the commit and the push, the rows are there without a
job; the lease sweep and housekeeping handle them, as for a job lost with its worker.)
"""

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
