from django.apps import AppConfig


class LineConfig(AppConfig):
    name = "madoguchi.line"
    label = "line"

    def ready(self) -> None:
        from madoguchi.notifications import transports
        from madoguchi.operations import housekeeping

        from . import kpi  # noqa: F401 (registers the LINE figures of the KPI dashboard)
        from .notify import LINE_TRANSPORT
        from .tasks import process_stale, purge_events

        transports.register(LINE_TRANSPORT)
        housekeeping.register("line_stale_events", "handled {n} LINE events", process_stale)
        housekeeping.register("line_purge_events", "deleted {n} LINE events past their retention", purge_events)
