from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "madoguchi.applications"

    def ready(self) -> None:
        # The workflow acts on what the serving apps report; they never import the actions.
        from madoguchi.identity.events import signature_returned
        from madoguchi.operations import housekeeping
        from madoguchi.payments.events import payment_captured, refund_confirmed
        from madoguchi.payments.models import Payment

        from .actions import completion, correction, expiry, payment, refunds, resigning, signing

        payment_captured.connect(payment.on_payment_captured, sender=Payment, dispatch_uid="workflow.captured")
        refund_confirmed.connect(refunds.on_refund_confirmed, sender=Payment, dispatch_uid="workflow.refunded")
        signature_returned.connect(signing.on_signature_returned, dispatch_uid="workflow.signature")
        signature_returned.connect(resigning.on_signature_returned, dispatch_uid="workflow.resignature")
        housekeeping.register("expire_abandoned", "expired {n} requests", expiry.expire_abandoned)
        housekeeping.register("complete_delivered", "completed {n} mailed requests", completion.complete_delivered)
        housekeeping.register("lapse_corrections", "cancelled {n} requests past their correction deadline",
                              correction.lapse_overdue)
