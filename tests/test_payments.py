"""The payment gateway's signed notification and the resident's return, through the test client.

Whatever arrives, in whatever order and however often, a request is paid for at most once; anything
that fails its signature or shape is answered 400 and changes nothing.
"""

import hashlib
import hmac
import json
import time

import pytest
from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.test import Client
from django.urls import reverse

from madoguchi.applications import reception
from madoguchi.applications.models import RequestEvent, State
from madoguchi.payments import ledger
from madoguchi.payments.contrib.sandbox import gateway
from madoguchi.payments.contrib.sandbox.models import SandboxCharge
from madoguchi.payments.contrib.sandbox.provider import MAX_BODY, TOLERANCE_SECONDS
from madoguchi.payments.contrib.sandbox.views import CARD_DECLINED, CARD_OK
from madoguchi.payments.models import Payment, PaymentStatus, ProviderNotification

from .conftest import make_resident
from .flow import draft, sign, start_payment

pytestmark = pytest.mark.django_db(transaction=True)

RETURN_ERROR = "お支払いの結果を確認できませんでした"


class Order:
    """A signed request awaiting payment, with its pending Payment and the gateway's charge."""

    def __init__(self, municipality, resident):
        self.request = sign(draft(municipality), resident)
        self.checkout_url = start_payment(self.request)
        self.payment = self.request.payments.get()
        self.charge = SandboxCharge.objects.get(merchant_order_id=self.payment.order_id)

    def pay_at_gateway(self) -> SandboxCharge:
        """The resident pays on the gateway; its own notification cannot reach us in unit tests."""
        self.charge = gateway.capture(self.charge.charge_id)
        return self.charge

    def body(self, **changes) -> bytes:
        data = json.loads(gateway.notification_body(self.charge))
        data.update(changes)
        return json.dumps(data, separators=(",", ":")).encode()

    def refresh(self):
        self.request.refresh_from_db()
        self.payment.refresh_from_db()

    def assert_unpaid(self):
        self.refresh()
        assert self.payment.status == PaymentStatus.PENDING and self.payment.captured_at is None
        assert self.request.state == State.AWAITING_PAYMENT and self.request.reception_number is None
        assert not RequestEvent.objects.filter(request=self.request, to_state=State.RECEIVED).exists()

    def assert_paid_once(self):
        self.refresh()
        assert self.payment.status == PaymentStatus.CAPTURED
        assert Payment.objects.filter(request=self.request, status=PaymentStatus.CAPTURED).count() == 1
        assert self.request.state == State.RECEIVED
        assert RequestEvent.objects.filter(request=self.request, to_state=State.RECEIVED).count() == 1


@pytest.fixture
def order(municipality, resident) -> Order:
    return Order(municipality, resident)


def post(body: bytes, signature: str | None, client: Client | None = None):
    """POST to our notify endpoint; `signature` None sends no signature header at all."""
    headers = {} if signature is None else {"X-Sandbox-Signature": signature}
    return (client or Client()).post(reverse("payments:notify", args=["sandbox"]), data=body,
                                     content_type="application/json", headers=headers)


def signed(body: bytes, at: int | None = None, secret: bytes | None = None) -> str:
    """The gateway's signature header; over raw bytes so that non-UTF-8 bodies can be signed too."""
    t = int(time.time()) if at is None else at
    key = secret if secret is not None else settings.SANDBOX_PAYMENT_SECRET.encode()
    return f"t={t},v1={hmac.new(key, f'{t}.'.encode() + body, hashlib.sha256).hexdigest()}"


def outcomes() -> list[str]:
    return list(ProviderNotification.objects.order_by("id").values_list("outcome", flat=True))


# --- the notification --------------------------------------------------------------------------------

def test_signature_helper_matches_the_gateway(order):
    body = order.body()
    now = int(time.time())
    assert signed(body, now) == gateway.sign_notification(body, now)


