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

    def ready(self):
        from madoguchi.applications.models import RequestEvent

        post_save.connect(_on_request_event, sender=RequestEvent, dispatch_uid="operations.request_event")
