from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "madoguchi.notifications"

    def ready(self) -> None:
        from madoguchi.operations import housekeeping

        from .tasks import deliver_due, recover_stuck

        # Before delivering: notices a stopped worker left mid-send go back to the queue (or to staff).
        housekeeping.register("recover_stuck_notices", "recovered {n} notices left mid-send", recover_stuck)
        housekeeping.register("deliver_due", "sent {n} notices", deliver_due)
