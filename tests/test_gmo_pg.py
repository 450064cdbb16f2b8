"""The GMO-PG link-type provider against a local fake of GMO Payment Gateway (tests/fake_gmo_pg.py)."""

import datetime
import urllib.error
import urllib.request

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from madoguchi.applications import actions
from madoguchi.applications.models import RequestEvent, State
from madoguchi.payments import services
from madoguchi.payments.models import MismatchKind, PaymentStatus, ProviderNotification, Refund
from madoguchi.payments.providers import get_provider
from madoguchi.tenancy import vault
from madoguchi.tenancy.models import Role, Staff

from .fake_gmo_pg import FakeGmoPg
from .flow import draft, sign, start_payment

pytestmark = pytest.mark.django_db(transaction=True)
SHOP_ID, SHOP_PASS = "tshop00012345", "shoppass9"


@pytest.fixture
def gmo(municipality, monkeypatch):
    with FakeGmoPg(SHOP_ID, SHOP_PASS) as fake:
        code = municipality.code
        vault.set_secret(municipality, "GMO_PG_SHOP_ID", SHOP_ID)
        vault.set_secret(municipality, "GMO_PG_SHOP_PASS", SHOP_PASS)
        for name, value in {f"MADOGUCHI_PAYMENT_PROVIDER_{code}": "gmo_pg", "MADOGUCHI_GMO_PG_API_URL": fake.base_url,
                            "MADOGUCHI_GMO_PG_LINK_URL": fake.base_url, "MADOGUCHI_GMO_PG_TIMEOUT": "0.5"}.items():
            monkeypatch.setenv(name, value)
        yield fake


@pytest.fixture
def clerk(municipality):
    return Staff.objects.create(username="clerk", municipality=municipality, role=Role.CLERK)


