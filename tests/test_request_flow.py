import datetime

import pytest
from django.core import mail

from madoguchi.applications import actions, reception
from madoguchi.applications.models import CertificateRequest, Flag, RequestEvent, State
from madoguchi.applications.signing_terms import canonical_bytes
from madoguchi.notifications.models import Notice
from madoguchi.payments import ledger
from madoguchi.payments.contrib.sandbox.models import SandboxCharge
from madoguchi.tenancy.models import Role, Staff

from .conftest import make_resident
from .flow import draft, pay, received, sign, start_payment, start_signing

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def clerk(municipality):
    return Staff.objects.create(username="clerk", municipality=municipality, role=Role.CLERK, totp_secret="A" * 32)


def test_draft_amount_comes_from_catalog(municipality):
    request = draft(municipality, copies=3)
    assert (request.fee_per_copy, request.postage_amount, request.total_amount) == (300, 110, 1010)
    assert request.state == State.DRAFT


@pytest.mark.parametrize("copies", [0, 11, -1])
def test_draft_refuses_copies_outside_1_to_10(municipality, copies):
    with pytest.raises(actions.ActionError, match="1通から10通"):
        draft(municipality, copies=copies)


def test_whole_journey_to_mailed(municipality, resident, clerk):
    request = received(municipality, resident)
    assert request.state == State.RECEIVED
    assert reception.is_valid(request.reception_number)
    assert request.expected_ship_date > datetime.date.today()
    assert request.delivery_address == resident.household.address
    assert request.auto_acceptable
    actions.approve(request, clerk)
    request.refresh_from_db()
    assert request.state == State.APPROVED and request.document.pages >= 1
    actions.record_printed([request], clerk)
    actions.mark_mailed(request, clerk, "1234-5678-9012")
    request.refresh_from_db()
    assert request.state == State.MAILED
    path = [(e.from_state, e.to_state) for e in request.events.all()]
    assert path == [("", "draft"), ("draft", "signed"), ("signed", "awaiting_payment"),
                    ("awaiting_payment", "received"), ("received", "approved"), ("approved", "issued"),
                    ("issued", "mailed")]
    assert [e.actor for e in request.events.filter(to_state__in=["approved", "issued", "mailed"])] == [clerk] * 3
    kinds = sorted(n.dedupe_key.split(":")[1] for n in Notice.objects.filter(request=request))
    assert kinds == ["mailed", "received"]
    assert [m.subject for m in mail.outbox] == ["【窓口市】証明書の申請を受け付けました",
                                                "【窓口市】証明書を発送しました"]
    assert "1234-5678-9012" in mail.outbox[1].body


def test_under_15_signature_is_refused(municipality, resident):
    # Issue 3: under 15 is rejected by the verification core (a JPKI policy), not left to a clerk.
    today = datetime.date.today()
    child = make_resident(municipality, "山田 太郎", sex="1", relationship="子", household=resident.household,
                          date_of_birth=today.replace(year=today.year - 10))
    request = draft(municipality)
    with pytest.raises(actions.SignatureRejected, match="15歳未満") as refused:
        sign(request, child)
    assert refused.value.reason == "under_15"
    assert CertificateRequest.objects.get(pk=request.pk).state == State.DRAFT


def test_support_measure_is_never_auto_accepted(municipality):
    protected = make_resident(municipality, "佐藤 恵子", support_measure=True)
    request = received(municipality, protected)
    assert Flag.SUPPORT_MEASURE in request.flags and not request.auto_acceptable


def test_request_changed_after_signing_breaks_the_signature(municipality, resident):
    from madoguchi.identity.contrib.sandbox import card as cards

    request = draft(municipality)
    challenge = start_signing(request)
    certificate, signature = cards.sign(cards.issue_card(resident), cards.DEMO_PIN,
                                        canonical_bytes(request, challenge.nonce))
    CertificateRequest.objects.filter(pk=request.pk).update(copies=5, total_amount=1610)
    request.refresh_from_db()
    with pytest.raises(actions.SignatureRejected) as rejected:
        actions.record_signature(request, nonce=challenge.nonce, certificate=certificate, signature=signature,
                                 provider="sandbox")
    assert rejected.value.reason == "bad_signature"
    assert CertificateRequest.objects.get(pk=request.pk).state == State.DRAFT


def test_signature_cannot_be_replayed_for_another_request(municipality, resident):
    from madoguchi.identity.contrib.sandbox import card as cards

    first, second = draft(municipality), draft(municipality)
    challenge = start_signing(first)
    certificate, signature = cards.sign(cards.issue_card(resident), cards.DEMO_PIN,
                                        canonical_bytes(first, challenge.nonce))
    actions.record_signature(first, nonce=challenge.nonce, certificate=certificate, signature=signature,
                             provider="sandbox")
    start_signing(second)
    with pytest.raises(actions.SignatureRejected) as rejected:
        actions.record_signature(second, nonce=challenge.nonce, certificate=certificate, signature=signature,
                                 provider="sandbox")
    assert rejected.value.reason == "challenge"


def test_nonce_is_single_use_even_after_a_failed_try(municipality, resident):
    from madoguchi.identity.contrib.sandbox import card as cards

    request = draft(municipality)
    challenge = start_signing(request)
    certificate, signature = cards.sign(cards.issue_card(resident), cards.DEMO_PIN,
                                        canonical_bytes(request, challenge.nonce))
    with pytest.raises(actions.SignatureRejected):
        actions.record_signature(request, nonce=challenge.nonce, certificate=certificate,
                                 signature=b"\x00" * 256, provider="sandbox")
    with pytest.raises(actions.SignatureRejected) as rejected:
        actions.record_signature(request, nonce=challenge.nonce, certificate=certificate, signature=signature,
                                 provider="sandbox")
    assert rejected.value.reason == "challenge"


