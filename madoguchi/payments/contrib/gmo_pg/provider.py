"""GMO Payment Gateway, link type (リンクタイプPlus, hash variant) for cards.

Sequence (docs/payments.md draws it, and says what is assumed):
1. create_checkout builds the payment page URL without a network call:
   {link}/v1/plus/{ShopID}/checkout/{α}.{γ}, α = Base64URL(JSON parameters), γ = hex SHA-256(α + ShopPass).
   The JSON carries OrderID (our order id), Amount, JobCd CAPTURE and RetUrl (our return URL).
2. The resident pays on GMO-PG's page and is sent back to RetUrl with `result=α'.γ'`, signed the
   same way; we check γ', take the OrderID and ask SearchTrade.idPass for the truth.
3. GMO-PG's result notification (結果通知プログラム) is an unsigned form POST: it only names the
   order; the ShopID must be the municipality's and SearchTrade.idPass decides. We answer "0".
4. Refunds: full → AlterTran.idPass JobCd VOID (same day as the sale) or RETURN; partial →
   ChangeTran.idPass with the reduced Amount. GMO-PG has no idempotency key, so each refund first
   reads the trade and skips a change that is already there (the answer to an earlier try was lost).

Credentials per municipality from the environment: MADOGUCHI_GMO_PG_SHOP_ID_<code>,
MADOGUCHI_GMO_PG_SHOP_PASS_<code>, optional MADOGUCHI_GMO_PG_CONFIG_ID_<code>.
"""

import base64
import binascii
import datetime
import hashlib
import hmac
import json
import logging
import os
from urllib.parse import parse_qsl

import requests
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
    municipality_setting,
    register,
)
from madoguchi.tenancy.models import Municipality

logger = logging.getLogger(__name__)
PREFIX = "MADOGUCHI_GMO_PG"
MAX_BODY = 16 * 1024
STATUSES = {"UNPROCESSED": "pending", "AUTHENTICATED": "pending", "CHECK": "pending", "REQSUCCESS": "pending",
            "PAYSTART": "pending", "AUTH": "authorized", "SAUTH": "authorized", "CAPTURE": "captured",
            "SALES": "captured", "VOID": "refunded", "RETURN": "refunded", "RETURNX": "refunded",
            "PAYFAIL": "failed", "EXPIRED": "failed"}
# ErrInfo codes: the trade does not exist (the resident never paid); the gateway is busy or down.
NOT_FOUND = {"E01110002"}
RETRYABLE_PREFIXES = ("E90", "E91", "E92")


def _endpoints() -> tuple[str, str]:
    production = os.environ.get("MADOGUCHI_GMO_PG_PRODUCTION") == "1"
    api = os.environ.get("MADOGUCHI_GMO_PG_API_URL") or (
        "https://p01.mul-pay.jp" if production else "https://pt01.mul-pay.jp")
    link = os.environ.get("MADOGUCHI_GMO_PG_LINK_URL") or (
        "https://link.mul-pay.jp" if production else "https://stg.link.mul-pay.jp")
    return api.rstrip("/"), link.rstrip("/")


def shop(municipality: Municipality) -> tuple[str, str]:
    return (municipality_setting(PREFIX, municipality, "SHOP_ID"),
            municipality_setting(PREFIX, municipality, "SHOP_PASS"))


def sign(alpha: str, shop_pass: str) -> str:
    return hashlib.sha256((alpha + shop_pass).encode()).hexdigest()


