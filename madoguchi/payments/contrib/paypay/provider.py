"""PayPay web payment (PayPay Open Payment API, dynamic QR code with a redirect back to us),
called through the official `paypayopa` SDK.

Sequence (docs/payments.md draws it):
1. create_checkout: POST /v2/codes {merchantPaymentId = our order id, amount, codeType ORDER_QR,
   redirectType WEB_LINK, redirectUrl = our return URL carrying the order id and our own HMAC};
   the resident is sent to the `url` of the answer (PayPay's page, or the app on a phone).
2. PayPay sends the resident back to redirectUrl (PayPay adds no result to it) and POSTs its
   transaction webhook. The webhook is not signed, so its content is never trusted: it only tells us
   which order to ask about, and GET /v2/codes/payments/{merchantPaymentId} decides.
3. refund: merchantRefundId = our Refund row's idempotency key. GET /v2/refunds/{merchantRefundId}
   first: a refund PayPay already has (the answer to an earlier try was lost) is not sent again.

Credentials per municipality from the environment (see `credentials`); the API is the sandbox one
unless MADOGUCHI_PAYPAY_PRODUCTION=1, or MADOGUCHI_PAYPAY_BASE_URL (a local fake in tests).
"""

import datetime
import hashlib
import hmac
import logging
import os
from collections.abc import Callable
from urllib.parse import urlencode

import paypayopa
import requests
from django.utils.translation import gettext_lazy as _

from madoguchi.core.inputs import loads
from madoguchi.payments.models import Payment
from madoguchi.payments.providers import (
    InvalidNotification,
    Notification,
    PaymentProvider,
    ProviderRefused,
    ProviderStatus,
    ProviderUnavailable,
    municipality_setting,
    register,
)
from madoguchi.tenancy.models import Municipality

logger = logging.getLogger(__name__)
PREFIX = "MADOGUCHI_PAYPAY"
MAX_BODY = 16 * 1024
# resultInfo codes that mean "try again later" rather than "no".
RETRYABLE = {"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "TRANSACTION_TIMEOUT", "GATEWAY_ERROR", "SERVER_ERROR",
             "UNKNOWN"}
# PayPay payment statuses → ours.
STATUSES = {"CREATED": "pending", "REAUTHORIZING": "pending", "AUTHORIZED": "authorized", "COMPLETED": "captured",
            "REFUNDED": "refunded", "CANCELED": "failed", "FAILED": "failed", "EXPIRED": "failed"}
REFUND_COUNTED = {"CREATED", "REFUNDED"}


def credentials(municipality: Municipality) -> tuple[str, str, str]:
    """MADOGUCHI_PAYPAY_API_KEY_<code>, _API_SECRET_<code>, _MERCHANT_ID_<code>."""
    return (municipality_setting(PREFIX, municipality, "API_KEY"),
            municipality_setting(PREFIX, municipality, "API_SECRET"),
            municipality_setting(PREFIX, municipality, "MERCHANT_ID"))


def _timeout() -> float:
    return float(os.environ.get("MADOGUCHI_PAYPAY_TIMEOUT", "10"))


def client(municipality: Municipality) -> paypayopa.Client:
    api_key, api_secret, merchant_id = credentials(municipality)
    options = {}
    if os.environ.get("MADOGUCHI_PAYPAY_BASE_URL"):
        options["base_url"] = os.environ["MADOGUCHI_PAYPAY_BASE_URL"]
    paypay = paypayopa.Client(auth=(api_key, api_secret),
                              production_mode=os.environ.get("MADOGUCHI_PAYPAY_PRODUCTION") == "1", **options)
    paypay.set_assume_merchant(merchant_id)
    return paypay


def _call(method: Callable, *args) -> tuple[str, dict]:
    """Call the SDK; return (resultInfo.code, data). A timeout, a refused connection, a non-JSON
    answer or a server-side code is ProviderUnavailable: the same call may be repeated."""
    try:
        response = method(*args, timeout=_timeout())
        code = response["resultInfo"]["code"]
    except requests.RequestException as exc:  # timeouts and connection errors
        raise ProviderUnavailable(f"paypay: {exc.__class__.__name__}") from None
    except (ValueError, KeyError, TypeError):  # an HTML error page, or JSON without resultInfo
        raise ProviderUnavailable("paypay: unreadable answer") from None
    if code in RETRYABLE:
        raise ProviderUnavailable(f"paypay: {code}")
    data = response.get("data")
    return code, data if isinstance(data, dict) else {}


def _return_mac(municipality: Municipality, order_id: str) -> str:
    """Our own signature on the redirect URL: PayPay passes nothing back that could be checked."""
    secret = credentials(municipality)[1]
    return hmac.new(secret.encode(), f"return:{order_id}".encode(), hashlib.sha256).hexdigest()


