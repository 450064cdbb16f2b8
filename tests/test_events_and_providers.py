"""Issue 9, the workflow's side: every history entry has a kind and structured data; payments and
identity report to the workflow by typed events; providers return to the URLs the channel stored
on the challenge or the payment; providers come from a registry and name themselves."""

import base64
import datetime
import importlib
import types

import pytest
from django.apps import apps
from django.contrib.messages import get_messages
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from madoguchi.applications import actions
from madoguchi.applications.models import EventKind, RequestEvent, State
from madoguchi.applications.signing_terms import canonical_bytes
from madoguchi.core.plugins import Registry
from madoguchi.identity import events as identity_events
from madoguchi.identity.contrib.sandbox import card as cards
from madoguchi.identity.models import SignatureEvidence
from madoguchi.payments import events as payment_events
from madoguchi.payments.contrib.sandbox import gateway
from madoguchi.payments.models import Payment
from madoguchi.payments.providers import PaymentProvider, get_provider
from madoguchi.payments.receipts import method
from madoguchi.tenancy.models import Role, Staff

from .flow import draft, received, sign, start_payment

pytestmark = pytest.mark.django_db(transaction=True)
fill_migration = importlib.import_module("madoguchi.applications.migrations.0005_fill_requestevent_kind")


@pytest.fixture
def clerk(municipality):
    return Staff.objects.create(username="clerk", municipality=municipality, role=Role.CLERK)


# --- RequestEvent.kind and data --------------------------------------------------------------------

def test_each_step_records_its_kind_and_structured_data(municipality, resident, clerk):
    request = received(municipality, resident, copies=3)
    payment = request.payments.get()
    actions.start_review(request, clerk)
    refund = actions.refund_unissuable_copies(request, clerk, 2)
    actions.approve(request, clerk)
    batch = actions.record_printed([request], clerk)
    again = actions.reprint(batch, clerk, "用紙詰まり")
    actions.mark_mailed(request, clerk, "1234-5678-9012")
    actions.complete(request)
    events = list(request.events.all())
    assert [e.kind for e in events] == [
        "created", "signed", "payment_started", "received", "review_started", "copies_reduced", "approved",
        "issued", "reprinted", "mailed", "completed"]
    by_kind = {e.kind: e for e in events}
    evidence = SignatureEvidence.objects.get(request=request)
    assert by_kind["created"].data == {"channel": "web"}
    assert by_kind["signed"].data == {"jpki_serial": evidence.serial, "match_result": "exact", "provider": "sandbox"}
    request.refresh_from_db()
    assert by_kind["received"].data == {"order_id": payment.order_id, "source": "notification",
                                        "reception_number": request.reception_number}
    assert by_kind["copies_reduced"].data == {"copies_from": 3, "copies_to": 2, "refund_amount": refund.amount,
                                              "order_id": payment.order_id}
    assert by_kind["issued"].data == {"batch_id": batch.pk}
    assert by_kind["reprinted"].data == {"batch_id": again.pk, "reprint_of": batch.pk}
    assert by_kind["mailed"].data == {"tracking_number": "1234-5678-9012"}
    # The words stay for people: the same text as before kinds existed.
    assert by_kind["signed"].reason == f"jpki:{evidence.serial} match:exact"
    assert by_kind["issued"].reason == f"batch:{batch.pk}"
    # Statistics can count without reading text.
    assert RequestEvent.objects.filter(municipality=municipality, kind=EventKind.RECEIVED).count() == 1


def test_reject_and_refund_are_recorded_with_the_amount(municipality, resident, clerk):
    request = received(municipality, resident)
    payment = request.payments.get()
    actions.reject(request, clerk, "書類不備")
    refunded = request.events.get(kind=EventKind.REFUNDED)
    assert refunded.data == {"order_id": payment.order_id, "amount": payment.amount}
    assert request.events.get(kind=EventKind.REJECTED).reason == "書類不備"


def test_cancel_and_expiry_have_their_kinds(municipality, resident):
    cancelled = actions.cancel(draft(municipality), actor_kind="resident", reason="やめます")
    assert cancelled.events.last().kind == EventKind.CANCELLED
    stale = draft(municipality)
    assert actions.expire_abandoned(timezone.now() + actions.ABANDON_AFTER + datetime.timedelta(minutes=1)) == 1
    assert stale.events.last().kind == EventKind.EXPIRED


