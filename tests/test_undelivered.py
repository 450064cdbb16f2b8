"""返戻: a mailed certificate comes back. The clerk records why (定型文), the request shows as 返戻 in
the lists and on the resident's page with what to do next, then is reprinted (with a reason) and
mailed again with a new tracking number, or cancelled with a refund; each step is in the history and
the audit trail, and bad input gets a Japanese answer."""

import pytest
from django.test import Client
from django.urls import reverse

from madoguchi.applications import actions
from madoguchi.applications.models import CertificateRequest, EventKind, RequestEvent, State
from madoguchi.documents.models import PrintBatch
from madoguchi.operations.models import AuditEvent
from madoguchi.payments.models import Refund
from madoguchi.web import views as web_views

from .flow import received
from .test_backoffice import make_staff, signed_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def clerk(municipality):
    return make_staff(municipality, "clerk")


@pytest.fixture
def mailed(municipality, resident, clerk) -> CertificateRequest:
    request = received(municipality, resident)
    actions.approve(request, clerk)
    actions.record_printed([request], clerk)
    actions.mark_mailed(request, clerk, "111122223333")
    return CertificateRequest.objects.get(pk=request.pk)


def resident_page(request) -> str:
    """The resident's own page, opened from the signed link of a notice."""
    client = Client()
    link = web_views.resident_link_url(request).split("127.0.0.1:8000", 1)[-1]
    response = client.get(link, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_a_returned_envelope_is_recorded_shown_reprinted_and_mailed_again(municipality, clerk, mailed):
    office = signed_in(clerk)
    detail = reverse("backoffice:detail", args=[mailed.public_id])
    assert "返戻を記録する" in office.get(detail).content.decode()
    office.post(reverse("backoffice:undelivered", args=[mailed.public_id]),
                {"reason_code": "unclaimed", "note": "12/5 郵便局より返送"})
    mailed.refresh_from_db()
    assert mailed.state == State.UNDELIVERED
    event = RequestEvent.objects.get(request=mailed, kind=EventKind.UNDELIVERED)
    assert event.data == {"reason_code": "unclaimed", "tracking_number": "111122223333", "note": "12/5 郵便局より返送"}
    assert AuditEvent.objects.filter(action="undelivered", target_id=str(mailed.pk)).exists()
    # In the clerk's lists: its own tab and the work queue.
    assert mailed.formatted_reception_number in office.get(reverse("backoffice:queue") + "?state=undelivered") \
        .content.decode()
    assert mailed.formatted_reception_number in office.get(reverse("backoffice:queue")).content.decode()
    # The resident reads the reason and what to do, never the office's note.
    page = resident_page(mailed)
    assert "返戻" in page and "保管期間経過" in page and "郵便局での保管期間が過ぎたため戻りました" in page
    assert "郵便局より返送" not in page
    # Reprint this certificate alone, with a reason.
    screen = office.get(detail).content.decode()
    assert "この証明書を再印刷" in screen and "再発送済みにする" in screen
    office.post(reverse("backoffice:undelivered_reprint", args=[mailed.public_id]), {"reason": "封筒が破損"})
    reprint = PrintBatch.objects.latest("pk")
    assert reprint.reprint_of is not None and reprint.reason == "封筒が破損"
    assert list(reprint.documents.values_list("request_id", flat=True)) == [mailed.pk]
    assert RequestEvent.objects.filter(request=mailed, kind=EventKind.REPRINTED).count() == 1
    assert AuditEvent.objects.filter(action="reprinted", target_id=str(mailed.pk)).exists()
    # Mailed again: a new tracking number is required.
    office.post(reverse("backoffice:mailed", args=[mailed.public_id]), {"tracking_number": "111122223333"})
    mailed.refresh_from_db()
    assert mailed.state == State.UNDELIVERED
    office.post(reverse("backoffice:mailed", args=[mailed.public_id]), {"tracking_number": "444455556666"})
    mailed.refresh_from_db()
    assert (mailed.state, mailed.tracking_number) == (State.MAILED, "444455556666")
    assert "444455556666" in resident_page(mailed)


def test_a_returned_certificate_can_be_cancelled_with_a_refund(municipality, clerk, mailed):
    actions.record_undelivered(mailed, clerk, "moved")
    assert "転居されたため" in resident_page(mailed)
    actions.cancel_by_staff(mailed, clerk, "転居のため送付できませんでした。")
    mailed.refresh_from_db()
    assert mailed.state == State.CANCELLED
    assert Refund.objects.filter(payment__request=mailed).exists()


@pytest.mark.parametrize(("reason_code", "note", "message"), [
    ("", "", "返戻の理由を選んでください"),
    ("made_up", "", "返戻の理由を選んでください"),
    ("other", "  ", "メモに入力してください"),
    ("refused", "a\x00b", "使えない文字"),
    ("refused", "\ud800", "使えない文字"),
    ("refused", "あ" * 401, "400文字以内"),
])
def test_bad_returned_envelope_input_is_refused_in_japanese(municipality, clerk, mailed, reason_code, note, message):
    with pytest.raises(actions.ActionError, match=message):
        actions.record_undelivered(mailed, clerk, reason_code, note)
    mailed.refresh_from_db()
    assert mailed.state == State.MAILED


def test_only_a_mailed_request_can_come_back_and_only_a_returned_one_is_reprinted_here(municipality, resident, clerk,
                                                                                     mailed):
    waiting = received(municipality, resident)
    with pytest.raises(actions.ActionError, match="返戻を記録できません"):
        actions.record_undelivered(waiting, clerk, "refused")
    with pytest.raises(actions.ActionError, match="ここから再印刷できません"):
        actions.reprint_undelivered(mailed, clerk, "汚損")
    actions.record_undelivered(mailed, clerk, "refused")
    with pytest.raises(actions.ActionError, match="返戻を記録できません"):
        actions.record_undelivered(mailed, clerk, "refused")  # twice
    with pytest.raises(actions.ActionError, match="再印刷の理由を入力"):
        actions.reprint_undelivered(mailed, clerk, "  ")
    with pytest.raises(actions.ActionError, match="再発送のお問い合わせ番号"):
        actions.mark_mailed(mailed, clerk, "")


def test_another_towns_clerk_cannot_record_a_return(municipality, other_municipality, mailed):
    stranger = make_staff(other_municipality, "stranger")
    with pytest.raises(actions.ActionError, match="権限がありません"):
        actions.record_undelivered(mailed, stranger, "refused")
    response = signed_in(stranger).post(reverse("backoffice:undelivered", args=[mailed.public_id]),
                                        {"reason_code": "refused"})
    assert response.status_code == 404
    mailed.refresh_from_db()
    assert mailed.state == State.MAILED


def test_hostile_form_input_on_the_office_page_is_answered(municipality, clerk, mailed):
    office = signed_in(clerk)
    response = office.post(reverse("backoffice:undelivered", args=[mailed.public_id]),
                           data=b"reason_code=%ED%A0%80&note=%00", content_type="application/x-www-form-urlencoded")
    assert response.status_code in {302, 400}
    mailed.refresh_from_db()
    assert mailed.state == State.MAILED


def test_the_resident_is_told_by_email_and_line_each_time_an_envelope_comes_back(municipality, clerk, mailed):
    from madoguchi.line.models import LineUser, RequestBinding
    from madoguchi.notifications.models import Notice

    from .line_helpers import make_channel

    make_channel(municipality)
    user = LineUser.objects.create(municipality=municipality, user_id="U" + "3" * 32)
    CertificateRequest.objects.filter(pk=mailed.pk).update(channel="line")
    RequestBinding.objects.create(municipality=municipality, request=mailed, line_user=user)
    actions.record_undelivered(mailed, clerk, "moved", "転居届の確認中")
    subjects = ["undelivered", "【窓口市】お送りした証明書が戻ってきました"]
    sent = Notice.objects.filter(request=mailed, subject__in=subjects)
    assert sorted(sent.values_list("transport", flat=True)) == ["email", "line"]
    for notice in sent:
        assert "転居先不明" in notice.body and "申請を取り消して返金します" in notice.body
        assert "転居届の確認中" not in notice.body  # the office's note stays in the office
    assert "/m/" in sent.get(transport="email").body  # the link to the resident's own page
    # Mailed again and back again: told again.
    actions.mark_mailed(CertificateRequest.objects.get(pk=mailed.pk), clerk, "999988887777")
    mailed_again = Notice.objects.filter(request=mailed, transport="email", subject="【窓口市】証明書を発送しました")
    assert mailed_again.count() == 2 and "999988887777" in mailed_again.latest("id").body  # the new envelope
    actions.record_undelivered(CertificateRequest.objects.get(pk=mailed.pk), clerk, "unclaimed")
    assert Notice.objects.filter(request=mailed, transport="email",
                                 subject="【窓口市】お送りした証明書が戻ってきました").count() == 2


def test_a_certificate_withdrawn_after_coming_back_reads_as_invalid_on_the_verification_page(
        municipality, clerk, mailed):
    document = mailed.document
    page = reverse("documents:verify", args=[document.issue_number])
    answer = Client().post(page, {"verification_code": document.verification_code}).content.decode()
    assert "次のとおり発行されています" in answer and "無効" not in answer
    actions.record_undelivered(mailed, clerk, "refused")
    actions.cancel_by_staff(CertificateRequest.objects.get(pk=mailed.pk), clerk, "受取拒否のため取り消しました。")
    answer = Client().post(page, {"verification_code": document.verification_code}).content.decode()
    assert "交付が取り消されたため無効です" in answer and "次のとおり発行されています" not in answer
