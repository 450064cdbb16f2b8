from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "madoguchi.applications"

    def ready(self) -> None:
        # The workflow acts on what the serving apps report; they never import the actions.
        from madoguchi.identity.events import signature_returned
        from madoguchi.operations import housekeeping
        from madoguchi.payments.events import payment_captured, refund_confirmed
        from madoguchi.payments.models import Payment
        from madoguchi.registry.imports.loader import replica_changed

        from .actions import expiry, payment, refunds, replica, signing

        payment_captured.connect(payment.on_payment_captured, sender=Payment, dispatch_uid="workflow.captured")
        refund_confirmed.connect(refunds.on_refund_confirmed, sender=Payment, dispatch_uid="workflow.refunded")
        signature_returned.connect(signing.on_signature_returned, dispatch_uid="workflow.signature")
        housekeeping.register("expire_abandoned", "expired {n} requests", expiry.expire_abandoned)
        replica_changed.connect(replica.flag_replica_changes, dispatch_uid="workflow.replica_changed")