@pytest.mark.parametrize(("from_state", "to_state", "reason", "kind", "data"), [
    ("", "draft", "created", "created", {}),
    ("draft", "signed", "jpki:0a1b match:near", "signed", {"jpki_serial": "0a1b", "match_result": "near"}),
    ("signed", "awaiting_payment", "", "payment_started", {}),
    ("awaiting_payment", "received", "notification:MD12AB", "received",
     {"order_id": "MD12AB", "source": "notification"}),
    ("received", "in_review", "", "review_started", {}),
    ("received", "approved", "flags acknowledged", "approved", {}),
    ("received", "rejected", "書類不備", "rejected", {}),
    ("approved", "issued", "batch:7", "issued", {"batch_id": 7}),
    ("issued", "issued", "reprint:9 of batch:7: 用紙詰まり", "reprinted", {"batch_id": 9, "reprint_of": 7}),
    ("issued", "mailed", "1234", "mailed", {"tracking_number": "1234"}),
    ("issued", "mailed", "", "mailed", {}),
    ("mailed", "completed", "", "completed", {}),
    ("draft", "cancelled", "", "cancelled", {}),
    ("signed", "expired", "", "expired", {}),
    ("rejected", "refunded", "MD12AB", "refunded", {"order_id": "MD12AB"}),
    ("in_review", "in_review", "copies 3->2, refund 300", "copies_reduced",
     {"copies_from": 3, "copies_to": 2, "refund_amount": 300}),
    ("in_review", "in_review", "something else", "", {}),  # unknown: left for a person, not guessed
])
def test_the_data_migration_reads_the_old_reasons(from_state, to_state, reason, kind, data):
    event = types.SimpleNamespace(from_state=from_state, to_state=to_state, reason=reason)
    assert fill_migration.kind_and_data(event) == (kind, data)


def test_the_data_migration_fills_rows_without_a_kind(municipality, resident):
    request = sign(draft(municipality), resident)
    RequestEvent.objects.update(kind="", data={})
    fill_migration.fill(apps, None)
    assert [(e.kind, sorted(e.data)) for e in request.events.all()] == [
        ("created", []), ("signed", ["jpki_serial", "match_result"])]


# --- typed events ------------------------------------------------------------------------------------

def test_a_capture_nobody_subscribes_to_is_refused_loudly(municipality, resident):
    request = sign(draft(municipality), resident)
    start_payment(request)
    payment = request.payments.get()
    receivers = payment_events.payment_captured.receivers
    payment_events.payment_captured.receivers = []
    payment_events.payment_captured.sender_receivers_cache.clear()
    try:
        with pytest.raises(ImproperlyConfigured):
            payment_events.publish_payment_captured(payment, source="test")
    finally:
        payment_events.payment_captured.receivers = receivers
        payment_events.payment_captured.sender_receivers_cache.clear()


# --- providers return to the stored URL ------------------------------------------------------------------

def test_the_payment_return_goes_to_the_url_the_channel_stored(municipality, resident):
    """A channel other than the web (a kiosk, say) gets its resident back on its own page."""
    request = sign(draft(municipality), resident)
    actions.start_payment(request, "/kiosk/139998/paid/")
    payment = request.payments.get()
    assert payment.return_url == "/kiosk/139998/paid/"
    charge = gateway.capture(payment.provider_payment_id)
    response = Client().get(gateway.return_url_for(charge))
    assert response.status_code == 302 and response.url == "/kiosk/139998/paid/"
    request.refresh_from_db()
    assert request.state == State.RECEIVED


def test_an_attempt_without_a_stored_url_gets_a_neutral_page(municipality, resident):
    request = sign(draft(municipality), resident)
    actions.start_payment(request, "/x/")
    Payment.objects.update(return_url="")
    charge = gateway.capture(request.payments.get().provider_payment_id)
    response = Client().get(gateway.return_url_for(charge))
    assert response.status_code == 200 and "申請の状況確認のページ" in response.content.decode()


def card_signature(request, resident, challenge) -> dict:
    certificate, signature = cards.sign(cards.issue_card(resident), cards.DEMO_PIN,
                                        canonical_bytes(request, challenge.nonce))
    return {"nonce": challenge.nonce, "certificate": base64.b64encode(certificate).decode(),
            "signature": base64.b64encode(signature).decode()}


