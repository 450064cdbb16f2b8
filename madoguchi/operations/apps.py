from django.apps import AppConfig
from django.db.models.signals import post_save


def _on_request_event(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """Every request event, in the transaction that writes it: the statistics count it, and the
    issuance history records who a certificate names when its content is fixed (approval)."""
    if not created or raw:
        return
    from madoguchi.applications.models import EventKind

    from . import disclosure, stats

    stats.on_request_event(instance)
    if instance.kind == EventKind.APPROVED:
        disclosure.record_subjects(instance.request)


class OperationsConfig(AppConfig):
    name = "madoguchi.operations"

    def ready(self) -> None:
        from madoguchi.applications.models import RequestEvent
        from madoguchi.core.throttle import expire

        from . import housekeeping
        from .queues import requeue_stale_tasks

        post_save.connect(_on_request_event, sender=RequestEvent, dispatch_uid="operations.request_event")
        housekeeping.register("requeue_stale_tasks", "re-queued {n} tasks of stopped workers", requeue_stale_tasks)
        housekeeping.register("expire_counters", "deleted {n} idle rate-limit counters", expire)