def test_signed_notification_settles_the_payment_and_receives_the_request(order):
    order.pay_at_gateway()
    body = order.body()
    response = post(body, gateway.sign_notification(body))
    assert (response.status_code, response.content) == (200, b"ok")
    order.assert_paid_once()
    assert order.payment.captured_at is not None
    assert order.payment.provider_payment_id == order.charge.charge_id
    assert reception.is_valid(order.request.reception_number)
    assert order.request.received_at == order.payment.captured_at
    event = RequestEvent.objects.get(request=order.request, to_state=State.RECEIVED)
    assert (event.from_state, event.reason) == (State.AWAITING_PAYMENT, f"notification:{order.payment.order_id}")
    assert outcomes() == ["captured"]


def test_replayed_notification_is_acknowledged_as_duplicate_and_settles_once(order):
    order.pay_at_gateway()
    body = order.body(event_id="evt_replayed")
    signature = gateway.sign_notification(body)
    assert post(body, signature).content == b"ok"
    order.refresh()
    number = order.request.reception_number
    for _ in range(3):
        response = post(body, signature)
        assert (response.status_code, response.content) == (200, b"duplicate")
    order.assert_paid_once()
    assert order.request.reception_number == number
    assert ProviderNotification.objects.count() == 1


def test_second_notification_for_the_same_order_does_not_capture_again(order):
    order.pay_at_gateway()
    first = order.body(event_id="evt_first")
    second = order.body(event_id="evt_second")
    assert post(first, gateway.sign_notification(first)).status_code == 200
    order.refresh()
    number, captured_at = order.request.reception_number, order.payment.captured_at
    assert post(second, gateway.sign_notification(second)).status_code == 200
    order.assert_paid_once()
    assert (order.request.reception_number, order.payment.captured_at) == (number, captured_at)
    assert ProviderNotification.objects.count() == 2


def _forgeries(order):
    body = order.body()
    good = gateway.sign_notification(body)
    now = int(time.time())
    v1 = good.split("v1=")[1]
    return {
        "wrong-secret": (body, signed(body, secret=b"not-our-secret")),
        "altered-after-signing": (order.body(amount=1), good),
        "event-id-altered": (order.body(event_id="evt_other"), good),
        "missing-header": (body, None),
        "empty-header": (body, ""),
        "garbage-header": (body, "garbage"),
        "no-timestamp": (body, f"v1={v1}"),
        "no-mac": (body, f"t={now}"),
        "empty-mac": (body, f"t={now},v1="),
        "non-numeric-timestamp": (body, f"t=now,v1={v1}"),
        "other-timestamp-same-mac": (body, f"t={now - 1},v1={v1}"),
        "mac-truncated": (body, f"t={good.split(',')[0][2:]},v1={v1[:32]}"),
    }


FORGERIES = ["wrong-secret", "altered-after-signing", "event-id-altered", "missing-header", "empty-header",
             "garbage-header", "no-timestamp", "no-mac", "empty-mac", "non-numeric-timestamp",
             "other-timestamp-same-mac", "mac-truncated"]


@pytest.mark.parametrize("forgery", FORGERIES)
def test_notification_with_a_forged_signature_is_refused_and_changes_nothing(order, forgery):
    order.pay_at_gateway()
    body, signature = _forgeries(order)[forgery]
    response = post(body, signature)
    assert response.status_code == 400
    order.assert_unpaid()
    assert ProviderNotification.objects.count() == 0


# 10 s past the limit: a loaded test machine may take a few seconds between signing and checking.
@pytest.mark.parametrize("offset", [-(TOLERANCE_SECONDS + 10), TOLERANCE_SECONDS + 10, -86400, 10**9],
                         ids=["310s-old", "310s-ahead", "a-day-old", "far-future"])
def test_notification_signed_outside_the_300s_tolerance_is_refused(order, offset):
    order.pay_at_gateway()
    body = order.body()
    response = post(body, gateway.sign_notification(body, at=int(time.time()) + offset))
    assert response.status_code == 400
    order.assert_unpaid()
    assert ProviderNotification.objects.count() == 0


def test_notification_signed_a_little_while_ago_is_accepted(order):
    order.pay_at_gateway()
    body = order.body()
    assert post(body, gateway.sign_notification(body, at=int(time.time()) - 250)).content == b"ok"
    order.assert_paid_once()


