"""What payments tells the workflow, as typed events (Django signals behind typed functions).

`payments` never imports the workflow: it publishes these in the transaction that changed the
Payment or Refund row, and the workflow (`applications`) subscribes in `AppConfig.ready()`. A
subscriber runs in the same transaction, so the money and the request's state commit together, and
an exception in it undoes both.
"""

from django.core.exceptions import ImproperlyConfigured
from django.dispatch import Signal

from .models import Payment, Refund

# Sent with payment=Payment, source=str (notification, return, query, reconciliation).
payment_captured = Signal()
# Sent with refund=Refund, payment=Payment (both already updated).
refund_confirmed = Signal()


def _send(signal: Signal, name: str, **kwargs) -> None:
    # A capture or refund nobody acts on would leave a paid request without 受付: refuse loudly.
    if not signal.has_listeners(Payment):
        raise ImproperlyConfigured(f"nothing subscribes to payments.events.{name}")
    signal.send(sender=Payment, **kwargs)


def publish_payment_captured(payment: Payment, *, source: str) -> None:
    """The provider took the money for `payment` (once per payment)."""
    _send(payment_captured, "payment_captured", payment=payment, source=source)


def publish_refund_confirmed(refund: Refund, payment: Payment) -> None:
    """The provider confirmed `refund` (once per refund)."""
    _send(refund_confirmed, "refund_confirmed", refund=refund, payment=payment)
