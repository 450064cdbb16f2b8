"""Every request reaches an end: 完了 (receipt or business days), the satisfaction survey, the
resident's and the clerk's cancellation with its refund, and 差戻し with its correction — through the
actions, the web pages and the back office, with forged, replayed and out-of-order input."""

import datetime
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from madoguchi.applications import actions
from madoguchi.applications.models import (
    CertificateRequest,
    ConfirmationCode,
    Correction,
    CorrectionStatus,
    EventKind,
    RequestEvent,
    SatisfactionAnswer,
    State,
)
from madoguchi.applications.signing_terms import canonical_bytes
from madoguchi.identity.contrib.sandbox import card as cards
from madoguchi.identity.events import SignatureNotAccepted, publish_signature_returned
from madoguchi.identity.models import SignatureEvidence
from madoguchi.notifications.models import Notice
from madoguchi.payments.contrib.sandbox import gateway
from madoguchi.payments.models import Payment, PaymentStatus, Refund, RefundStatus
from madoguchi.tenancy.models import Role, Staff

from .conftest import make_resident
from .flow import draft, post_notification, received

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def clerk(municipality):
    return Staff.objects.create(username="clerk", municipality=municipality, role=Role.CLERK, totp_secret="A" * 32)


def staff_client(clerk) -> Client:
    client = Client()
    client.force_login(clerk)
    session = client.session
    session["otp_verified"] = True
    session.save()
    return client


def mailed(municipality, resident, clerk, **overrides) -> CertificateRequest:
    request = received(municipality, resident, **overrides)
    actions.approve(request, clerk)
    actions.record_printed([request], clerk)
    actions.mark_mailed(request, clerk, "1234")
    request.refresh_from_db()
    return request


def owner(request: CertificateRequest) -> Client:
    """A browser that looked the request up on the status page (reception number + birth date)."""
    client = Client()
    response = client.post(reverse("web:status", args=[request.municipality.code]), {
        "reception_number": request.formatted_reception_number,
        "date_of_birth": request.resident.date_of_birth.isoformat()})
    assert response.status_code == 200 and "取消・修正・受け取りの確認・アンケートへ" in response.content.decode()
    return client


def url(name: str, request: CertificateRequest) -> str:
    return reverse(f"web:{name}", args=[request.municipality.code, request.public_id])


def notices(request, subject) -> list[Notice]:
    return list(Notice.objects.filter(request=request, subject__contains=subject).order_by("id"))


def sign_again(request, resident, purpose, *, card=None, content=None):
    """Sign with the resident's card (the one that signed the request unless `card` is given)."""
    request.refresh_from_db()
    challenge = request.challenges.filter(purpose=purpose, used_at__isnull=True).latest("id")
    card = card or cards.find_card(request.municipality, resident.person_number)
    certificate, signature = cards.sign(card, cards.DEMO_PIN,
                                        content or canonical_bytes(request, challenge.nonce, purpose))
    publish_signature_returned(challenge, certificate=certificate, signature=signature, provider="sandbox")


def pay_difference(request) -> Payment:
    actions.start_difference_payment(request, url("correct", request))
    payment = request.payments.get(status="pending")
    assert post_notification(gateway.notification_body(gateway.capture(payment.provider_payment_id))).status_code == 200
    payment.refresh_from_db()
    return payment


# --- 完了 ---------------------------------------------------------------------------------------------

def test_mailed_requests_complete_after_the_municipalitys_business_days(municipality, resident, clerk):
    municipality.completion_days = 3
    municipality.save()
    request = mailed(municipality, resident, clerk)
    # Mailed on Friday 2026-01-09; Monday 1/12 is 成人の日: 3 business days later is Thursday 1/15.
    mailed_at = datetime.datetime(2026, 1, 9, 15, 0, tzinfo=datetime.UTC)
    RequestEvent.objects.filter(request=request, kind=EventKind.MAILED).update(at=mailed_at)
    CertificateRequest.objects.filter(pk=request.pk).update(updated_at=mailed_at)
    assert actions.complete_delivered(datetime.datetime(2026, 1, 14, 12, tzinfo=datetime.UTC)) == 0
    assert actions.complete_delivered(datetime.datetime(2026, 1, 15, 3, tzinfo=datetime.UTC)) == 1
    request.refresh_from_db()
    assert request.state == State.COMPLETED
    assert request.events.get(kind=EventKind.COMPLETED).data == {"source": "schedule"}
    # Run again (the next housekeeping): nothing more, one 完了 notice.
    assert actions.complete_delivered(datetime.datetime(2026, 2, 1, tzinfo=datetime.UTC)) == 0
    assert len(notices(request, "完了")) == 1


