from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "madoguchi.identity"

    def ready(self) -> None:
        from madoguchi.operations import housekeeping

        from .tasks import refresh_revocation_data

        def enqueue_crl_refresh() -> None:
            # Enqueued, not run here: fetching CRLs talks to the outside.
            refresh_revocation_data.enqueue()

        housekeeping.register("refresh_revocation_data", "", enqueue_crl_refresh)