def test_the_card_returns_to_the_urls_the_channel_stored(municipality, resident):
    request = draft(municipality)
    challenge = actions.start_signing(request, return_url="/kiosk/after-sign/", retry_url="/kiosk/sign-again/")
    returned = reverse("identity_sandbox:returned")
    response = Client().post(returned, card_signature(request, resident, challenge))
    assert response.status_code == 302 and response.url == "/kiosk/after-sign/"
    request.refresh_from_db()
    assert request.state == State.SIGNED
    # Replayed hand-back: refused, back to the retry page with the reason, nothing recorded twice.
    replay = Client().post(returned, card_signature(request, resident, challenge))
    assert replay.status_code == 302 and replay.url == "/kiosk/sign-again/"
    assert any("署名済み" in str(m) for m in get_messages(replay.wsgi_request))
    assert SignatureEvidence.objects.filter(request=request).count() == 1


def test_a_forged_signature_goes_back_to_the_retry_url(municipality, resident):
    request = draft(municipality)
    challenge = actions.start_signing(request, return_url="/after/", retry_url="/again/")
    data = card_signature(request, resident, challenge)
    data["signature"] = "AAAA" + data["signature"][4:]
    response = Client().post(reverse("identity_sandbox:returned"), data)
    assert response.status_code == 302 and response.url == "/again/"
    assert any("確認できませんでした" in str(m) for m in get_messages(response.wsgi_request))
    request.refresh_from_db()
    assert request.state == State.DRAFT and not SignatureEvidence.objects.exists()


@pytest.mark.parametrize("body", [
    b"nonce=%00&certificate=AAAA&signature=AAAA",                # NUL byte
    b"nonce=%ED%A0%80&certificate=AAAA&signature=AAAA",          # a lone surrogate, UTF-8 encoded
    b"nonce=n&certificate=%ED%A0%80&signature=AAAA",
    b"nonce=n&certificate=" + b"A" * 20000 + b"&signature=AAAA",  # oversized
    b"nonce=n&certificate=&&&signature=%%%",                      # malformed
])
def test_the_card_hand_back_refuses_garbage_without_a_500(municipality, resident, body):
    request = draft(municipality)
    actions.start_signing(request, return_url="/after/", retry_url="/again/")
    response = Client(raise_request_exception=False).post(
        reverse("identity_sandbox:returned"), data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    request.refresh_from_db()
    assert request.state == State.DRAFT


def test_the_card_hand_back_is_post_only():
    assert Client().get(reverse("identity_sandbox:returned")).status_code == 405


def test_a_signature_nobody_subscribes_to_is_refused_loudly(municipality):
    request = draft(municipality)
    challenge = actions.start_signing(request, return_url="/a/", retry_url="/b/")
    receivers = identity_events.signature_returned.receivers
    identity_events.signature_returned.receivers = []
    identity_events.signature_returned.sender_receivers_cache.clear()
    try:
        with pytest.raises(ImproperlyConfigured):
            identity_events.publish_signature_returned(challenge, certificate=b"", signature=b"", provider="sandbox")
    finally:
        identity_events.signature_returned.receivers = receivers
        identity_events.signature_returned.sender_receivers_cache.clear()


# --- the registry -----------------------------------------------------------------------------------

def test_a_fresh_registry_registers_by_decorator_and_refuses_doubles():
    register = Registry("payment")

    @register("demo")
    class DemoProvider(PaymentProvider):
        label = "デモ"

    assert register["demo"].name == DemoProvider.name == "demo"
    assert register["demo"].label == "デモ" and register["demo"].acknowledgement == b"ok"
    assert "demo" in register and [p.name for p in register] == ["demo"]
    with pytest.raises(ValueError, match="already registered"):
        register("demo")(DemoProvider)
    with pytest.raises(ValueError, match="identifier"):
        register("../evil")
    with pytest.raises(NotImplementedError):
        register["demo"].query(None)
    for name in ("other", "", "a/b", "x\x00", "\ud800"):
        with pytest.raises(KeyError):
            register[name]


def test_a_fresh_registry_imports_a_plugin_package_on_demand_and_says_what_is_missing():
    register = Registry("payment", "madoguchi.payments.contrib")
    with pytest.raises(KeyError):
        register["nonexistent"]
    with pytest.raises(KeyError):
        register["sandbox.provider"]


def test_providers_name_and_label_themselves():
    assert {name: str(get_provider(name).label) for name in ("sandbox", "paypay", "gmo_pg")} == {
        "sandbox": "クレジットカード(テスト)", "paypay": "PayPay", "gmo_pg": "クレジットカード"}
    assert get_provider("gmo_pg").acknowledgement == get_provider("gmo_pg").duplicate_acknowledgement == b"0"


def test_the_receipt_asks_the_provider_for_the_method(municipality, resident):
    payment = received(municipality, resident).payments.get()
    assert method(payment) == "クレジットカード(テスト)"
    payment.provider = "retired_gateway"
    assert method(payment) == "retired_gateway"