def test_receipt_confirmed_on_the_web_completes_once_and_the_survey_is_answered_once(
        municipality, resident, clerk):
    request = mailed(municipality, resident, clerk)
    client = owner(request)
    page = client.get(url("request", request)).content.decode()
    assert "受け取りました" in page
    client.post(url("confirm_receipt", request))
    replay = client.post(url("confirm_receipt", request), follow=True)
    assert replay.status_code == 200
    request.refresh_from_db()
    assert request.state == State.COMPLETED
    assert request.events.get(kind=EventKind.COMPLETED).data == {"source": "receipt", "channel": "web"}
    completed = notices(request, "完了")
    assert len(completed) == 1 and "/link/" in completed[0].body  # the survey link in the e-mail
    # The housekeeping chore finds nothing left to complete.
    assert actions.complete_delivered(timezone.now() + datetime.timedelta(days=30)) == 0

    bad = client.post(url("survey", request), {"score": "9", "comment": ""})
    assert bad.status_code == 400 and "満足度を選んでください" in bad.content.decode()
    nul = client.post(url("survey", request), {"score": "4", "comment": "よい\x00"})
    assert nul.status_code == 400 and not SatisfactionAnswer.objects.exists()
    client.post(url("survey", request), {"score": "4", "comment": "早く届きました"})
    again = client.post(url("survey", request), {"score": "1", "comment": ""}, follow=True)
    assert "すでに回答" in again.content.decode()
    answer = SatisfactionAnswer.objects.get(request=request)
    assert (answer.score, answer.comment, answer.channel) == (4, "早く届きました", "web")


def test_receipt_before_mailing_and_survey_before_completion_are_refused(municipality, resident):
    request = received(municipality, resident)
    with pytest.raises(actions.ActionError, match="まだ発送されていない"):
        actions.confirm_receipt(request, channel="web")
    with pytest.raises(actions.ActionError, match="まだ回答できません"):
        actions.answer_survey(request, score=5, channel="web")
    client = owner(request)
    response = client.post(url("confirm_receipt", request), follow=True)
    assert "まだ発送されていない" in response.content.decode()
    request.refresh_from_db()
    assert request.state == State.RECEIVED


def test_survey_refuses_lone_surrogates_nul_and_long_comments(municipality, resident, clerk):
    request = mailed(municipality, resident, clerk)
    actions.confirm_receipt(request, channel="web")
    for comment, message in [("\ud800", "使えない文字"), ("a\x00b", "使えない文字"), ("あ" * 501, "500文字以内")]:
        with pytest.raises(actions.ActionError, match=message):
            actions.answer_survey(request, score=3, comment=comment, channel="web")
    for score in ["0", "6", "", None, "3.0"]:
        with pytest.raises(actions.ActionError, match="1から5"):
            actions.answer_survey(request, score=score, channel="web")
    assert not SatisfactionAnswer.objects.exists()


def test_notice_link_opens_the_request_and_forged_links_are_refused(municipality, resident, clerk):
    request = mailed(municipality, resident, clerk)
    link = re.search(r"http\S+/link/\S+", notices(request, "発送")[0].body).group(0)
    path = link.split("testserver", 1)[-1] if "testserver" in link else "/" + link.split("/", 3)[3]
    client = Client()
    assert client.get(url("request", request)).status_code == 404  # not this browser's request yet
    assert client.get(path).status_code == 302
    assert "受け取りました" in client.get(url("request", request)).content.decode()
    for forged in [path[:-3] + "abc/", path.replace(municipality.code, "082082"), path + "x/"]:
        response = Client().get(forged)
        assert response.status_code in {400, 404}
        if response.status_code == 400:
            assert "有効期限" in response.content.decode()


