"""Our client of the sandbox gateway. Signatures are checked with constant-time comparison."""

import datetime
import hmac
import re
import time

from django.utils import timezone
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
    register,
)
from madoguchi.tenancy.models import Municipality

from . import gateway
from .models import SandboxCharge

# Notifications older or newer than this are refused (with the event id this stops replays).
TOLERANCE_SECONDS = 300
MAX_BODY = 16 * 1024
HEX_MAC = re.compile(r"[0-9a-f]{64}")


@register("sandbox")
class SandboxProvider(PaymentProvider):
    label = _("クレジットカード(テスト)")

    def create_checkout(self, payment: Payment, return_url: str, notify_url: str) -> str:
        from django.urls import reverse

        charge = gateway.create_charge(payment.order_id, payment.amount, return_url, notify_url,
                                       merchant_id=payment.municipality.code)
        payment.provider_payment_id = charge.charge_id
        return reverse("payments_sandbox:checkout", args=[charge.charge_id])

    def verify_return(self, params: dict[str, str]) -> str:
        order_id, charge_id, sig = (params.get(k, "") for k in ("order_id", "charge_id", "sig"))
        if not (order_id and charge_id and HEX_MAC.fullmatch(sig)) or not hmac.compare_digest(
                gateway.mac(f"{order_id}.{charge_id}"), sig):
            raise InvalidNotification("bad return signature")
        return order_id

    def parse_notification(self, body: bytes, headers: dict[str, str]) -> Notification:
        if len(body) > MAX_BODY:
            raise InvalidNotification("body too large")
        header = headers.get("X-Sandbox-Signature", "")
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        t, v1 = parts.get("t", ""), parts.get("v1", "")
        if not (re.fullmatch(r"[0-9]{1,12}", t) and HEX_MAC.fullmatch(v1)):
            raise InvalidNotification("malformed signature header")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidNotification("body is not UTF-8") from None
        if abs(time.time() - int(t)) > TOLERANCE_SECONDS:
            raise InvalidNotification("timestamp outside tolerance")
        if not hmac.compare_digest(gateway.mac(f"{t}.{text}"), v1):
            raise InvalidNotification("bad signature")
        try:
            data = loads(text)
            fields = [data["event_id"], data["order_id"], data["charge_id"], data["status"]]
            amount = data["amount"]
        except (ValueError, KeyError, TypeError):
            raise InvalidNotification("malformed body") from None
        if type(amount) is not int or not all(isinstance(f, str) and 0 < len(f) <= 80 for f in fields):
            raise InvalidNotification("malformed body")
        event_id, order_id, charge_id, status = fields
        return Notification(event_id=event_id, order_id=order_id, provider_payment_id=charge_id, amount=amount,
                            status=status)

    def query(self, payment: Payment) -> ProviderStatus:
        try:
            gateway.answer("query")
        except gateway.GatewayTimeout as exc:
            raise ProviderUnavailable(str(exc)) from None
        charge = SandboxCharge.objects.filter(merchant_order_id=payment.order_id).first()
        if charge is None:
            return ProviderStatus("failed", "", 0)
        return self._status(charge)

    @staticmethod
    def _status(charge: SandboxCharge) -> ProviderStatus:
        status = {"created": "pending"}.get(charge.status, charge.status)
        return ProviderStatus(status, charge.charge_id, charge.amount, charge.refunded_amount,
                              charge.merchant_order_id)

    def refund(self, payment: Payment, amount: int, idempotency_key: str) -> None:
        try:
            gateway.refund(payment.provider_payment_id, amount, idempotency_key)
        except gateway.RefundRefused as exc:
            raise ProviderRefused(str(exc)) from None
        except gateway.GatewayTimeout as exc:
            raise ProviderUnavailable(str(exc)) from None

    def transactions(self, municipality: Municipality, day: datetime.date) -> list[ProviderStatus]:
        start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
        charges = SandboxCharge.objects.filter(merchant_id=municipality.code, created_at__gte=start,
                                               created_at__lt=start + datetime.timedelta(days=1))
        return [self._status(charge) for charge in charges.order_by("id")]

