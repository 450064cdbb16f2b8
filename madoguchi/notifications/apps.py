from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "madoguchi.notifications"

    def ready(self) -> None:
        from madoguchi.operations import housekeeping

        from .tasks import deliver_due

        housekeeping.register("deliver_due", "sent {n} notices", deliver_due)