# --- 取消 -------------------------------------------------------------------------------------------

def sent_code(request) -> str:
    return re.search(r"確認コード: (\d{6})", notices(request, "確認コード")[-1].body).group(1)


def test_resident_cancels_with_a_code_and_is_refunded_once(municipality, resident):
    request = received(municipality, resident)
    client = owner(request)
    page = client.get(url("cancel", request)).content.decode()
    assert "確認コードを送る" in page
    client.post(url("cancel", request), {"op": "send"})
    code = sent_code(request)
    wrong = "000000" if code != "000000" else "111111"
    response = client.post(url("cancel", request), {"op": "confirm", "code": wrong})
    assert response.status_code == 400 and "確認コードが違う" in response.content.decode()
    response = client.post(url("cancel", request), {"op": "confirm", "code": code}, follow=True)
    assert "申請を取り消しました" in response.content.decode()
    request.refresh_from_db()
    assert request.state == State.CANCELLED
    assert request.events.get(kind=EventKind.CANCELLED).data == {"confirmed_by": "code", "channel": "web"}
    payment = request.payments.get()
    assert payment.status == PaymentStatus.REFUNDED and Refund.objects.filter(payment=payment).count() == 1
    cancelled = notices(request, "取り消しました")
    assert len(cancelled) == 1 and "410円は、お支払いに使った方法で返金します" in cancelled[0].body
    # The same code again, and a double cancel: refused, nothing refunded twice.
    replay = client.post(url("cancel", request), {"op": "confirm", "code": code})
    assert replay.status_code == 400 and "すでに取り消されています" in replay.content.decode()
    with pytest.raises(actions.ActionError, match="すでに取り消されています"):
        actions.cancel_from_line(request)
    assert Refund.objects.count() == 1 and len(notices(request, "取り消しました")) == 1


def test_the_cancelled_request_page_says_what_is_refunded(municipality, resident, clerk):
    request = received(municipality, resident)
    client = owner(request)
    assert 'class="refund"' not in client.get(url("request", request)).content.decode()
    actions.cancel_by_staff(request, clerk, "住民からの電話による")
    page = client.get(url("request", request)).content.decode()
    assert "申請は取り消されました。" in page
    assert "お支払いいただいた 410円は、お支払いに使った方法で返金しました。" in page
    # Until the provider confirms, the page says the money is on its way.
    Refund.objects.filter(payment__request=request).update(status=RefundStatus.REQUESTED)
    page = client.get(url("request", request)).content.decode()
    assert "お支払いいただいた 410円は、お支払いに使った方法で返金します。" in page and "返金しました" not in page


def test_codes_are_single_use_per_request_expire_and_are_throttled(municipality, resident):
    first = received(municipality, resident)
    second = received(municipality, resident)
    actions.send_cancel_code(first)
    code_of_first = sent_code(first)
    with pytest.raises(actions.ActionError, match="確認コードが違う"):
        actions.cancel_with_code(second, code_of_first, channel="web")  # a code for another request
    # A new code replaces the old one.
    actions.send_cancel_code(first)
    newer = sent_code(first)
    if newer != code_of_first:
        with pytest.raises(actions.ActionError, match="確認コードが違う"):
            actions.cancel_with_code(first, code_of_first, channel="web")
    # Expired.
    ConfirmationCode.objects.filter(request=first).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    with pytest.raises(actions.ActionError, match="確認コードが違う"):
        actions.cancel_with_code(first, newer, channel="web")
    # Malformed input never reaches a comparison that could match.
    for junk in ["", "\x00" * 6, "１２３４５６", "12345", "1234567", "\ud800" * 6]:
        with pytest.raises(actions.ActionError):
            actions.cancel_with_code(second, junk, channel="web")
    # Throttled per request: even the right code is refused once the tries are used up.
    actions.send_cancel_code(second)
    with pytest.raises(actions.ActionError, match="入力回数が多すぎます"):
        actions.cancel_with_code(second, sent_code(second), channel="web")
    second.refresh_from_db()
    assert second.state == State.RECEIVED and not Refund.objects.exists()