def test_another_residents_certificate_with_my_signature_fails(municipality, resident):
    from madoguchi.identity.contrib.sandbox import card as cards

    other = make_resident(municipality, "鈴木 一郎", sex="1", date_of_birth=datetime.date(1975, 1, 2))
    request = draft(municipality)
    challenge = start_signing(request)
    _, my_signature = cards.sign(cards.issue_card(resident), cards.DEMO_PIN,
                                 canonical_bytes(request, challenge.nonce))
    with pytest.raises(actions.SignatureRejected) as rejected:
        actions.record_signature(request, nonce=challenge.nonce,
                                 certificate=bytes(cards.issue_card(other).certificate_der),
                                 signature=my_signature, provider="sandbox")
    assert rejected.value.reason == "bad_signature"


def test_card_of_a_resident_of_another_municipality_does_not_match(municipality, other_municipality):
    outsider = make_resident(other_municipality, "田中 次郎", sex="1")
    with pytest.raises(actions.SignatureRejected) as rejected:
        sign(draft(municipality), outsider)
    assert rejected.value.reason == "no_match"
    assert "住民登録が見つかりませんでした" in str(rejected.value)


def test_reject_refunds_through_the_gateway_and_tells_the_resident(municipality, resident, clerk):
    request = received(municipality, resident)
    with pytest.raises(actions.ActionError, match="理由"):
        actions.reject(request, clerk, "  ")
    actions.reject(request, clerk, "申請者の住所が確認できないため")
    request.refresh_from_db()
    assert request.state == State.REFUNDED
    payment = request.payments.get()
    assert payment.status == "refunded"
    assert SandboxCharge.objects.get(merchant_order_id=payment.order_id).status == "refunded"
    assert {m.subject for m in mail.outbox} >= {"【窓口市】証明書の申請を却下しました",
                                                "【窓口市】手数料を返金しました"}
    assert "申請者の住所が確認できないため" in next(m.body for m in mail.outbox if "却下" in m.subject)


def test_illegal_transitions_are_refused(municipality, resident, clerk):
    request = received(municipality, resident)
    with pytest.raises(actions.ActionError):
        actions.mark_mailed(request, clerk)
    with pytest.raises(actions.ActionError):
        actions.complete(request)
    assert RequestEvent.objects.filter(request=request, to_state="mailed").count() == 0


def test_clerk_of_another_municipality_cannot_act(municipality, other_municipality, resident):
    request = received(municipality, resident)
    outsider = Staff.objects.create(username="outsider", municipality=other_municipality, role=Role.CLERK)
    for act in (lambda: actions.approve(request, outsider), lambda: actions.reject(request, outsider, "x"),
                lambda: actions.start_review(request, outsider)):
        with pytest.raises(actions.ActionError, match="権限"):
            act()
    assert CertificateRequest.objects.get(pk=request.pk).state == State.RECEIVED


def test_abandoned_requests_expire_and_late_payment_is_refunded(municipality, resident):
    request = sign(draft(municipality), resident)
    start_payment(request)
    payment = request.payments.get()
    later = datetime.datetime.now(datetime.UTC) + actions.ABANDON_AFTER + datetime.timedelta(minutes=1)
    assert actions.expire_abandoned(later) == 1
    request.refresh_from_db()
    assert request.state == State.EXPIRED
    # The resident pays on the gateway page after all: the money goes back.
    from madoguchi.payments.contrib.sandbox import gateway

    gateway.capture(payment.provider_payment_id)
    ledger.capture(payment.order_id, provider_payment_id=payment.provider_payment_id,
                            amount=payment.amount, source="return")
    payment.refresh_from_db()
    assert payment.status == "refunded"
    assert SandboxCharge.objects.get(merchant_order_id=payment.order_id).status == "refunded"
    assert CertificateRequest.objects.get(pk=request.pk).state == State.EXPIRED


def test_pay_is_idempotent(municipality, resident):
    request = sign(draft(municipality), resident)
    payment = pay(request)
    again = ledger.capture(payment.order_id, provider_payment_id=payment.provider_payment_id,
                                    amount=payment.amount, source="return")
    assert again.pk == payment.pk
    request.refresh_from_db()
    assert request.events.filter(to_state=State.RECEIVED).count() == 1


def test_a_character_the_font_lacks_stops_approval_with_a_clear_message(municipality, clerk):
    # 葛 + U+E0100 is an Adobe-Japan1 sequence; IPAmj明朝 only carries the Moji_Joho ones.
    unprintable = make_resident(municipality, "葛\U000e0100城 花子")
    request = received(municipality, unprintable)
    with pytest.raises(actions.ActionError, match="フォントにない文字") as refused:
        actions.approve(request, clerk)
    assert "U+E0100" in str(refused.value)
    request.refresh_from_db()
    assert request.state == State.RECEIVED and not hasattr(request, "document")


def test_partial_scope_with_an_unknown_name_is_refused_before_paying(municipality, resident):
    """The resident hears it when signing, nothing is charged, and the history names the reason code."""
    options = {"scope": "partial", "members": "山田 次郎", "show_relationship": False, "show_honseki": False}
    request = draft(municipality, options=options)
    with pytest.raises(actions.SignatureRejected, match="住民記録に見つかりません"):
        sign(request, resident)
    request.refresh_from_db()
    assert request.state == State.CANCELLED and not request.payments.exists()
    refused = request.events.get(kind="refused")
    assert refused.data["codes"] == ["subject_not_found"] and "山田次郎" in refused.data["findings"][0]["detail"]
