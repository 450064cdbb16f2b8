"""The PayPay provider against a local fake of the PayPay Open Payment API (tests/fake_paypay.py)."""

import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from madoguchi.applications import actions
from madoguchi.applications.models import RequestEvent, State
from madoguchi.payments import services
from madoguchi.payments.checkout import notify_url
from madoguchi.payments.models import MismatchKind, Payment, PaymentStatus, ProviderNotification, Refund
from madoguchi.payments.providers import get_provider, provider_for
from madoguchi.tenancy import vault
from madoguchi.tenancy.models import Role, Staff

from .fake_paypay import FakePayPay
from .flow import draft, sign, start_payment

pytestmark = pytest.mark.django_db(transaction=True)
KEY, SECRET, MERCHANT = "a_test_key", "c2VjcmV0LWZvci10ZXN0cw==", "958667152543465472"


@pytest.fixture
def paypay(municipality, monkeypatch):
    with FakePayPay(KEY, SECRET, MERCHANT) as fake:
        code = municipality.code
        for name, value in {f"MADOGUCHI_PAYMENT_PROVIDER_{code}": "paypay",
                            "MADOGUCHI_PAYPAY_BASE_URL": fake.base_url, "MADOGUCHI_PAYPAY_TIMEOUT": "0.5"}.items():
            monkeypatch.setenv(name, value)
        for name, value in {"PAYPAY_API_KEY": KEY, "PAYPAY_API_SECRET": SECRET, "PAYPAY_MERCHANT_ID": MERCHANT}.items():
            vault.set_secret(municipality, name, value)
        yield fake


def start(municipality, resident, **overrides):
    request = sign(draft(municipality, **overrides), resident)
    url = start_payment(request)
    return request, request.payments.get(status=PaymentStatus.PENDING), url


def webhook(body: bytes):
    return Client().post(reverse("payments:notify", args=["paypay"]), data=body, content_type="application/json")


def back_from_paypay(fake, payment):
    redirect = fake.payments[payment.order_id]["redirectUrl"]
    parts = urlsplit(redirect)
    return Client().get(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()})


def test_paying_with_paypay_settles_the_request_once(paypay, municipality, resident):
    request, payment, url = start(municipality, resident)
    assert url.startswith(paypay.base_url + "/checkout/")
    assert payment.provider == "paypay"
    assert paypay.payments[payment.order_id]["amount"] == {"amount": request.total_amount, "currency": "JPY"}
    assert notify_url(provider_for(municipality).name).endswith("/payments/paypay/notify/")
    # A second click on 支払う reuses the same QR code.
    assert start_payment(request) == url
    assert [p for p in paypay.requests if p == ("POST", "/v2/codes")] == [("POST", "/v2/codes")]
    paid = paypay.pay(payment.order_id)
    body = paypay.webhook_body(payment.order_id)
    assert webhook(body).content == b"ok"
    assert webhook(body).content == b"duplicate"
    response = back_from_paypay(paypay, payment)
    assert response.status_code == 302 and response.url.endswith(f"/r/{request.public_id}/done/")
    request.refresh_from_db()
    payment.refresh_from_db()
    assert request.state == State.RECEIVED and payment.status == PaymentStatus.CAPTURED
    assert payment.provider_payment_id == paid["paymentId"]
    assert RequestEvent.objects.filter(request=request, to_state=State.RECEIVED).count() == 1


def test_return_before_the_webhook_settles_by_query(paypay, municipality, resident):
    request, payment, _url = start(municipality, resident)
    paypay.pay(payment.order_id)
    back_from_paypay(paypay, payment)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED
    assert RequestEvent.objects.get(request=request, to_state=State.RECEIVED).reason.startswith("return:")