def test_code_sends_are_limited(municipality, resident):
    request = received(municipality, resident)
    for _ in range(3):
        actions.send_cancel_code(request)
    with pytest.raises(actions.ActionError, match="送信回数が多すぎます"):
        actions.send_cancel_code(request)
    assert len(notices(request, "確認コード")) == 3


def test_cancel_after_approval_is_refused(municipality, resident, clerk):
    request = received(municipality, resident)
    actions.send_cancel_code(request)
    code = sent_code(request)
    actions.approve(request, clerk)
    with pytest.raises(actions.ActionError, match="取り消せません"):
        actions.cancel_with_code(request, code, channel="web")
    with pytest.raises(actions.ActionError, match="取り消せません"):
        actions.cancel_by_staff(request, clerk, "重複")
    request.refresh_from_db()
    assert request.state == State.APPROVED and not Refund.objects.exists()


def test_without_a_notice_address_the_card_that_signed_confirms_the_cancellation(municipality, resident):
    request = received(municipality, resident, notice_email="")
    assert actions.code_transports(request) == []
    client = owner(request)
    assert "カードで署名して取り消す" in client.get(url("cancel", request)).content.decode()
    with pytest.raises(actions.ActionError, match="送り先がありません"):
        actions.send_cancel_code(request)
    response = client.post(url("cancel", request), {"op": "card"})
    assert response.status_code == 302 and "/sandbox/" in response["Location"]
    # Another resident's card: refused.
    other = cards.issue_card(make_resident(municipality, "佐藤 一郎"))
    with pytest.raises(SignatureNotAccepted, match="一致しません"):
        sign_again(request, resident, "cancel", card=other)
    # The request's own bytes (no cancel purpose) do not pass for a cancellation.
    actions.start_cancel_signing(request, return_url="/", retry_url="/")
    challenge = request.challenges.filter(purpose="cancel", used_at__isnull=True).latest("id")
    with pytest.raises(SignatureNotAccepted, match="確認できませんでした"):
        sign_again(request, resident, "cancel", content=canonical_bytes(request, challenge.nonce))
    # A used challenge cannot be replayed.
    with pytest.raises(SignatureNotAccepted, match="有効期限が切れたか、すでに使われています"):
        certificate, signature = cards.sign(cards.issue_card(resident), cards.DEMO_PIN,
                                            canonical_bytes(request, challenge.nonce, "cancel"))
        publish_signature_returned(challenge, certificate=certificate, signature=signature, provider="sandbox")
    request.refresh_from_db()
    assert request.state == State.RECEIVED
    # The original card: cancelled, refunded, and the signature kept as evidence.
    actions.start_cancel_signing(request, return_url="/", retry_url="/")
    sign_again(request, resident, "cancel")
    request.refresh_from_db()
    assert request.state == State.CANCELLED
    assert request.events.get(kind=EventKind.CANCELLED).data["confirmed_by"] == "card"
    assert SignatureEvidence.objects.filter(request=request, purpose="cancel").count() == 1
    assert request.payments.get().status == PaymentStatus.REFUNDED


def test_a_renewed_card_has_another_certificate_and_cannot_confirm(municipality, resident):
    request = received(municipality, resident, notice_email="")
    cards.SandboxCard.objects.filter(resident=resident).delete()
    renewed = cards.issue_card(resident)
    actions.start_cancel_signing(request, return_url="/", retry_url="/")
    with pytest.raises(SignatureNotAccepted, match="一致しません"):
        sign_again(request, resident, "cancel", card=renewed)
    request.refresh_from_db()
    assert request.state == State.RECEIVED and not Refund.objects.exists()


