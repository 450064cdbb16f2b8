from django.apps import AppConfig


class LineConfig(AppConfig):
    name = "madoguchi.line"
    label = "line"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save
        from django.utils.translation import gettext_lazy

        from madoguchi.notifications import transports
        from madoguchi.operations import housekeeping
        from madoguchi.tenancy import credentials

        from . import kpi  # noqa: F401 (registers the LINE figures of the KPI dashboard)
        from .account import check_connection, forget_accounts
        from .models import LineAccount
        from .notify import LINE_TRANSPORT
        from .tasks import process_stale, purge_events

        post_save.connect(forget_accounts, sender=LineAccount, dispatch_uid="line-forget-accounts")
        post_delete.connect(forget_accounts, sender=LineAccount, dispatch_uid="line-forget-accounts-deleted")
        transports.register(LINE_TRANSPORT)
        housekeeping.register("line_stale_events", "handled {n} LINE events", process_stale)
        housekeeping.register("line_purge_events", "deleted {n} LINE events past their retention", purge_events)
        credentials.register("line", gettext_lazy("LINE公式アカウント"),
                             lambda municipality: ["LINE_CHANNEL_SECRET", "LINE_ACCESS_TOKEN"], test=check_connection)