def encode(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def decode(alpha: str) -> dict:
    try:
        data = loads(base64.urlsafe_b64decode(alpha.encode("ascii")))
    except (ValueError, UnicodeEncodeError, binascii.Error):
        raise InvalidNotification("malformed result") from None
    if not isinstance(data, dict):
        raise InvalidNotification("malformed result")
    return data


def _api(municipality: Municipality, name: str, fields: dict[str, str]) -> dict[str, str]:
    """POST one protocol API (form in, `key=value&...` out). Errors come back as ErrCode/ErrInfo."""
    shop_id, shop_pass = shop(municipality)
    api, _link = _endpoints()
    try:
        response = requests.post(f"{api}/payment/{name}", data={"ShopID": shop_id, "ShopPass": shop_pass, **fields},
                                 timeout=float(os.environ.get("MADOGUCHI_GMO_PG_TIMEOUT", "10")))
    except requests.RequestException as exc:
        raise ProviderUnavailable(f"gmo_pg {name}: {exc.__class__.__name__}") from None
    if response.status_code >= 500:
        raise ProviderUnavailable(f"gmo_pg {name}: HTTP {response.status_code}")
    answer = dict(parse_qsl(response.content.decode("cp932", errors="replace"), keep_blank_values=True))
    if response.status_code != 200 or not answer:
        raise ProviderUnavailable(f"gmo_pg {name}: unreadable answer")
    return answer


def _errors(answer: dict[str, str]) -> list[str]:
    return [e for e in answer.get("ErrInfo", "").split("|") if e]


def _amount(trade: dict[str, str]) -> int:
    try:
        return int(trade.get("Amount", "")) + int(trade.get("Tax") or 0)
    except ValueError:
        raise ProviderUnavailable("gmo_pg SearchTrade: malformed amount") from None


@register("gmo_pg")
class GmoPgProvider(PaymentProvider):
    secret_names = ("GMO_PG_SHOP_ID", "GMO_PG_SHOP_PASS")
    label = _("クレジットカード")
    # What the result notification expects, to a first delivery and a replay alike, or it is sent again.
    acknowledgement = duplicate_acknowledgement = b"0"

    def create_checkout(self, payment: Payment, return_url: str, notify_url: str) -> str:
        shop_id, shop_pass = shop(payment.municipality)
        params = {"transaction": {"OrderID": payment.order_id, "Amount": payment.amount, "Tax": 0,
                                  "PayMethods": ["credit"], "RetUrl": return_url},
                  "credit": {"JobCd": "CAPTURE", "Method": "1"}}
        config_id = os.environ.get(f"{PREFIX}_CONFIG_ID_{payment.municipality.code}")
        if config_id:
            params["configid"] = config_id
        alpha = encode(params)
        _api, link = _endpoints()
        return f"{link}/v1/plus/{shop_id}/checkout/{alpha}.{sign(alpha, shop_pass)}"

    def _payment(self, order_id: object) -> Payment:
        if not isinstance(order_id, str) or not 0 < len(order_id) <= 40:
            raise InvalidNotification("malformed order id")
        payment = (Payment.objects.select_related("municipality").by_order_id(order_id)
                   .filter(provider=self.name).first())
        if payment is None:
            raise InvalidNotification("unknown order")
        return payment

    def verify_return(self, params: dict[str, str]) -> str:
        result = params.get("result", "")
        alpha, _dot, gamma = result.partition(".")
        if not (alpha and len(gamma) == 64 and gamma.isascii() and len(result) <= 8192):
            raise InvalidNotification("malformed result")
        payment = self._payment(decode(alpha).get("OrderID"))
        try:
            shop_pass = shop(payment.municipality)[1]
        except ProviderRefused:
            raise InvalidNotification("no credentials") from None
        if not hmac.compare_digest(sign(alpha, shop_pass), gamma):
            raise InvalidNotification("bad result hash")
        return payment.order_id

    def parse_notification(self, body: bytes, headers: dict[str, str]) -> Notification:
        if len(body) > MAX_BODY:
            raise InvalidNotification("body too large")
        try:
            form = dict(parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError):
            raise InvalidNotification("malformed body") from None
        payment = self._payment(form.get("OrderID"))
        try:
            shop_id = shop(payment.municipality)[0]
        except ProviderRefused:
            raise InvalidNotification("no credentials") from None
        if not hmac.compare_digest(form.get("ShopID", ""), shop_id):
            raise InvalidNotification("not this municipality's shop")
        status = self.query(payment)  # the notification only says "ask"
        return Notification(f"gmo_pg:{payment.order_id}:{status.status}:{status.refunded_amount}",
                            payment.order_id, status.provider_payment_id, status.amount, status.status)

    def _trade(self, payment: Payment) -> dict[str, str] | None:
        answer = _api(payment.municipality, "SearchTrade.idPass", {"OrderID": payment.order_id})
        errors = _errors(answer)
        if any(e.startswith(RETRYABLE_PREFIXES) for e in errors):
            raise ProviderUnavailable(f"gmo_pg SearchTrade: {answer.get('ErrInfo')}")
        if errors and set(errors) <= NOT_FOUND:
            return None
        if errors:
            raise ProviderRefused(f"gmo_pg SearchTrade: {answer.get('ErrInfo')}")
        return answer

    def query(self, payment: Payment) -> ProviderStatus:
        trade = self._trade(payment)
        if trade is None:
            return ProviderStatus("pending", "", payment.amount, 0, payment.order_id)
        status = STATUSES.get(trade.get("Status", ""), "pending")
        current = _amount(trade)
        access_id = trade.get("AccessID", "")[:64]
        if status == "refunded":
            return ProviderStatus(status, access_id, payment.amount, payment.amount, payment.order_id)
        if status == "captured" and payment.refunded_amount:
            # GMO-PG keeps only the amount after ChangeTran: what we refunded is added back, so a
            # difference from our own record shows up as an amount mismatch.
            return ProviderStatus("partially_refunded", access_id, current + payment.refunded_amount,
                                  payment.refunded_amount, payment.order_id)
        return ProviderStatus(status, access_id, current, 0, payment.order_id)

    def refund(self, payment: Payment, amount: int, idempotency_key: str) -> None:
        trade = self._trade(payment)
        if trade is None:
            raise ProviderRefused("gmo_pg: no trade to refund")
        status = STATUSES.get(trade.get("Status", ""))
        if status == "refunded":
            return  # voided or returned before; the answer was lost
        if status != "captured":
            raise ProviderRefused(f"gmo_pg: trade is {trade.get('Status')}, cannot refund")
        before = payment.amount - payment.refunded_amount
        target = before - amount
        current = _amount(trade)
        if current == target:
            return  # this refund's change is already there
        if current != before:
            raise ProviderRefused(f"gmo_pg: amount at the gateway is {current}, expected {before}")
        access = {"AccessID": trade.get("AccessID", ""), "AccessPass": trade.get("AccessPass", "")}
        if target == 0:
            processed = trade.get("ProcessDate", "")[:8]
            same_day = processed == timezone.localdate().strftime("%Y%m%d")
            answer = _api(payment.municipality, "AlterTran.idPass",
                          {**access, "JobCd": "VOID" if same_day else "RETURN"})
        else:
            answer = _api(payment.municipality, "ChangeTran.idPass",
                          {**access, "JobCd": "CAPTURE", "Amount": str(target), "Tax": "0"})
        errors = _errors(answer)
        if any(e.startswith(RETRYABLE_PREFIXES) for e in errors):
            raise ProviderUnavailable(f"gmo_pg refund: {answer.get('ErrInfo')}")
        if errors:
            raise ProviderRefused(f"gmo_pg refund: {answer.get('ErrInfo')}")
        logger.info("gmo_pg refund %s of %s yen for %s", idempotency_key, amount, payment.order_id)

    def transactions(self, municipality: Municipality, day: datetime.date) -> list[ProviderStatus]:
        """The protocol API has no per-day listing (GMO-PG's sales files are not read here): each of
        our attempts of the day is asked about, so orders we never made are not seen."""
        start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
        payments = Payment.objects.for_municipality(municipality).filter(
            provider=self.name, created_at__gte=start, created_at__lt=start + datetime.timedelta(days=1))
        return [self.query(p) for p in payments.select_related("municipality")]

