"""Money that never goes missing: faults, refunds (full and partial), reconciliation, recovery.

The sandbox gateway plays the provider, with its own ledger; outages are the gateway's (its answer
is lost after it did the work), never a patch of our code.
"""

import datetime
import io
import json

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from madoguchi.applications import actions
from madoguchi.applications.models import CertificateRequest, RequestEvent, State
from madoguchi.payments import services
from madoguchi.payments.contrib.sandbox import gateway
from madoguchi.payments.contrib.sandbox.models import SandboxCharge, SandboxRefund
from madoguchi.payments.models import (
    MismatchKind,
    Payment,
    PaymentStatus,
    ProviderNotification,
    ReconciliationMismatch,
    Refund,
    RefundStatus,
)
from madoguchi.payments.tasks import refund_payment
from madoguchi.tenancy.models import Role, Staff

from .conftest import make_resident
from .flow import draft, post_notification, received, sign, start_payment

pytestmark = pytest.mark.django_db(transaction=True)
LATER = datetime.timedelta(minutes=11)


@pytest.fixture
def clerk(municipality):
    return Staff.objects.create(username="clerk", municipality=municipality, role=Role.CLERK)


def awaiting(municipality, resident, **overrides) -> tuple[CertificateRequest, Payment]:
    request = sign(draft(municipality, **overrides), resident)
    start_payment(request)
    return request, request.payments.get()


def notify(payment: Payment, **changes):
    charge = SandboxCharge.objects.get(merchant_order_id=payment.order_id)
    data = json.loads(gateway.notification_body(charge))
    data.update(changes)
    body = json.dumps(data, separators=(",", ":")).encode()
    return post_notification(body)


def refresh(*objects):
    for o in objects:
        o.refresh_from_db()


def charge_of(payment: Payment) -> SandboxCharge:
    return SandboxCharge.objects.get(merchant_order_id=payment.order_id)


# --- faults ------------------------------------------------------------------------------------------

def test_notification_twice_settles_once(municipality, resident):
    request, payment = awaiting(municipality, resident)
    gateway.capture(payment.provider_payment_id)
    assert notify(payment, event_id="evt_a").content == b"ok"
    assert notify(payment, event_id="evt_a").content == b"duplicate"
    assert notify(payment, event_id="evt_b").content == b"ok"
    refresh(request, payment)
    assert payment.status == PaymentStatus.CAPTURED and request.state == State.RECEIVED
    assert RequestEvent.objects.filter(request=request, to_state=State.RECEIVED).count() == 1


def test_refund_notice_overtaking_the_capture_notice_still_settles_once(municipality, resident):
    request, payment = awaiting(municipality, resident)
    gateway.capture(payment.provider_payment_id)
    assert notify(payment, event_id="evt_2", status="refunded", type="charge.refunded").content == b"ok"
    assert notify(payment, event_id="evt_1").content == b"ok"
    refresh(request, payment)
    assert payment.status == PaymentStatus.CAPTURED and request.state == State.RECEIVED
    assert RequestEvent.objects.filter(request=request, to_state=State.RECEIVED).count() == 1
    # Our refund is only ever recorded from our own Refund rows: nothing was refunded here.
    assert payment.refunded_amount == 0 and not Refund.objects.exists()


def test_failed_notice_arriving_after_the_capture_changes_nothing(municipality, resident):
    request, payment = awaiting(municipality, resident)
    gateway.capture(payment.provider_payment_id)
    notify(payment, event_id="evt_1")
    assert notify(payment, event_id="evt_0", status="failed").content == b"ok"
    refresh(request, payment)
    assert payment.status == PaymentStatus.CAPTURED and request.state == State.RECEIVED
    assert ProviderNotification.objects.get(event_id="evt_0").outcome == "ignored"


def test_notification_before_the_return_then_the_return_settles_once(municipality, resident):
    request, payment = awaiting(municipality, resident)
    charge = gateway.capture(payment.provider_payment_id)
    notify(payment)
    response = Client().get(gateway.return_url_for(charge).replace("http://testserver", ""))
    assert response.status_code == 302
    refresh(request, payment)
    assert request.state == State.RECEIVED
    assert RequestEvent.objects.filter(request=request, to_state=State.RECEIVED).count() == 1


def test_notification_after_the_payment_expired_settles_and_refunds(municipality, resident):
    request, payment = awaiting(municipality, resident)
    actions.expire_abandoned(timezone.now() + actions.ABANDON_AFTER + LATER)
    gateway.capture(payment.provider_payment_id)
    assert notify(payment).content == b"ok"
    refresh(request, payment)
    assert request.state == State.EXPIRED
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.REFUNDED, payment.amount)
    assert charge_of(payment).status == "refunded"
    assert Refund.objects.get(payment=payment).status == RefundStatus.DONE


