from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "madoguchi.payments"

    def ready(self) -> None:
        from madoguchi.operations import housekeeping

        from .services import recover_pending, retry_refunds

        housekeeping.register("recover_pending", "recovered {n} payments", recover_pending)
        housekeeping.register("retry_refunds", "resent {n} refunds", retry_refunds)
