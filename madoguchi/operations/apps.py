from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "madoguchi.operations"

    def ready(self) -> None:
        from madoguchi.core.throttle import expire

        from . import housekeeping
        from .queues import requeue_stale_tasks

        housekeeping.register("requeue_stale_tasks", "re-queued {n} tasks of stopped workers", requeue_stale_tasks)
        housekeeping.register("expire_counters", "deleted {n} idle rate-limit counters", expire)