def test_provider_timing_out_after_charging_is_recovered_by_a_status_query(municipality, resident):
    """The resident paid; the notification was lost and the return's status query timed out."""
    request, payment = awaiting(municipality, resident)
    charge = gateway.capture(payment.provider_payment_id)
    with gateway.outage("query"):
        response = Client().get(gateway.return_url_for(charge).replace("http://testserver", ""))
    assert response.status_code == 302  # the done page, showing 支払待ち
    refresh(request, payment)
    assert payment.status == PaymentStatus.PENDING
    assert services.recover_pending(timezone.now()) == 0  # too early to ask
    with gateway.outage("query"):
        assert services.recover_pending(timezone.now() + LATER) == 0  # still down: next sweep
    assert services.recover_pending(timezone.now() + LATER) == 1
    refresh(request, payment)
    assert payment.status == PaymentStatus.CAPTURED and request.state == State.RECEIVED
    assert RequestEvent.objects.get(request=request, to_state=State.RECEIVED).reason.startswith("query:")


def test_pending_payment_never_paid_stays_pending_after_the_query(municipality, resident):
    request, payment = awaiting(municipality, resident)
    assert services.recover_pending(timezone.now() + LATER) == 0
    refresh(payment)
    assert payment.status == PaymentStatus.PENDING


def test_worker_dying_between_capture_and_our_write_is_repaired_by_reconciliation(municipality, resident):
    """The gateway captured; our notification handler died before its transaction committed."""
    request, payment = awaiting(municipality, resident)
    gateway.capture(payment.provider_payment_id)
    found = services.reconcile(municipality, timezone.localdate())
    assert [(m.order_id, m.kind, m.repaired) for m in found] == [
        (payment.order_id, MismatchKind.CAPTURE_MISSING_HERE, True)]
    refresh(request, payment)
    assert payment.status == PaymentStatus.CAPTURED and request.state == State.RECEIVED
    assert RequestEvent.objects.get(request=request, to_state=State.RECEIVED).reason.startswith("reconciliation:")
    # The late notification now changes nothing, and a rerun finds the day clean.
    assert notify(payment).content == b"ok"
    assert services.reconcile(municipality, timezone.localdate()) == []
    assert ReconciliationMismatch.objects.filter(repaired=True).count() == 1


@pytest.mark.parametrize("tamper", ["amount", "order_id", "charge_id"])
def test_tampered_return_parameters_settle_nothing(municipality, resident, tamper):
    request, payment = awaiting(municipality, resident)
    other_request, other = awaiting(municipality, make_resident(municipality, "佐藤 一郎", sex="1"))
    charge = gateway.capture(payment.provider_payment_id)
    params = {"order_id": charge.merchant_order_id, "charge_id": charge.charge_id,
              "sig": gateway.mac(f"{charge.merchant_order_id}.{charge.charge_id}")}
    if tamper == "amount":
        # Not part of the protocol: an added amount is ignored, the status query decides.
        params["amount"] = "1"
        response = Client().get(reverse("payments:return", args=["sandbox"]), params)
        assert response.status_code == 302
        refresh(payment)
        assert payment.status == PaymentStatus.CAPTURED and payment.amount == request.total_amount
        return
    params[tamper] = other.order_id if tamper == "order_id" else other.provider_payment_id
    response = Client().get(reverse("payments:return", args=["sandbox"]), params)
    assert response.status_code == 400
    assert "お支払いの結果を確認できませんでした" in response.content.decode()
    refresh(payment, other)
    assert payment.status == other.status == PaymentStatus.PENDING


def test_gateway_reporting_a_different_amount_on_return_does_not_settle(municipality, resident):
    request, payment = awaiting(municipality, resident)
    charge = gateway.capture(payment.provider_payment_id)
    SandboxCharge.objects.filter(pk=charge.pk).update(amount=1)
    Client().get(gateway.return_url_for(charge).replace("http://testserver", ""))
    refresh(request, payment)
    assert payment.status == PaymentStatus.PENDING and request.state == State.AWAITING_PAYMENT


def test_checkout_created_again_after_a_timeout_is_the_same_charge(municipality, resident):
    """The order id is the create call's idempotency key: a retry never makes a second charge."""
    request, payment = awaiting(municipality, resident)
    start_payment(request)
    assert request.payments.count() == 1
    assert SandboxCharge.objects.filter(merchant_order_id=payment.order_id).count() == 1


