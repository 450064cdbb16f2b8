"""Provider endpoints: the signed server-to-server notification and the resident's return.

Both settle through `ledger.capture`, which publishes `payment_captured` for the workflow; the
return then sends the resident to the channel's page stored on the payment, whatever the channel.
"""

import logging

from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from madoguchi.core.throttle import tally

from . import ledger
from .models import Payment, PaymentStatus, ProviderNotification
from .providers import InvalidNotification, ProviderUnavailable, get_provider
from .services import settle_from_status

logger = logging.getLogger(__name__)
CAPTURE_EVIDENCE = {"captured", "partially_refunded", "refunded"}


@csrf_exempt  # authenticated by the provider's signature instead
@require_POST
def notify(http_request, provider_name):
    try:
        provider = get_provider(provider_name)
    except (ImportError, KeyError, ImproperlyConfigured):
        return HttpResponse(status=404)
    headers = {k: v for k, v in http_request.headers.items()}
    try:
        event = provider.parse_notification(http_request.body, headers)
    except ProviderUnavailable as exc:
        # Verifying needs the provider's API and it did not answer: the provider retries later.
        logger.warning("%s notification not verified yet: %s", provider_name, exc)
        return HttpResponse("retry later", status=503)
    except InvalidNotification as exc:
        logger.warning("rejected %s notification: %s", provider_name, exc)
        return HttpResponseBadRequest("invalid notification")
    # Recording the event and acting on it commit together: if processing fails, the provider's
    # retry of the same event is processed again instead of being taken for a duplicate.
    # The notification is filed under the municipality of the payment it names (docs/scale.md).
    municipality_id = (Payment.objects.by_order_id(event.order_id).filter(provider=provider.name)
                       .values_list("municipality_id", flat=True).first())
    if municipality_id is None:
        # Anyone can post a notification naming an order we never made: counted for the metrics,
        # never stored, so such a flood cannot fill the table.
        tally(f"payments:unknown_notification:{provider.name}")
        return HttpResponse(provider.acknowledgement)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = ProviderNotification.objects.create(
                    municipality_id=municipality_id, provider=provider.name, event_id=event.event_id,
                    payload=event.__dict__)
        except IntegrityError:
            # A replay: acknowledged, nothing done twice.
            return HttpResponse(provider.duplicate_acknowledgement)
        record.outcome = "ignored"
        # A refund notice overtaking its capture notice still proves the capture; the refund itself
        # is only ever recorded from our own Refund rows (reconciliation lists the other cases).
        if event.status in CAPTURE_EVIDENCE:
            try:
                payment = ledger.capture(event.order_id, provider_payment_id=event.provider_payment_id,
                                         amount=event.amount, source="notification")
                record.outcome = "captured" if payment else "unknown_order"
            except ledger.AmountMismatch as exc:
                logger.error("notification %s refused: %s", event.event_id, exc)
                record.outcome = "amount_mismatch"
        record.save(update_fields=["outcome"])
    return HttpResponse(provider.acknowledgement)


@require_GET
def provider_return(http_request, provider_name):
    """The resident comes back from the provider. We never trust the parameters for the result:
    we verify their signature, then ask the provider for the payment's status."""
    try:
        provider = get_provider(provider_name)
        order_id = provider.verify_return(http_request.GET)
    except (ImportError, KeyError, ImproperlyConfigured, InvalidNotification):
        return render(http_request, "web/error.html", {"message": _(
            "お支払いの結果を確認できませんでした。"
            "お手数ですが、申請の状況確認のページでご確認ください。")}, status=400)
    payment = Payment.objects.select_related("request__municipality").by_order_id(order_id).filter(
        provider=provider.name).first()
    if payment is None:
        return render(http_request, "web/error.html", {"message": _("お支払いの情報が見つかりませんでした。")},
                      status=404)
    if payment.status == PaymentStatus.PENDING:
        try:
            settle_from_status(payment, provider.query(payment), "return")
        except ProviderUnavailable:
            # The done page shows 支払待ち; the notification or recover_pending settles it later.
            logger.warning("status query for %s timed out on return", order_id)
    if not payment.return_url:
        # An attempt made before return URLs were stored: no channel page to go back to.
        return render(http_request, "web/error.html", {"message": _(
            "お支払いの手続きが終わりました。申請の状況確認のページでご確認ください。")})
    return redirect(payment.return_url)