@register("paypay")
class PayPayProvider(PaymentProvider):
    secret_names = ("PAYPAY_API_KEY", "PAYPAY_API_SECRET", "PAYPAY_MERCHANT_ID")
    label = _("PayPay")

    def create_checkout(self, payment: Payment, return_url: str, notify_url: str) -> str:
        query = urlencode({"order_id": payment.order_id,
                           "sig": _return_mac(payment.municipality, payment.order_id)})
        redirect = f"{return_url}?{query}"
        code, data = _call(client(payment.municipality).Code.create_qr_code, {
            "merchantPaymentId": payment.order_id,
            "amount": {"amount": payment.amount, "currency": "JPY"},
            "codeType": "ORDER_QR",
            "orderDescription": "証明書交付手数料・郵便料",
            "isAuthorization": False,
            "redirectUrl": redirect,
            "redirectType": "WEB_LINK",
        })
        if code != "SUCCESS" or not isinstance(data.get("url"), str):
            # e.g. DUPLICATE_DYNAMIC_QR_REQUEST after a lost answer: this attempt cannot be reused.
            raise ProviderRefused(f"paypay create: {code}")
        payment.provider_payment_id = str(data.get("codeId", ""))[:64]
        return data["url"]

    def verify_return(self, params: dict[str, str]) -> str:
        order_id, sig = params.get("order_id", ""), params.get("sig", "")
        payment = Payment.objects.select_related("municipality").by_order_id(order_id[:40]).filter(
            provider=self.name).first()
        if payment is None or not sig.isascii():
            raise InvalidNotification("unknown order on return")
        try:
            expected = _return_mac(payment.municipality, order_id)
        except ProviderRefused:
            raise InvalidNotification("no credentials") from None
        if not hmac.compare_digest(expected, sig):
            raise InvalidNotification("bad return signature")
        return order_id

    def parse_notification(self, body: bytes, headers: dict[str, str]) -> Notification:
        if len(body) > MAX_BODY:
            raise InvalidNotification("body too large")
        try:
            data = loads(body)
            order_id, state = data["merchant_order_id"], data["state"]
        except (ValueError, KeyError, TypeError):
            raise InvalidNotification("malformed body") from None
        if not (isinstance(order_id, str) and isinstance(state, str) and 0 < len(order_id) <= 40
                and 0 < len(state) <= 20):
            raise InvalidNotification("malformed body")
        payment = Payment.objects.select_related("municipality").by_order_id(order_id).filter(
            provider=self.name).first()
        if payment is None:
            return Notification(f"paypay:{order_id}:{state}", order_id, "", 0, "unverified")
        status = self.query(payment)  # the webhook only says "ask"; the API answers
        return Notification(f"paypay:{order_id}:{status.status}:{status.refunded_amount}", order_id,
                            status.provider_payment_id, status.amount, status.status)

    def query(self, payment: Payment) -> ProviderStatus:
        code, data = _call(client(payment.municipality).Code.get_payment_details, payment.order_id)
        if code != "SUCCESS":
            # Not found: the resident has not paid (or never opened the page).
            return ProviderStatus("pending", "", payment.amount, 0, payment.order_id)
        try:
            amount = int(data["amount"]["amount"])
            refunds = (data.get("refunds") or {}).get("data") or []
            refunded = sum(int(r["amount"]["amount"]) for r in refunds if r.get("status") in REFUND_COUNTED)
            status = STATUSES.get(data["status"], "pending")
        except (KeyError, TypeError, ValueError):
            raise ProviderUnavailable("paypay: malformed payment details") from None
        if status == "captured" and refunded:
            status = "refunded" if refunded >= amount else "partially_refunded"
        return ProviderStatus(status, str(data.get("paymentId") or "")[:64], amount, refunded, payment.order_id)

    def refund(self, payment: Payment, amount: int, idempotency_key: str) -> None:
        paypay = client(payment.municipality)
        code, data = _call(paypay.Payment.refund_details, idempotency_key)
        if code == "SUCCESS" and data.get("status") in REFUND_COUNTED:
            return  # sent before; the answer was lost
        status = self.query(payment)
        if status.status not in {"captured", "partially_refunded"} or not status.provider_payment_id:
            raise ProviderRefused(f"paypay: payment is {status.status}, cannot refund")
        code, data = _call(paypay.Payment.refund_payment, {
            "merchantRefundId": idempotency_key,
            "paymentId": status.provider_payment_id,
            "amount": {"amount": amount, "currency": "JPY"},
            "reason": "証明書交付手数料の返金",
        })
        if code != "SUCCESS":
            raise ProviderRefused(f"paypay refund: {code}")

    def transactions(self, municipality: Municipality, day: datetime.date) -> list[ProviderStatus]:
        """PayPay has no per-day listing in this API (it sends reconciliation files by webhook):
        each of our attempts of the day is asked about, so orders we never made are not seen here."""
        from django.utils import timezone

        start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
        payments = Payment.objects.for_municipality(municipality).filter(
            provider=self.name, created_at__gte=start, created_at__lt=start + datetime.timedelta(days=1))
        return [self.query(p) for p in payments.select_related("municipality")]

