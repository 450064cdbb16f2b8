from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "madoguchi.payments"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy

        from madoguchi.operations import housekeeping
        from madoguchi.tenancy import credentials

        from .providers import provider_for
        from .services import recover_pending, retry_refunds

        housekeeping.register("recover_pending", "recovered {n} payments", recover_pending)
        housekeeping.register("retry_refunds", "resent {n} refunds", retry_refunds)
        credentials.register("payments", gettext_lazy("オンライン決済"),
                             lambda municipality: list(provider_for(municipality).secret_names))