# --- refunds ---------------------------------------------------------------------------------------

def test_cancellation_after_payment_refunds_and_tells_the_resident(municipality, resident):
    request = received(municipality, resident)
    actions.cancel(request, actor_kind="resident")
    payment = request.payments.get()
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.REFUNDED, payment.amount)
    assert charge_of(payment).refunded_amount == payment.amount
    refunded = [m for m in mail.outbox if m.subject == "【窓口市】手数料を返金しました"]
    assert len(refunded) == 1 and f"{payment.amount}円を返金しました" in refunded[0].body


def test_refund_whose_answer_timed_out_is_sent_again_and_refunds_once(municipality, resident, clerk):
    request = received(municipality, resident)
    with gateway.outage("refund"):
        actions.reject(request, clerk, "書類不備")
    payment = request.payments.get()
    refund = Refund.objects.get(payment=payment)
    refresh(request, payment)
    assert refund.status == RefundStatus.REQUESTED and payment.status == PaymentStatus.CAPTURED
    assert request.state == State.REJECTED
    assert charge_of(payment).status == "refunded"  # the gateway did refund
    assert services.retry_refunds(timezone.now() + LATER) == 1
    refresh(request, payment, refund)
    assert refund.status == RefundStatus.DONE and payment.status == PaymentStatus.REFUNDED
    assert request.state == State.REFUNDED
    assert SandboxRefund.objects.filter(charge__merchant_order_id=payment.order_id).count() == 1
    assert charge_of(payment).refunded_amount == payment.amount
    assert services.retry_refunds(timezone.now() + LATER) == 0


def test_refund_task_run_twice_refunds_once(municipality, resident, clerk):
    request = received(municipality, resident)
    actions.reject(request, clerk, "書類不備")
    refund = Refund.objects.get()
    assert refund_payment.call(refund.pk) == RefundStatus.DONE
    assert charge_of(refund.payment).refunded_amount == refund.payment.amount
    assert SandboxRefund.objects.count() == 1


def test_refund_refused_by_the_gateway_stays_requested_for_a_person(municipality, resident, clerk):
    request = received(municipality, resident)
    payment = request.payments.get()
    SandboxCharge.objects.filter(merchant_order_id=payment.order_id).update(status="created")
    actions.reject(request, clerk, "書類不備")
    assert Refund.objects.get().status == RefundStatus.REQUESTED
    refresh(payment)
    assert payment.status == PaymentStatus.CAPTURED


def test_partial_refund_when_fewer_copies_can_be_issued(municipality, resident, clerk):
    request = received(municipality, resident, copies=3)
    payment = request.payments.get()
    assert payment.amount == 3 * 300 + 110
    refund = actions.refund_unissuable_copies(request, clerk, 1)
    assert refund.amount == 600
    refresh(request, payment, refund)
    assert request.copies == 1 and request.state == State.RECEIVED
    assert (payment.status, payment.refunded_amount, payment.refundable_amount) == (
        PaymentStatus.PARTIALLY_REFUNDED, 600, 410)
    assert charge_of(payment).refunded_amount == 600 and charge_of(payment).status == "partially_refunded"
    assert RequestEvent.objects.filter(request=request, reason="copies 3->1, refund 600").count() == 1
    notice = [m for m in mail.outbox if m.subject == "【窓口市】手数料の一部を返金しました"]
    assert len(notice) == 1 and "600円" in notice[0].body and "1通" in notice[0].body
    # Rejected afterwards: the rest goes back too, and the request ends 返金済み.
    actions.reject(request, clerk, "書類不備")
    refresh(request, payment)
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.REFUNDED, payment.amount)
    assert request.state == State.REFUNDED
    assert charge_of(payment).refunded_amount == payment.amount
    assert sorted(Refund.objects.values_list("amount", flat=True)) == [410, 600]


@pytest.mark.parametrize("issuable", [0, -1, 3, 4, 100])
def test_partial_refund_refuses_impossible_copy_counts(municipality, resident, clerk, issuable):
    request = received(municipality, resident, copies=3)
    with pytest.raises(actions.ActionError, match="通数"):
        actions.refund_unissuable_copies(request, clerk, issuable)
    refresh(request)
    assert request.copies == 3 and not Refund.objects.exists()


