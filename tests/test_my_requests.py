"""「申請の一覧」 from a signed link sent to the notice address (and LINE): drafts, unpaid, in progress
and past requests with history, reasons, tracking numbers and receipts; resume, pay, cancel,
correct, withdraw — and nothing for a browser without the link, a forged or stale link, or input
that is malformed."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from madoguchi.applications import actions
from madoguchi.applications.models import CertificateRequest, State
from madoguchi.line.models import LineUser, RequestBinding
from madoguchi.notifications.models import Notice
from madoguchi.tenancy.models import Role, Staff
from madoguchi.web import views

from .flow import draft, received, sign
from .line_helpers import make_channel

pytestmark = pytest.mark.django_db(transaction=True)
EMAIL = "hanako@example.jp"


@pytest.fixture
def clerk(municipality):
    return Staff.objects.create(username="clerk", municipality=municipality, role=Role.CLERK, totp_secret="A" * 32)


def my_url(municipality) -> str:
    return reverse("web:my_requests", args=[municipality.code])


def ask_link(client, municipality, email=EMAIL):
    return client.post(my_url(municipality), {"op": "send", "email": email})


def link_in(notice: Notice) -> str:
    return re.search(r"http\S+/my/link/\S+/", notice.body).group(0).split("127.0.0.1:8000", 1)[-1].split(
        "testserver", 1)[-1]


def opened(municipality) -> Client:
    """A browser that asked for the link and followed it from the mail."""
    client = Client()
    ask_link(client, municipality)
    notice = Notice.objects.filter(subject__contains="申請の一覧", transport="email").latest("id")
    response = client.get(link_in(notice))
    assert response.status_code == 302 and response.url == my_url(municipality)
    return client


@pytest.fixture
def requests_of_hanako(municipality, resident, clerk):
    """One request in each group, all with the same notice address (in another case)."""
    drafted = draft(municipality, notice_email=EMAIL)
    unpaid = sign(draft(municipality, notice_email=EMAIL.upper()), resident)
    active = received(municipality, resident, notice_email=EMAIL)
    mailed = received(municipality, resident, notice_email=EMAIL)
    actions.approve(mailed, clerk)
    actions.record_printed([mailed], clerk)
    actions.mark_mailed(mailed, clerk, "123456789012")
    rejected = received(municipality, resident, notice_email=EMAIL)
    actions.reject(rejected, clerk, "住所が住民記録と一致しませんでした。")
    returned = received(municipality, resident, notice_email=EMAIL)
    actions.send_back(returned, clerk, "purpose", "提出先を教えてください")
    someone_else = received(municipality, resident, notice_email="other@example.jp")
    return {name: CertificateRequest.objects.get(pk=r.pk) for name, r in {
        "draft": drafted, "unpaid": unpaid, "active": active, "mailed": mailed, "rejected": rejected,
        "returned": returned, "other": someone_else}.items()}


def test_the_link_opens_every_request_of_the_address_grouped_with_what_can_be_done(municipality, requests_of_hanako):
    r = requests_of_hanako
    page = opened(municipality).get(my_url(municipality)).content.decode()
    for heading in ("入力中(署名がまだの申請)(1件)", "お支払い待ち(1件)", "手続き中(3件)", "これまでの申請(1件)"):
        assert heading in page
    assert r["other"].formatted_reception_number not in page
    # Resume, pay, correct, confirm receipt, cancel, receipts, each for its own request.
    assert reverse("web:sign", args=[municipality.code, r["draft"].public_id]) in page
    assert reverse("web:pay", args=[municipality.code, r["unpaid"].public_id]) in page
    assert reverse("web:correct", args=[municipality.code, r["returned"].public_id]) in page
    assert reverse("web:cancel", args=[municipality.code, r["active"].public_id]) in page
    assert reverse("payments:receipt", args=[municipality.code, r["mailed"].public_id]) in page
    # Reasons, the tracking number, the history.
    assert "却下の理由" in page and "住所が住民記録と一致しませんでした。" in page
    assert "提出先を教えてください" in page
    assert "お問い合わせ番号: 123456789012" in page and "これまでの経過" in page


def test_the_opened_list_lets_this_browser_act_on_the_requests(municipality, requests_of_hanako):
    r = requests_of_hanako
    client = opened(municipality)
    client.get(my_url(municipality))
    assert client.get(reverse("payments:receipt", args=[municipality.code, r["mailed"].public_id])).status_code == 200
    assert client.get(reverse("web:cancel", args=[municipality.code, r["active"].public_id])).status_code == 200
    assert client.get(reverse("web:correct", args=[municipality.code, r["returned"].public_id])).status_code == 200
    assert client.get(reverse("web:pay", args=[municipality.code, r["unpaid"].public_id])).status_code == 200
    # Another browser has none of it.
    stranger = Client()
    assert r["active"].formatted_reception_number not in stranger.get(my_url(municipality)).content.decode()
    assert stranger.get(reverse("payments:receipt", args=[municipality.code, r["mailed"].public_id])
                        ).status_code == 404
    # Closing the list on a shared device takes the access away again.
    client.post(my_url(municipality), {"op": "forget"})
    assert client.get(reverse("payments:receipt", args=[municipality.code, r["mailed"].public_id])
                      ).status_code == 404
    assert r["active"].formatted_reception_number not in client.get(my_url(municipality)).content.decode()


def test_an_unknown_address_gets_the_same_answer_and_no_mail(municipality, requests_of_hanako):
    known_client, unknown_client = Client(), Client()
    known = ask_link(known_client, municipality)
    unknown = ask_link(unknown_client, municipality, "nobody@example.jp")
    assert known.status_code == unknown.status_code == 302
    answers = [re.search(r'<div class="messages".*?</div>', c.get(my_url(municipality)).content.decode(), re.S)
               .group(0) for c in (known_client, unknown_client)]
    assert answers[0] == answers[1] and "一覧を開くリンクを送りました" in answers[0]
    assert Notice.objects.filter(subject__contains="申請の一覧", recipient="nobody@example.jp").count() == 0
    assert Notice.objects.filter(subject__contains="申請の一覧", recipient=EMAIL).count() == 1


def test_links_are_limited_per_address(municipality, requests_of_hanako):
    for _ in range(3):
        ask_link(Client(), municipality)
    client = Client()
    ask_link(client, municipality)
    assert "回数が多すぎます" in client.get(my_url(municipality)).content.decode()
    assert Notice.objects.filter(subject__contains="申請の一覧").count() == 3


@pytest.mark.parametrize("email", ["", "not-an-address", "a%00b%40example.jp", "%ED%A0%80%40example.jp",
                                   "x" * 300 + "%40example.jp"])
def test_malformed_addresses_get_a_japanese_error(municipality, email):
    # The form body as sent, so that NUL and a lone surrogate (UTF-8 encoded) reach the page.
    response = Client().post(my_url(municipality), data=f"op=send&email={email}".encode(),
                             content_type="application/x-www-form-urlencoded")
    page = response.content.decode()
    if "%00" in email:  # NUL is refused at the boundary (core.inputs), in Japanese
        assert response.status_code == 400 and "正しくない文字" in page and Notice.objects.count() == 0
        return
    assert response.status_code == 400 and "error-summary" in page
    assert "メールアドレス" in page and Notice.objects.count() == 0


def test_forged_stale_and_foreign_links_are_refused(municipality, other_municipality, requests_of_hanako,
                                                   monkeypatch):
    client = Client()
    ask_link(client, municipality)
    path = link_in(Notice.objects.get(subject__contains="申請の一覧"))
    token = path.rstrip("/").rsplit("/", 1)[-1]
    for forged in [path[:-4] + "abc/", path.replace(municipality.code, other_municipality.code),
                   reverse("web:requests_link", args=[municipality.code, "x" * 500])]:
        response = Client().get(forged)
        assert response.status_code in {400, 404}
        if response.status_code == 400:
            assert "有効期限" in response.content.decode()
    # The address of the request it went through changed: the link no longer opens anything.
    anchor = CertificateRequest.objects.filter(notice_email__iexact=EMAIL).order_by("-created_at", "-id").first()
    CertificateRequest.objects.filter(pk=anchor.pk).update(notice_email="new@example.jp")
    response = Client().get(reverse("web:requests_link", args=[municipality.code, token]))
    assert response.status_code == 400
    # Older than a day.
    CertificateRequest.objects.filter(pk=anchor.pk).update(notice_email=EMAIL)
    assert Client().get(reverse("web:requests_link", args=[municipality.code, token])).status_code == 302
    monkeypatch.setattr(views, "REQUESTS_LINK_MAX_AGE", -1)
    assert Client().get(reverse("web:requests_link", args=[municipality.code, token])).status_code == 400


def test_an_unpaid_request_is_withdrawn_by_its_browser_only(municipality, resident):
    client = Client()
    request = sign(draft(municipality), resident)
    session = client.session
    session["requests"] = [str(request.public_id)]
    session.save()
    withdraw = reverse("web:withdraw", args=[municipality.code, request.public_id])
    assert Client().post(withdraw).status_code == 404
    assert client.post(withdraw).status_code == 302
    request.refresh_from_db()
    assert request.state == State.CANCELLED
    assert "申請をやめました" in client.get(my_url(municipality)).content.decode()


def test_a_paid_request_is_not_withdrawn_without_a_code(municipality, resident):
    request = received(municipality, resident)
    client = Client()
    session = client.session
    session["requests"] = [str(request.public_id)]
    session.save()
    client.post(reverse("web:withdraw", args=[municipality.code, request.public_id]))
    request.refresh_from_db()
    assert request.state == State.RECEIVED
    assert "確認コードかマイナンバーカード" in client.get(my_url(municipality)).content.decode()


def test_a_line_request_gets_the_link_in_line_too(municipality, resident):
    make_channel(municipality)
    user = LineUser.objects.create(municipality=municipality, user_id="U" + "2" * 32)
    request = draft(municipality, notice_email=EMAIL)
    CertificateRequest.objects.filter(pk=request.pk).update(channel="line")
    RequestBinding.objects.create(municipality=municipality, request=request, line_user=user)
    ask_link(Client(), municipality)
    sent = Notice.objects.filter(request=request, subject__in=["requests_link", "【窓口市】申請の一覧を開くリンク"])
    assert sorted(sent.values_list("transport", flat=True)) == ["email", "line"]
    assert "/my/link/" in sent.get(transport="line").body