def test_notification_with_a_different_amount_is_recorded_but_does_not_settle(order):
    order.pay_at_gateway()
    tampered = order.body(amount=order.payment.amount - 1, event_id="evt_tampered")
    response = post(tampered, gateway.sign_notification(tampered))
    assert response.status_code == 200
    order.assert_unpaid()
    assert ProviderNotification.objects.get(event_id="evt_tampered").outcome == "amount_mismatch"
    # The true notification afterwards still settles the payment.
    body = order.body()
    assert post(body, gateway.sign_notification(body)).status_code == 200
    order.assert_paid_once()
    assert outcomes() == ["amount_mismatch", "captured"]


def test_notification_for_an_unknown_order_is_acknowledged_and_changes_nothing(order):
    order.pay_at_gateway()
    body = order.body(order_id="MD" + "0" * 24)
    response = post(body, gateway.sign_notification(body))
    assert response.status_code == 200
    assert outcomes() == []  # counted, not stored
    order.assert_unpaid()


def test_notification_that_is_not_a_capture_changes_nothing(order):
    body = order.body(status="created", type="charge.created")
    assert post(body, gateway.sign_notification(body)).status_code == 200
    assert outcomes() == ["ignored"]
    order.assert_unpaid()


def _bodies(order):
    fields = json.loads(order.body())
    without = {key: json.dumps({k: v for k, v in fields.items() if k != key}).encode()
               for key in ("event_id", "order_id", "charge_id", "amount", "status")}
    return {
        "not-json": b"this is not json",
        "truncated-json": order.body()[:-1],
        "empty": b"",
        "list": b"[1, 2]",
        "string": b'"captured"',
        "null": b"null",
        "empty-object": b"{}",
        "amount-not-a-number": order.body(amount="three hundred"),
        "amount-null": order.body(amount=None),
        "amount-object": order.body(amount={"value": 410}),
        "not-utf8": order.body().replace(b"JPY", b"\xff\xfe\xfd"),
        **{f"missing-{key}": body for key, body in without.items()},
    }


BODIES = ["not-json", "truncated-json", "empty", "list", "string", "null", "empty-object",
          "amount-not-a-number", "amount-null", "amount-object", "not-utf8", "missing-event_id",
          "missing-order_id", "missing-charge_id", "missing-amount", "missing-status"]


@pytest.mark.parametrize("kind", BODIES)
def test_correctly_signed_but_malformed_notification_is_refused(order, kind):
    order.pay_at_gateway()
    body = _bodies(order)[kind]
    response = post(body, signed(body))
    assert response.status_code == 400
    order.assert_unpaid()
    assert ProviderNotification.objects.count() == 0


def test_correctly_signed_notification_with_an_infinite_amount_is_refused(order):
    order.pay_at_gateway()
    body = order.body().replace(f'"amount":{order.payment.amount}'.encode(), b'"amount":Infinity')
    assert b"Infinity" in body
    response = post(body, signed(body), Client(raise_request_exception=False))
    assert response.status_code == 400
    order.assert_unpaid()


def test_oversized_notification_is_refused(order):
    order.pay_at_gateway()
    body = order.body(padding="x" * MAX_BODY)
    assert len(body) > 16 * 1024
    response = post(body, gateway.sign_notification(body))
    assert response.status_code == 400
    order.assert_unpaid()
    assert ProviderNotification.objects.count() == 0


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_notify_endpoint_only_accepts_post(order, method):
    response = getattr(Client(), method)(reverse("payments:notify", args=["sandbox"]))
    assert response.status_code == 405
    order.assert_unpaid()


def test_notification_for_an_unknown_provider_is_not_found(order):
    order.pay_at_gateway()
    body = order.body()
    response = Client().post(reverse("payments:notify", args=["nonexistent"]), data=body,
                             content_type="application/json",
                             headers={"X-Sandbox-Signature": gateway.sign_notification(body)})
    assert response.status_code == 404
    order.assert_unpaid()