def test_forged_webhook_for_an_unpaid_order_changes_nothing(paypay, municipality, resident):
    request, payment, _url = start(municipality, resident)
    paypay.payments[payment.order_id]["paymentId"] = "123"
    assert webhook(paypay.webhook_body(payment.order_id)).content == b"ok"  # PayPay says CREATED
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert ProviderNotification.objects.get().outcome == "ignored"


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'{"merchant_order_id": 5, "state": "COMPLETED"}',
                                  b'{"state": "COMPLETED"}',
                                  b'{"merchant_order_id": "' + b"M" * 41 + b'", "state": "x"}',
                                  b"\xff\xfe", b"{}" + b" " * 20000])
def test_malformed_webhook_is_refused(paypay, body):
    assert webhook(body).status_code == 400
    assert not ProviderNotification.objects.exists()


def test_webhook_for_an_order_we_do_not_know_is_acknowledged_counted_and_not_stored(paypay):
    from madoguchi.core.throttle import tallies

    for n in range(30):
        body = b'{"merchant_order_id": "MD%03d", "state": "COMPLETED", "notification_type": "Transaction"}' % n
        assert webhook(body).content == b"ok"
    assert not ProviderNotification.objects.exists()
    assert tallies("payments:unknown_notification:") == {"payments:unknown_notification:paypay": 30}


@pytest.mark.parametrize("fault", ["500", "html", "stall"])
def test_webhook_while_the_api_is_down_asks_paypay_to_retry(paypay, municipality, resident, fault):
    _request, payment, _url = start(municipality, resident)
    paypay.pay(payment.order_id)
    paypay.fail_next("GET /v2/codes/payments/", fault)
    assert webhook(paypay.webhook_body(payment.order_id)).status_code == 503
    assert not ProviderNotification.objects.exists()
    assert webhook(paypay.webhook_body(payment.order_id)).content == b"ok"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED


@pytest.mark.parametrize("tamper", ["sig", "order_id", "missing"])
def test_tampered_return_is_refused(paypay, municipality, resident, tamper):
    _request, payment, _url = start(municipality, resident)
    other_request, other, _ = start(municipality, resident.household.members.first())
    paypay.pay(payment.order_id)
    query = parse_qs(urlsplit(paypay.payments[payment.order_id]["redirectUrl"]).query)
    params = {k: v[0] for k, v in query.items()}
    if tamper == "sig":
        params["sig"] = "0" * 64
    elif tamper == "order_id":
        params["order_id"] = other.order_id
    else:
        del params["sig"]
    response = Client().get(reverse("payments:return", args=["paypay"]), params)
    assert response.status_code == 400 and "お支払いの結果を確認できませんでした" in response.content.decode()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


def test_create_that_timed_out_after_paypay_made_the_code_starts_a_fresh_attempt(paypay, municipality, resident):
    request = sign(draft(municipality), resident)
    paypay.fail_next("POST /v2/codes", "stall")
    with pytest.raises(actions.ActionError, match="決済サービスに接続できませんでした"):
        start_payment(request)
    first = request.payments.get()
    assert first.order_id in paypay.payments  # PayPay did create it
    url = start_payment(request)
    first.refresh_from_db()
    assert first.status == PaymentStatus.FAILED  # DUPLICATE_DYNAMIC_QR_REQUEST: never shown to anyone
    second = request.payments.get(status=PaymentStatus.PENDING)
    assert second.order_id != first.order_id and url.startswith(paypay.base_url)


def test_wrong_or_missing_credentials_give_a_clear_error(paypay, municipality, resident, monkeypatch):
    request = sign(draft(municipality), resident)
    vault.set_secret(municipality, "PAYPAY_API_SECRET", "d3Jvbmc=")
    with pytest.raises(actions.ActionError, match="お支払いを開始できませんでした"):
        start_payment(request)
    assert ("POST", "/v2/codes") in paypay.requests and not paypay.payments  # 401 UNAUTHORIZED
    vault.delete_secret(municipality, "PAYPAY_API_KEY")
    with pytest.raises(actions.ActionError, match="お支払いを開始できませんでした"):
        start_payment(request)
    assert not request.payments.filter(status=PaymentStatus.PENDING).exists()


