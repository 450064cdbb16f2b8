"""The gateway side of the sandbox: what a real provider would run on its own servers.

Protocol (documented in docs/payments.md):
- notification: POST JSON to the merchant's notify URL with header
  `X-Sandbox-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`;
- return: the resident's browser is sent to the return URL with `order_id`, `charge_id` and
  `sig` = hex HMAC-SHA256(secret, "<order_id>.<charge_id>").
"""

import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
import urllib.request
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from .models import SandboxCharge, SandboxRefund

logger = logging.getLogger(__name__)


class GatewayTimeout(OSError):
    """The merchant's call got no answer; what the gateway did before that still happened."""


# Simulated outages, as a real gateway has them: names of operations whose answer is lost
# ("refund" refunds and then times out; "query" times out). Tests switch them with `outage()`.
_outages: set[str] = set()


@contextlib.contextmanager
def outage(*operations: str):
    _outages.update(operations)
    try:
        yield
    finally:
        _outages.difference_update(operations)


def answer(operation: str) -> None:
    """Called after the gateway did its work: drop the answer during a simulated outage."""
    if operation in _outages:
        raise GatewayTimeout(f"sandbox gateway: {operation} timed out")


def _secret() -> bytes:
    if not settings.SANDBOX_PAYMENT_SECRET:
        raise RuntimeError("MADOGUCHI_SANDBOX_PAYMENT_SECRET is not set")
    return settings.SANDBOX_PAYMENT_SECRET.encode()


def mac(message: str) -> str:
    return hmac.new(_secret(), message.encode(), hashlib.sha256).hexdigest()


def sign_notification(body: bytes, at: int | None = None) -> str:
    t = int(time.time()) if at is None else at
    return f"t={t},v1={mac(f'{t}.' + body.decode())}"


def notification_body(charge: SandboxCharge, event_id: str | None = None) -> bytes:
    return json.dumps({
        "event_id": event_id or "evt_" + secrets.token_hex(12),
        "type": "charge." + charge.status,
        "order_id": charge.merchant_order_id,
        "charge_id": charge.charge_id,
        "amount": charge.amount,
        "currency": "JPY",
        "status": charge.status,
    }, separators=(",", ":")).encode()


def return_url_for(charge: SandboxCharge) -> str:
    query = urlencode({"order_id": charge.merchant_order_id, "charge_id": charge.charge_id,
                       "sig": mac(f"{charge.merchant_order_id}.{charge.charge_id}")})
    return f"{charge.return_url}?{query}"


def create_charge(order_id: str, amount: int, return_url: str, notify_url: str,
                  merchant_id: str = "") -> SandboxCharge:
    """Idempotent on the merchant order id, like a provider's idempotency key."""
    charge, _ = SandboxCharge.objects.get_or_create(
        merchant_order_id=order_id,
        defaults=dict(charge_id="ch_" + secrets.token_hex(12), amount=amount, return_url=return_url,
                      notify_url=notify_url, merchant_id=merchant_id))
    return charge


def capture(charge_id: str) -> SandboxCharge:
    with transaction.atomic():
        charge = SandboxCharge.objects.select_for_update().get(charge_id=charge_id)
        if charge.status == "created":
            charge.status = "captured"
            charge.captured_at = timezone.now()
            charge.save(update_fields=["status", "captured_at"])
            transaction.on_commit(lambda: send_notification.enqueue(charge.charge_id))
    return charge


class RefundRefused(ValueError):
    """The gateway's error answer: nothing to refund, or more than what is left."""


def refund(charge_id: str, amount: int, idempotency_key: str) -> SandboxCharge:
    """Refund `amount` of a captured charge; the same key a second time refunds nothing more."""
    with transaction.atomic():
        charge = SandboxCharge.objects.select_for_update().get(charge_id=charge_id)
        if SandboxRefund.objects.filter(idempotency_key=idempotency_key, charge=charge).exists():
            return charge
        if charge.status not in {"captured", "partially_refunded"}:
            raise RefundRefused(f"charge {charge_id} is {charge.status}, cannot refund")
        if not 0 < amount <= charge.amount - charge.refunded_amount:
            raise RefundRefused(f"refund of {amount} exceeds what is left of {charge_id}")
        SandboxRefund.objects.create(charge=charge, idempotency_key=idempotency_key, amount=amount)
        charge.refunded_amount += amount
        charge.status = "refunded" if charge.refunded_amount == charge.amount else "partially_refunded"
        charge.save(update_fields=["status", "refunded_amount"])
    answer("refund")
    return charge


@task(queue_name="providers")
def send_notification(charge_id: str) -> int:
    """POST the signed notification to the merchant, as the provider's servers would."""
    charge = SandboxCharge.objects.get(charge_id=charge_id)
    body = notification_body(charge)
    req = urllib.request.Request(charge.notify_url, data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Sandbox-Signature": sign_notification(body)})
    try:
        with urllib.request.urlopen(req, timeout=5) as response:  # noqa: S310 (our own notify URL)
            return response.status
    except OSError as exc:
        # The merchant will learn the result from the return or a status query instead.
        logger.warning("sandbox notification to %s failed: %s", charge.notify_url, exc)
        return 0
