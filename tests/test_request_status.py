"""The status page answers: where the request stands and since when, every step with its 和暦 date,
the reason of a rejection, 差戻し or office cancellation, the tracking number with the carrier's link,
the expected ship date and what happens next — and never an internal id."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from madoguchi.applications import actions
from madoguchi.applications.models import EventKind, RequestEvent, State
from madoguchi.applications.progress import progress_of, tracking_url
from madoguchi.core.dates import to_wareki
from madoguchi.tenancy.models import Role, Staff

from .flow import received

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def clerk(municipality):
    return Staff.objects.create(username="clerk", municipality=municipality, role=Role.CLERK, totp_secret="A" * 32)


def looked_up(request, dob="1980-04-01") -> str:
    response = Client().post(reverse("web:status", args=[request.municipality.code]), {
        "reception_number": request.formatted_reception_number, "date_of_birth": dob})
    assert response.status_code == 200
    return response.content.decode()


def today() -> str:
    return to_wareki(timezone.localdate())


def test_a_received_request_says_when_it_was_received_and_when_it_ships(municipality, resident):
    request = received(municipality, resident)
    page = looked_up(request)
    assert "受付済みです。職員が内容を確認します。" in page
    assert f"{today()} " in page and "から「受付済み」です。" in page  # the state and since when
    assert "発送予定日" in page and f"{to_wareki(request.expected_ship_date)}ごろまで" in page
    assert "このあとの流れ" in page and "住民登録のある住所へ郵便でお届けします" in page
    # The history: signed and received, each with its date, in the resident's words.
    assert page.count(today()) >= 3
    assert "マイナンバーカードで電子署名しました" in page and "お支払いを確認し、申請を受け付けました" in page
    # Office internals stay out: the card's serial, the order id, the payment provider's words.
    signed = RequestEvent.objects.get(request=request, kind=EventKind.SIGNED)
    order_id = RequestEvent.objects.get(request=request, kind=EventKind.RECEIVED).data["order_id"]
    assert signed.data["jpki_serial"] not in page and order_id not in page and "jpki:" not in page


def test_a_rejected_request_tells_the_resident_why_and_about_the_refund(municipality, resident, clerk):
    request = received(municipality, resident)
    actions.reject(request, clerk, "住民登録の住所と申請の内容が一致しませんでした。")
    request.refresh_from_db()
    assert request.state in {State.REJECTED, State.REFUNDED}
    page = looked_up(request)
    assert "却下の理由" in page and "住民登録の住所と申請の内容が一致しませんでした。" in page
    assert "申請を却下しました" in page and "問い合わせ先" in page
    assert "発送予定日" not in page  # nothing ships any more
    if request.state == State.REFUNDED:
        assert f"{request.total_amount}円" in page and "返金しました" in page


def test_a_mailed_request_links_its_tracking_number(municipality, resident, clerk, settings):
    settings.TRACKING_URL = "https://tracking.example.jp/search?no={number}"
    request = received(municipality, resident)
    actions.approve(request, clerk)
    actions.record_printed([request], clerk)
    actions.mark_mailed(request, clerk, "123456789012")
    request.refresh_from_db()
    page = looked_up(request)
    assert "発送済みです。郵便でお届けします。" in page
    assert "お問い合わせ番号: 123456789012" in page
    assert 'href="https://tracking.example.jp/search?no=123456789012"' in page
    assert "郵便で発送しました" in page and "発送予定日" not in page
    assert "届いたら、このページで受け取りを確認してください" in page


def test_a_tracking_number_is_quoted_into_the_link(settings):
    settings.TRACKING_URL = "https://tracking.example.jp/search?no={number}"
    assert tracking_url("12 34&x=<1>") == "https://tracking.example.jp/search?no=12%2034%26x%3D%3C1%3E"
    assert tracking_url("") == ""
    settings.TRACKING_URL = ""
    assert tracking_url("1234") == ""


def test_a_request_sent_back_gives_the_reason_and_the_deadline(municipality, resident, clerk):
    request = received(municipality, resident)
    correction = actions.send_back(request, clerk, "purpose", "提出先を教えてください")
    request.refresh_from_db()
    page = looked_up(request)
    assert "修正をお願いする理由" in page
    assert "使いみちが分かりません" in page and "提出先を教えてください" in page
    deadline = timezone.localtime(correction.deadline)
    assert f"{to_wareki(deadline.date())} {deadline:%H:%M}までに申請内容を修正してください" in page
    assert progress_of(request).correction_deadline == correction.deadline


def test_an_office_cancellation_gives_its_reason_and_the_residents_own_does_not(municipality, resident, clerk):
    by_office = received(municipality, resident)
    actions.cancel_by_staff(by_office, clerk, "同じ内容の申請が重なっていたため")
    by_office.refresh_from_db()
    office_page = looked_up(by_office)
    assert "取消の理由" in office_page and "同じ内容の申請が重なっていたため" in office_page
    assert "もう一度はじめから申請してください" in office_page
    progress = progress_of(by_office)
    assert progress.state == State.CANCELLED and progress.reason_title == "取消の理由"


def test_the_steps_are_in_order_with_their_dates(municipality, resident, clerk):
    request = received(municipality, resident)
    actions.approve(request, clerk)
    request.refresh_from_db()
    progress = progress_of(request)
    assert [s.text for s in progress.steps] == [
        "申請の入力を始めました", "マイナンバーカードで電子署名しました", "お支払いを確認し、申請を受け付けました",
        "審査が終わりました"]
    assert all(a.at <= b.at for a, b in zip(progress.steps, progress.steps[1:], strict=False))
    assert progress.since == RequestEvent.objects.get(request=request, kind=EventKind.APPROVED).at
    assert progress.expected_ship_date == request.expected_ship_date


def test_the_request_page_of_the_owner_answers_the_same(municipality, resident):
    request = received(municipality, resident)
    client = Client()
    client.post(reverse("web:status", args=[municipality.code]), {
        "reception_number": request.formatted_reception_number, "date_of_birth": "1980-04-01"})
    page = client.get(reverse("web:request", args=[municipality.code, request.public_id])).content.decode()
    assert "これまでの経過" in page and "発送予定日" in page and "このあとの流れ" in page


def test_an_unknown_or_wrong_pair_tells_nothing(municipality, resident):
    request = received(municipality, resident)
    page = looked_up(request, dob="1980-04-02")
    assert "見つかりませんでした" in page and "これまでの経過" not in page and "発送予定日" not in page


def test_a_past_date_in_the_history_is_written_in_its_era(municipality, resident):
    request = received(municipality, resident)
    RequestEvent.objects.filter(request=request, kind=EventKind.CREATED).update(
        at=datetime.datetime(2019, 4, 30, 12, 0, tzinfo=datetime.UTC))
    page = looked_up(request)
    assert "平成31年4月30日 21:00" in page  # JST