def test_notification_with_an_absurd_timestamp_is_refused(order):
    order.pay_at_gateway()
    body = order.body()
    response = post(body, f"t={10**400},v1=00", Client(raise_request_exception=False))
    assert response.status_code == 400
    order.assert_unpaid()


def test_notification_with_a_non_ascii_signature_is_refused(order):
    order.pay_at_gateway()
    body = order.body()
    response = post(body, f"t={int(time.time())},v1=\u00e9", Client(raise_request_exception=False))
    assert response.status_code == 400
    order.assert_unpaid()


def test_notification_that_failed_to_process_is_processed_when_the_gateway_retries(order, monkeypatch):
    order.pay_at_gateway()
    body = order.body()
    signature = gateway.sign_notification(body)
    real = ledger.capture

    def locked_once(*args, **kwargs):
        monkeypatch.setattr(ledger, "capture", real)
        raise OperationalError("database is locked")

    monkeypatch.setattr(ledger, "capture", locked_once)
    assert post(body, signature, Client(raise_request_exception=False)).status_code == 500
    order.assert_unpaid()
    retry = post(body, signature)  # providers retry a failed delivery with the same event
    assert retry.status_code == 200
    order.assert_paid_once()


# --- the resident's return ----------------------------------------------------------------------------

def done_url(order) -> str:
    return reverse("web:done", args=[order.request.municipality.code, order.request.public_id])


def test_notification_then_return_settles_once(order):
    order.pay_at_gateway()
    body = order.body()
    assert post(body, gateway.sign_notification(body)).content == b"ok"
    response = Client().get(gateway.return_url_for(order.charge))
    assert response.status_code == 302 and response.url == done_url(order)
    order.assert_paid_once()
    event = RequestEvent.objects.get(request=order.request, to_state=State.RECEIVED)
    assert event.reason.startswith("notification:")


def test_return_first_queries_the_gateway_and_the_later_notification_does_not_settle_again(order):
    order.pay_at_gateway()
    response = Client().get(gateway.return_url_for(order.charge))
    assert response.status_code == 302 and response.url == done_url(order)
    order.assert_paid_once()
    number = order.request.reception_number
    body = order.body()
    assert post(body, gateway.sign_notification(body)).status_code == 200
    order.assert_paid_once()
    assert order.request.reception_number == number
    event = RequestEvent.objects.get(request=order.request, to_state=State.RECEIVED)
    assert event.reason == f"return:{order.payment.order_id}"


def test_repeated_return_settles_once(order):
    order.pay_at_gateway()
    client = Client()
    for _ in range(3):
        assert client.get(gateway.return_url_for(order.charge)).status_code == 302
    order.assert_paid_once()


def _tampered_returns(order, other):
    o, c = order.payment.order_id, order.charge.charge_id
    sig = gateway.mac(f"{o}.{c}")
    return {
        "sig": {"order_id": o, "charge_id": c, "sig": sig[:-1] + ("0" if sig[-1] != "0" else "1")},
        "sig-of-other-order": {"order_id": o, "charge_id": c,
                               "sig": gateway.mac(f"{other.payment.order_id}.{other.charge.charge_id}")},
        "order_id": {"order_id": other.payment.order_id, "charge_id": c, "sig": sig},
        "charge_id": {"order_id": o, "charge_id": other.charge.charge_id, "sig": sig},
        "missing-sig": {"order_id": o, "charge_id": c},
        "empty-sig": {"order_id": o, "charge_id": c, "sig": ""},
        "missing-order_id": {"charge_id": c, "sig": sig},
        "nothing": {},
    }


@pytest.mark.parametrize("tampered", ["sig", "sig-of-other-order", "order_id", "charge_id", "missing-sig",
                                      "empty-sig", "missing-order_id", "nothing"])
def test_tampered_return_shows_the_japanese_error_and_settles_nothing(order, municipality, tampered):
    other = Order(municipality, make_resident(municipality, "鈴木 一郎", sex="1"))
    order.pay_at_gateway()
    other.pay_at_gateway()
    response = Client().get(reverse("payments:return", args=["sandbox"]),
                            _tampered_returns(order, other)[tampered])
    assert response.status_code == 400
    assert RETURN_ERROR in response.content.decode()
    order.assert_unpaid()
    other.assert_unpaid()