def test_staff_cancel_needs_a_clean_reason_and_tells_the_resident(municipality, resident, clerk):
    request = received(municipality, resident)
    client = staff_client(clerk)
    detail = reverse("backoffice:detail", args=[request.public_id])
    assert "取り消して返金" in client.get(detail).content.decode()
    for reason, message in [("", "取消の理由を入力"), ("理由\x00", "使えない文字"), ("あ" * 501, "500文字以内")]:
        response = client.post(reverse("backoffice:cancel", args=[request.public_id]), {"reason": reason},
                               follow=True)
        assert message in response.content.decode()
    client.post(reverse("backoffice:cancel", args=[request.public_id]), {"reason": "二重申請のため"})
    request.refresh_from_db()
    assert request.state == State.CANCELLED and request.decision_reason == "二重申請のため"
    body = notices(request, "取り消しました")[0].body
    assert "二重申請のため" in body and "返金します" in body
    response = client.post(reverse("backoffice:cancel", args=[request.public_id]), {"reason": "再度"}, follow=True)
    assert "すでに取り消されています" in response.content.decode()
    assert Refund.objects.count() == 1


def test_a_payment_arriving_after_cancellation_is_refunded(municipality, resident):
    from .flow import sign, start_payment

    request = sign(draft(municipality), resident)
    start_payment(request)
    payment = request.payments.get()
    actions.cancel(request, actor_kind="resident")
    assert post_notification(gateway.notification_body(gateway.capture(payment.provider_payment_id))).status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    request.refresh_from_db()
    assert request.state == State.CANCELLED and not notices(request, "取り消しました")


# --- 差戻し -------------------------------------------------------------------------------------------

def test_clerk_sends_back_and_the_resident_resubmits_unchanged(municipality, resident, clerk):
    request = received(municipality, resident)
    number = request.reception_number
    client = staff_client(clerk)
    response = client.post(reverse("backoffice:send_back", args=[request.public_id]),
                           {"reason_code": "purpose", "reason_text": "提出先を教えてください"})
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == State.RETURNED
    assert request not in CertificateRequest.objects.filter(state__in=["received", "in_review"])
    body = notices(request, "差し戻しました")[0].body
    assert "使いみちが分かりません" in body and "提出先を教えてください" in body and "/link/" in body
    resident_browser = owner(request)
    page = resident_browser.get(url("correct", request)).content.decode()
    assert "この内容で修正する" in page
    resident_browser.post(url("correct", request), {
        "op": "submit", "copies": "1", "purpose": "bank", "purpose_detail": "",
        "scope": "self", "show_relationship": "on"})
    request.refresh_from_db()
    assert request.state == State.RECEIVED and request.reception_number == number
    kinds = list(request.events.values_list("kind", flat=True))
    assert kinds[-2:] == [EventKind.RETURNED, EventKind.RESUBMITTED]
    assert Correction.objects.get(request=request).status == CorrectionStatus.DONE
    assert not request.challenges.filter(purpose="correction").exists()  # nothing to sign again


def test_more_copies_are_signed_again_and_the_difference_paid(municipality, resident, clerk):
    request = received(municipality, resident)
    actions.start_review(request, clerk)
    actions.send_back(request, clerk, "copies", "2通必要ではありませんか")
    browser = owner(request)
    browser.post(url("correct", request), {"op": "submit", "copies": "2", "purpose": "bank", "purpose_detail": "",
                                           "scope": "self", "show_relationship": "on"})
    request.refresh_from_db()
    correction = Correction.objects.get(request=request)
    assert (correction.status, correction.difference, request.total_amount) == ("signing", 300, 710)
    assert request.events.filter(kind=EventKind.CORRECTED).get().data["changed"] == ["copies", "total_amount"]
    # Paying before signing again is refused.
    with pytest.raises(actions.ActionError, match="いまの修正の段階"):
        actions.start_difference_payment(request, "/")
    response = browser.post(url("correct", request), {"op": "sign"})
    assert response.status_code == 302
    sign_again(request, resident, "correction")
    correction.refresh_from_db()
    assert correction.status == CorrectionStatus.PAYING
    assert "差額を支払う" in browser.get(url("correct", request)).content.decode()
    payment = pay_difference(request)
    assert (payment.amount, payment.sequence, payment.status) == (300, 1, PaymentStatus.CAPTURED)
    request.refresh_from_db()
    assert request.state == State.RECEIVED and request.copies == 2
    assert request.events.filter(kind=EventKind.RESUBMITTED).get().data["order_id"] == payment.order_id
    assert SignatureEvidence.objects.filter(request=request, purpose="correction").count() == 1
    # A later cancellation refunds both payments, each once.
    actions.cancel_by_staff(request, clerk, "住民からの電話による")
    assert sorted(p.status for p in request.payments.all()) == [PaymentStatus.REFUNDED] * 2
    assert "710円" in notices(request, "取り消しました")[0].body