def open_page(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (the local fake)
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def start(gmo, municipality, resident, **overrides):
    request = sign(draft(municipality, **overrides), resident)
    url = start_payment(request)
    payment = request.payments.get(status=PaymentStatus.PENDING)
    assert open_page(url) == 200  # the resident opens GMO-PG's page: the URL hash is accepted
    return request, payment, url


def notify(body: bytes):
    return Client().post(reverse("payments:notify", args=["gmo_pg"]), data=body,
                         content_type="application/x-www-form-urlencoded")


def back(result: str):
    return Client().get(reverse("payments:return", args=["gmo_pg"]), {"result": result})


def test_link_type_payment_settles_once_and_answers_zero(gmo, municipality, resident):
    request, payment, url = start(gmo, municipality, resident)
    assert url.startswith(f"{gmo.base_url}/v1/plus/{SHOP_ID}/checkout/")
    assert gmo.trades[payment.order_id]["Amount"] == str(request.total_amount)
    gmo.pay(payment.order_id)
    body = gmo.notification(payment.order_id)
    assert notify(body).content == b"0"
    assert notify(body).content == b"0"  # a replay: acknowledged the same way, nothing twice
    response = back(gmo.result_param(payment.order_id))
    assert response.status_code == 302 and response.url.endswith(f"/r/{request.public_id}/done/")
    request.refresh_from_db()
    payment.refresh_from_db()
    assert request.state == State.RECEIVED and payment.status == PaymentStatus.CAPTURED
    assert payment.provider_payment_id == gmo.trades[payment.order_id]["AccessID"]
    assert RequestEvent.objects.filter(request=request, to_state=State.RECEIVED).count() == 1
    assert ProviderNotification.objects.count() == 1


def test_altered_checkout_url_is_refused_by_the_gateway(gmo, municipality, resident):
    _request, payment, url = start(gmo, municipality, resident)
    head, _, gamma = url.rpartition(".")
    assert open_page(f"{head}.{'0' * 64}") == 400


def test_return_first_settles_by_search_trade(gmo, municipality, resident):
    request, payment, _url = start(gmo, municipality, resident)
    gmo.pay(payment.order_id)
    back(gmo.result_param(payment.order_id))
    assert RequestEvent.objects.get(request=request, to_state=State.RECEIVED).reason.startswith("return:")


@pytest.mark.parametrize("tamper", ["hash", "amount", "order", "garbage", "empty", "long"])
def test_tampered_return_is_refused(gmo, municipality, resident, tamper):
    _request, payment, _url = start(gmo, municipality, resident)
    gmo.pay(payment.order_id)
    good = gmo.result_param(payment.order_id)
    alpha, _, gamma = good.partition(".")
    forged = gmo.result_param(payment.order_id, Amount="1").split(".")[0]
    result = {"hash": f"{alpha}.{'f' * 64}", "amount": f"{forged}.{gamma}", "order": f"{alpha[:-4]}AAAA.{gamma}",
              "garbage": "!!!.###", "empty": "", "long": "A" * 9000 + "." + "0" * 64}[tamper]
    response = back(result)
    assert response.status_code == 400 and "お支払いの結果を確認できませんでした" in response.content.decode()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


def test_notification_from_another_shop_or_for_an_unpaid_order_changes_nothing(gmo, municipality, resident):
    _request, payment, _url = start(gmo, municipality, resident)
    assert notify(gmo.notification(payment.order_id, ShopID="tshop99999999")).status_code == 400
    assert notify(gmo.notification(payment.order_id, Status="CAPTURE")).content == b"0"  # GMO-PG says UNPROCESSED
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert ProviderNotification.objects.get().outcome == "ignored"


@pytest.mark.parametrize("body", [b"", b"OrderID=", b"\xff=\xfe", b"OrderID=MD1&&&", b"OrderID=" + b"M" * 41,
                                  b"OrderID=x" + b"&a=b" * 5000])
def test_malformed_notification_is_refused(gmo, body):
    assert notify(body).status_code == 400
    assert not ProviderNotification.objects.exists()


@pytest.mark.parametrize("fault", ["500", "busy", "stall"])
def test_notification_while_the_gateway_is_down_is_retried(gmo, municipality, resident, fault):
    _request, payment, _url = start(gmo, municipality, resident)
    gmo.pay(payment.order_id)
    gmo.fail_next("/payment/SearchTrade.idPass", fault)
    assert notify(gmo.notification(payment.order_id)).status_code == 503
    assert notify(gmo.notification(payment.order_id)).content == b"0"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED


def paid(gmo, municipality, resident, **overrides):
    request, payment, _url = start(gmo, municipality, resident, **overrides)
    gmo.pay(payment.order_id)
    notify(gmo.notification(payment.order_id))
    request.refresh_from_db()
    payment.refresh_from_db()
    return request, payment


def test_rejection_voids_the_sale_of_the_same_day(gmo, municipality, resident, clerk):
    request, payment = paid(gmo, municipality, resident)
    actions.reject(request, clerk, "書類不備")
    request.refresh_from_db()
    payment.refresh_from_db()
    assert request.state == State.REFUNDED and payment.status == PaymentStatus.REFUNDED
    assert gmo.trades[payment.order_id]["Status"] == "VOID"


def test_refund_of_an_earlier_sale_is_a_return(gmo, municipality, resident, clerk):
    request, payment = paid(gmo, municipality, resident)
    gmo.trades[payment.order_id]["ProcessDate"] = "20200101120000"
    actions.cancel(request, actor_kind="resident")
    assert gmo.trades[payment.order_id]["Status"] == "RETURN"


def test_partial_refund_changes_the_amount_and_reconciles(gmo, municipality, resident, clerk):
    request, payment = paid(gmo, municipality, resident, copies=3)
    actions.refund_unissuable_copies(request, clerk, 1)
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.PARTIALLY_REFUNDED, 600)
    assert gmo.trades[payment.order_id]["Amount"] == str(payment.amount - 600)
    status = get_provider("gmo_pg").query(payment)
    assert (status.status, status.amount, status.refunded_amount) == ("partially_refunded", payment.amount, 600)
    assert services.reconcile(municipality, timezone.localdate()) == []
    gmo.trades[payment.order_id]["Amount"] = "1"  # changed at the gateway behind our back
    assert [m.kind for m in services.reconcile(municipality, timezone.localdate())] == [MismatchKind.AMOUNT]


def test_refund_whose_answer_stalled_is_applied_once(gmo, municipality, resident, clerk):
    request, payment = paid(gmo, municipality, resident, copies=2)
    gmo.fail_next("/payment/ChangeTran.idPass", "stall")
    actions.refund_unissuable_copies(request, clerk, 1)
    refund = Refund.objects.get()
    assert refund.status == "requested" and gmo.trades[payment.order_id]["Amount"] == str(payment.amount - 300)
    assert services.retry_refunds(timezone.now() + datetime.timedelta(minutes=6)) == 1
    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == "done" and payment.refunded_amount == 300
    assert gmo.trades[payment.order_id]["Amount"] == str(payment.amount - 300)  # not reduced twice
    assert gmo.calls.count("/payment/ChangeTran.idPass") == 1


def test_reconciliation_repairs_a_sale_whose_notification_never_came(gmo, municipality, resident):
    request, payment, _url = start(gmo, municipality, resident)
    gmo.pay(payment.order_id)
    found = services.reconcile(municipality, timezone.localdate())
    assert [(m.kind, m.repaired) for m in found] == [(MismatchKind.CAPTURE_MISSING_HERE, True)]
    request.refresh_from_db()
    assert request.state == State.RECEIVED


def test_wrong_shop_password_is_refused_not_retried(gmo, municipality, resident, monkeypatch):
    _request, payment, _url = start(gmo, municipality, resident)
    vault.set_secret(municipality, "GMO_PG_SHOP_PASS", "wrong")
    from madoguchi.payments.providers import ProviderRefused

    with pytest.raises(ProviderRefused, match="E01030002"):
        get_provider("gmo_pg").query(payment)