def paid(paypay, municipality, resident, **overrides):
    request, payment, _url = start(municipality, resident, **overrides)
    paypay.pay(payment.order_id)
    webhook(paypay.webhook_body(payment.order_id))
    request.refresh_from_db()
    return request, request.payments.get(pk=payment.pk)


@pytest.fixture
def clerk(municipality):
    return Staff.objects.create(username="clerk", municipality=municipality, role=Role.CLERK)


def test_rejection_refunds_through_paypay(paypay, municipality, resident, clerk):
    request, payment = paid(paypay, municipality, resident)
    actions.reject(request, clerk, "書類不備")
    request.refresh_from_db()
    payment.refresh_from_db()
    assert request.state == State.REFUNDED and payment.status == PaymentStatus.REFUNDED
    assert paypay.payments[payment.order_id]["status"] == "REFUNDED"
    assert list(paypay.refunds) == [f"refund-{payment.order_id}"]


def test_partial_refund_through_paypay(paypay, municipality, resident, clerk):
    request, payment = paid(paypay, municipality, resident, copies=3)
    actions.refund_unissuable_copies(request, clerk, 2)
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.PARTIALLY_REFUNDED, 300)
    status = get_provider("paypay").query(payment)
    assert (status.status, status.refunded_amount) == ("partially_refunded", 300)
    assert services.reconcile(municipality, timezone.localdate()) == []


def test_refund_whose_answer_stalled_is_not_sent_twice(paypay, municipality, resident, clerk):
    request, payment = paid(paypay, municipality, resident)
    paypay.fail_next("POST /v2/refunds/", "stall")
    actions.reject(request, clerk, "書類不備")
    refund = Refund.objects.get()
    assert refund.status == "requested" and len(paypay.refunds) == 1  # PayPay refunded
    assert services.retry_refunds(timezone.now() + datetime.timedelta(minutes=6)) == 1
    refund.refresh_from_db()
    request.refresh_from_db()
    assert refund.status == "done" and request.state == State.REFUNDED
    assert len(paypay.refunds) == 1
    assert [r for r in paypay.requests if r == ("POST", "/v2/refunds/")] == [("POST", "/v2/refunds/")]


def test_reconciliation_repairs_a_payment_whose_webhook_never_came(paypay, municipality, resident):
    request, payment, _url = start(municipality, resident)
    paypay.pay(payment.order_id)
    found = services.reconcile(municipality, timezone.localdate())
    assert [(m.kind, m.repaired) for m in found] == [(MismatchKind.CAPTURE_MISSING_HERE, True)]
    request.refresh_from_db()
    assert request.state == State.RECEIVED
    paypay.payments[payment.order_id]["amount"]["amount"] = 1
    assert [m.kind for m in services.reconcile(municipality, timezone.localdate())] == [MismatchKind.AMOUNT]


def test_pending_payment_is_recovered_by_query_after_paypay_timed_out(paypay, municipality, resident):
    request, payment, _url = start(municipality, resident)
    paypay.pay(payment.order_id)
    later = timezone.now() + datetime.timedelta(minutes=11)
    paypay.fail_next("GET /v2/codes/payments/", "stall")
    assert services.recover_pending(later) == 0
    assert services.recover_pending(later) == 1
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.CAPTURED


def test_another_providers_return_cannot_settle_a_paypay_order(paypay, municipality, resident):
    from madoguchi.payments.contrib.sandbox import gateway

    _request, payment, _url = start(municipality, resident)
    paypay.pay(payment.order_id)
    params = {"order_id": payment.order_id, "charge_id": "ch_x", "sig": gateway.mac(f"{payment.order_id}.ch_x")}
    response = Client().get(reverse("payments:return", args=["sandbox"]), params)
    assert response.status_code == 404
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
