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


def _on_issuance_stop(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """A 発行停止 placed or lifted by a manager (registry.restriction_pages) enters the audit trail."""
    if raw:
        return
    from . import audit
    from .models import AuditAction

    target = ("registry.issuancestoporder", instance.pk, f"発行停止 {instance.pk}")
    if created:
        audit.record(AuditAction.ISSUANCE_STOP_PLACED, actor=instance.created_by, target=target,
                     resident_id=instance.resident_id,
                     after={"ground": instance.ground, "starts_on": instance.starts_on, "ends_on": instance.ends_on})
    elif instance.lifted_at is not None and instance.lifted_by_id is not None:
        audit.record(AuditAction.ISSUANCE_STOP_LIFTED, actor=instance.lifted_by, target=target,
                     resident_id=instance.resident_id, after={"reason": instance.lift_reason})


class OperationsConfig(AppConfig):
    name = "madoguchi.operations"

    def ready(self) -> None:
        from madoguchi.applications.models import RequestEvent
        from madoguchi.core.throttle import expire
        from madoguchi.registry.restrictions import IssuanceStopOrder

        from . import housekeeping
        from .queues import requeue_stale_tasks
        from .tasks_backend import share_redis_clients

        post_save.connect(_on_request_event, sender=RequestEvent, dispatch_uid="operations.request_event")
        post_save.connect(_on_issuance_stop, sender=IssuanceStopOrder, dispatch_uid="operations.issuance_stop")
        housekeeping.register("requeue_stale_tasks", "re-queued {n} tasks of stopped workers", requeue_stale_tasks)
        housekeeping.register("expire_counters", "deleted {n} idle rate-limit counters", expire)
        share_redis_clients()  # for whenever RQ is selected (settings, or a test switching to it)