def test_return_with_a_non_ascii_sig_shows_the_japanese_error(order):
    order.pay_at_gateway()
    response = Client(raise_request_exception=False).get(
        reverse("payments:return", args=["sandbox"]),
        {"order_id": order.payment.order_id, "charge_id": order.charge.charge_id, "sig": "署名"})
    assert response.status_code == 400
    assert RETURN_ERROR in response.content.decode()
    order.assert_unpaid()


def test_return_for_an_order_still_unpaid_at_the_gateway_leaves_it_awaiting_payment(order):
    response = Client().get(gateway.return_url_for(order.charge))
    assert response.status_code == 302 and response.url == done_url(order)
    order.assert_unpaid()


def test_return_with_a_valid_signature_for_an_order_we_do_not_know_is_not_found(order):
    charge = gateway.create_charge("MD" + "F" * 24, 410, order.charge.return_url, order.charge.notify_url)
    gateway.capture(charge.charge_id)
    response = Client().get(gateway.return_url_for(charge))
    assert response.status_code == 404
    order.assert_unpaid()


# --- the sandbox gateway's checkout page ---------------------------------------------------------------

def test_checkout_page_shows_the_amount(order):
    response = Client().get(order.checkout_url)
    assert response.status_code == 200
    assert f"{order.payment.amount}円" in response.content.decode()


def test_declined_test_card_shows_a_japanese_error_and_does_not_capture(order):
    response = Client().post(order.checkout_url, {"card_number": CARD_DECLINED})
    assert response.status_code == 200
    assert "このカードはご利用いただけません" in response.content.decode()
    order.charge.refresh_from_db()
    assert order.charge.status == "created"
    order.assert_unpaid()


def test_unknown_card_number_shows_a_japanese_error_and_does_not_capture(order):
    response = Client().post(order.checkout_url, {"card_number": "1234567812345678"})
    assert response.status_code == 200
    assert "テスト用のカード番号を入力してください" in response.content.decode()
    order.charge.refresh_from_db()
    assert order.charge.status == "created"
    order.assert_unpaid()


def test_paying_with_the_test_card_returns_the_resident_and_settles_the_request(order):
    client = Client()
    response = client.post(order.checkout_url, {"card_number": "4242 4242 4242 4242"})
    order.charge.refresh_from_db()
    assert order.charge.status == "captured"
    assert response.status_code == 302 and response.url == gateway.return_url_for(order.charge)
    back = client.get(response.url)
    assert back.status_code == 302 and back.url == done_url(order)
    order.assert_paid_once()


def test_page_of_a_paid_charge_redirects_to_the_return_url(order):
    order.pay_at_gateway()
    for response in (Client().get(order.checkout_url), Client().post(order.checkout_url, {"card_number": CARD_OK})):
        assert response.status_code == 302
        assert response.url == gateway.return_url_for(order.charge)
    order.charge.refresh_from_db()
    assert order.charge.status == "captured"


# --- no money twice --------------------------------------------------------------------------------------

def test_database_refuses_a_second_captured_payment_for_the_same_request(order):
    order.pay_at_gateway()
    body = order.body()
    post(body, gateway.sign_notification(body))
    order.assert_paid_once()
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(municipality=order.payment.municipality, request=order.request, provider="sandbox",
                               order_id="MD" + "1" * 24, amount=order.payment.amount,
                               status=PaymentStatus.CAPTURED)
    # Nor can an older attempt be flipped to captured afterwards.
    stale = Payment.objects.create(municipality=order.payment.municipality, request=order.request,
                                   provider="sandbox", order_id="MD" + "2" * 24, amount=order.payment.amount,
                                   status=PaymentStatus.EXPIRED)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=stale.pk).update(status=PaymentStatus.CAPTURED)
    assert Payment.objects.filter(request=order.request, status=PaymentStatus.CAPTURED).count() == 1