def test_fewer_copies_are_refunded_the_difference(municipality, resident, clerk):
    request = received(municipality, resident, copies=3)
    actions.send_back(request, clerk, "copies")
    actions.submit_correction(request, copies=1, purpose="bank", purpose_detail="",
                              options=request.options, channel="web")
    actions.start_correction_signing(request, return_url="/", retry_url="/")
    sign_again(request, resident, "correction")
    request.refresh_from_db()
    assert request.state == State.RECEIVED and request.total_amount == 410
    refund = Refund.objects.get()
    assert refund.amount == 600 and refund.status == "done"
    assert request.payments.get().status == PaymentStatus.PARTIALLY_REFUNDED
    assert "600円を返金しました" in notices(request, "返金")[0].body


def test_correction_refusals(municipality, resident, clerk):
    request = received(municipality, resident)
    for code, text, message in [("nonsense", "", "理由を選んで"), ("other", "", "「その他」"),
                                ("purpose", "\x00", "使えない文字"), ("purpose", "\udfff", "使えない文字")]:
        with pytest.raises(actions.ActionError, match=message):
            actions.send_back(request, clerk, code, text)
    with pytest.raises(actions.ActionError, match="修正できません"):
        actions.submit_correction(request, copies=1, purpose="bank", purpose_detail="", options={}, channel="web")
    actions.send_back(request, clerk, "options")
    with pytest.raises(actions.ActionError, match="差し戻せません"):
        actions.send_back(request, clerk, "options")
    with pytest.raises(actions.ActionError, match="この操作はできません"):
        actions.approve(request, clerk)
    with pytest.raises(actions.ActionError, match="通数は1通から10通"):
        actions.submit_correction(request, copies=11, purpose="bank", purpose_detail="", options=request.options,
                                  channel="web")
    # Another card cannot sign the correction.
    actions.submit_correction(request, copies=2, purpose="bank", purpose_detail="", options=request.options,
                              channel="web")
    actions.start_correction_signing(request, return_url="/", retry_url="/")
    with pytest.raises(SignatureNotAccepted, match="一致しません"):
        sign_again(request, resident, "correction", card=cards.issue_card(make_resident(municipality, "別人 次郎")))
    request.refresh_from_db()
    assert request.state == State.RETURNED


def test_past_the_deadline_the_request_is_cancelled_and_refunded(municipality, resident, clerk):
    request = received(municipality, resident)
    actions.send_back(request, clerk, "copies")
    actions.submit_correction(request, copies=2, purpose="bank", purpose_detail="", options=request.options,
                              channel="web")
    actions.start_correction_signing(request, return_url="/", retry_url="/")
    sign_again(request, resident, "correction")
    actions.start_difference_payment(request, "/")
    late = request.payments.get(status="pending")
    Correction.objects.filter(request=request).update(deadline=timezone.now() - datetime.timedelta(minutes=1))
    with pytest.raises(actions.ActionError, match="期限"):
        actions.submit_correction(request, copies=1, purpose="bank", purpose_detail="", options=request.options,
                                  channel="web")
    assert actions.lapse_overdue() == 1
    assert actions.lapse_overdue() == 0
    request.refresh_from_db()
    assert request.state == State.CANCELLED
    assert Correction.objects.get(request=request).status == CorrectionStatus.LAPSED
    assert "期限までに修正がなかった" in notices(request, "取り消しました")[0].body
    # The difference paid after the lapse goes back too; the fee was refunded once.
    assert post_notification(gateway.notification_body(gateway.capture(late.provider_payment_id))).status_code == 200
    assert sorted(p.status for p in request.payments.filter(status__in=["captured", "refunded"])) == [
        PaymentStatus.REFUNDED, PaymentStatus.REFUNDED]
    assert Refund.objects.count() == 2
