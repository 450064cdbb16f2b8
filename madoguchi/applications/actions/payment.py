"""Paying: the attempt at the provider, and 受付 when the provider reports the money taken."""

from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.catalog import calendar
from madoguchi.payments import checkout, ledger
from madoguchi.payments.models import Payment
from madoguchi.payments.providers import ProviderRefused, ProviderUnavailable, provider_for

from .. import events, reception
from ..models import CertificateRequest, State
from ._base import ActionError, _locked, _transition

# Draws of a reception number before giving up (a second collision in a row means a bug, not chance).
RECEPTION_NUMBER_ATTEMPTS = 3


def start_payment(request: CertificateRequest, return_url: str) -> str:
    """Create (or reuse) the pending payment and return the provider's page for the resident.
    `return_url` is the channel's page the resident lands on after the provider's page."""

    def attempt(request: CertificateRequest, provider: str) -> Payment:
        if request.state == State.SIGNED:
            _transition(request, events.payment_started(request, provider=provider))
        elif request.state != State.AWAITING_PAYMENT:
            raise ActionError(_("この申請はお支払いの段階ではありません。"))
        return ledger.create_attempt(request, provider, return_url)

    return open_checkout(request, attempt)


def open_checkout(request: CertificateRequest, attempt: Callable[[CertificateRequest, str], Payment]) -> str:
    """The provider's page for the attempt `attempt` makes (with the request row locked).

    The order id is the idempotency key of the create call: a retry after a timeout finds the same
    checkout. A provider that refuses the attempt (e.g. PayPay's duplicate order after a lost
    answer) gets it marked failed, and one fresh attempt is made."""
    provider = provider_for(request.municipality)
    for _attempt in range(2):
        with transaction.atomic():
            payment = attempt(_locked(request), provider.name)
        if payment.checkout_url:
            return payment.checkout_url
        try:
            return checkout.open_checkout(payment)
        except ProviderUnavailable:
            raise ActionError(_("決済サービスに接続できませんでした。"
                                "しばらくしてからもう一度お試しください。")) from None
        except ProviderRefused:
            ledger.mark_failed(payment)
    raise ActionError(_("お支払いを開始できませんでした。"
                        "時間をおいてもう一度お試しいただくか、市民課にお問い合わせください。"))


def on_payment_captured(sender, *, payment: Payment, source: str, **kwargs) -> None:
    """Subscriber of `payments.events.payment_captured`, in the ledger's transaction: 受付 with a
    reception number, or the money back if the request expired or was cancelled meanwhile."""
    request = _locked(CertificateRequest(pk=payment.request_id))
    if payment.sequence:
        from .correction import on_difference_captured

        on_difference_captured(request, payment)
        return
    if request.state != State.AWAITING_PAYMENT:
        # Paid after the request expired or was cancelled: give the money back.
        ledger.refund_rest(payment, f"paid while {request.state}")
        return
    request.received_at = payment.captured_at
    request.expected_ship_date = calendar.add_business_days(
        timezone.localdate(), request.municipality.processing_days, request.municipality.closed_dates)
    # The unique constraint catches the (one in 10^14) number already taken: the savepoint undoes
    # that attempt's history and notice, and a new number is drawn. No lookup before each insert.
    for attempt in range(RECEPTION_NUMBER_ATTEMPTS):
        request.reception_number = reception.generate()
        try:
            with transaction.atomic():
                _transition(request, events.received(request, order_id=payment.order_id, source=source,
                                                     reception_number=request.reception_number),
                            fields=("received_at", "expected_ship_date", "reception_number"))
            break
        except IntegrityError:
            request.state = State.AWAITING_PAYMENT
            if attempt == RECEPTION_NUMBER_ATTEMPTS - 1:
                raise