def test_partial_refund_refused_before_payment_and_for_other_municipalities(municipality, other_municipality,
                                                                           resident, clerk):
    request, _payment = awaiting(municipality, resident, copies=3)
    with pytest.raises(actions.ActionError, match="通数を変更できません"):
        actions.refund_unissuable_copies(request, clerk, 1)
    paid = received(municipality, make_resident(municipality, "佐藤 一郎", sex="1"), copies=2)
    outsider = Staff.objects.create(username="outsider", municipality=other_municipality, role=Role.CLERK)
    with pytest.raises(actions.ActionError, match="権限"):
        actions.refund_unissuable_copies(paid, outsider, 1)
    assert not Refund.objects.exists()


def test_database_refuses_refunding_more_than_was_paid(municipality, resident):
    from django.db import IntegrityError

    payment = received(municipality, resident).payments.get()
    with pytest.raises(IntegrityError):
        Payment.objects.filter(pk=payment.pk).update(refunded_amount=payment.amount + 1)


def test_gateway_refuses_refunding_more_than_is_left(municipality, resident):
    payment = received(municipality, resident).payments.get()
    with pytest.raises(gateway.RefundRefused):
        gateway.refund(payment.provider_payment_id, payment.amount + 1, "too-much")
    assert charge_of(payment).refunded_amount == 0


# --- reconciliation --------------------------------------------------------------------------------

def test_reconciliation_reports_every_kind_of_mismatch(municipality, resident):
    today = timezone.localdate()
    residents = [make_resident(municipality, f"住民 {i}", sex="1") for i in range(4)]
    clean = received(municipality, resident).payments.get()
    not_at_provider = received(municipality, residents[0]).payments.get()
    SandboxCharge.objects.filter(merchant_order_id=not_at_provider.order_id).update(status="created")
    amount = received(municipality, residents[1]).payments.get()
    SandboxCharge.objects.filter(merchant_order_id=amount.order_id).update(amount=1)
    refunded_there = received(municipality, residents[2]).payments.get()
    gateway.refund(refunded_there.provider_payment_id, 100, "dashboard-refund")
    stranger = gateway.create_charge("MDFFFFFFFFFFFFFFFFFFFFFFFF", 410, "http://x/r", "http://x/n",
                                     merchant_id=municipality.code)
    gateway.capture(stranger.charge_id)
    other_town = gateway.create_charge("MDEEEEEEEEEEEEEEEEEEEEEEEE", 410, "http://x/r", "http://x/n",
                                       merchant_id="082082")
    gateway.capture(other_town.charge_id)

    found = {m.order_id: m for m in services.reconcile(municipality, today)}
    assert clean.order_id not in found and other_town.merchant_order_id not in found
    assert {order_id: m.kind for order_id, m in found.items()} == {
        not_at_provider.order_id: MismatchKind.NOT_CAPTURED_AT_PROVIDER,
        amount.order_id: MismatchKind.AMOUNT,
        refunded_there.order_id: MismatchKind.REFUND_MISSING_HERE,
        stranger.merchant_order_id: MismatchKind.UNKNOWN_ORDER,
    }
    assert not any(m.repaired for m in found.values())
    assert found[amount.order_id].theirs.startswith("captured 1円")
    # A rerun updates the same rows.
    services.reconcile(municipality, today)
    assert ReconciliationMismatch.objects.count() == 4
    # Another day is clean.
    assert services.reconcile(municipality, today - datetime.timedelta(days=1)) == []


def test_reconcile_command_prints_mismatches_and_fails_while_any_is_open(municipality, resident):
    payment = received(municipality, resident).payments.get()
    out = io.StringIO()
    call_command("payments", "reconcile", "--date", timezone.localdate().isoformat(), stdout=out)
    assert "0 mismatches, 0 open" in out.getvalue()
    SandboxCharge.objects.filter(merchant_order_id=payment.order_id).update(amount=1)
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("payments", "reconcile", "--date", timezone.localdate().isoformat(), stdout=out)
    assert exit_.value.code == 1
    assert f"{payment.order_id} amount OPEN" in out.getvalue()


@pytest.mark.parametrize("date", ["2026-13-01", "yesterday", "2026/01/01", "", "9" * 40])
def test_reconcile_command_refuses_a_malformed_date(municipality, date):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("payments", "reconcile", "--date", date, stdout=io.StringIO())


def test_daily_task_reconciles_yesterday(municipality, resident):
    from madoguchi.payments.tasks import reconcile_yesterday, recover_payments

    received(municipality, resident)
    assert reconcile_yesterday.call() == 0
    assert recover_payments.call() == "recovered 0, resent 0 refunds"
