"""Every request reaches an end, from the screens, in headless Chromium: on the web a resident confirms
receipt and answers the survey, cancels a paid request with the one-time code sent to the notice
address, and corrects a request a clerk sent back from the back office; in the LINE emulator's chat the
same resident confirms receipt and answers the survey, cancels, and gets the 差戻し notice whose button
opens the correction page. The clerk works the back office as at the office: TOTP sign-in and clicks.
Requests are made through the screens too; past the set-up (municipality, resident, clerk) the database
is only read, to check what the screens did."""

import os
import re

import pyotp
import pytest
from django.core import mail
from playwright.sync_api import expect

from madoguchi.applications.models import (
    CertificateRequest,
    Correction,
    CorrectionStatus,
    EventKind,
    SatisfactionAnswer,
    State,
)
from madoguchi.identity.contrib.sandbox.card import DEMO_PIN
from madoguchi.line.emulator.views import PLATFORM
from madoguchi.notifications.models import Notice
from madoguchi.operations.onboarding import create_municipality
from madoguchi.payments.models import PaymentStatus, Refund
from madoguchi.tenancy.models import Role, Staff

from .conftest import make_resident
from .line_helpers import make_channel
from .test_browser import CHROMIUM, browser  # noqa: F401 (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                       reason="Debian chromium is not installed (CI installs it)"),
]

PASSWORD = "correct-horse-battery"
EMAIL = "hanako@example.jp"


@pytest.fixture
def town(live_server, settings):
    """The municipality (with its LINE account on the emulator), a resident and a clerk with TOTP."""
    base = live_server.url
    settings.SITE_URL = base  # the sandbox gateway posts its notification here
    settings.LINE_API_BASE_URL = settings.LINE_API_DATA_BASE_URL = f"{base}/line-emulator"
    settings.LINE_LIFF_URL = f"{base}/line-emulator/liff"
    PLATFORM.reset()
    municipality = create_municipality(code="139998", name="窓口市", prefecture="東京都",
                                       certifier_name="窓口 一郎", contact="市民課")
    make_channel(municipality)
    resident = make_resident(municipality, "山田 花子")
    clerk = Staff(username="clerk", municipality=municipality, role=Role.CLERK, totp_secret=pyotp.random_base32())
    clerk.set_password(PASSWORD)
    clerk.save()
    return base, municipality, resident, clerk


def phone(browser):  # noqa: F811
    return browser.new_context(viewport={"width": 360, "height": 740}, locale="ja-JP").new_page()


def sign_with_card(page, resident) -> None:
    """The sandbox card page the identity provider shows: card number and the signing PIN."""
    page.get_by_label("カード番号(デモ用)").fill(resident.person_number)
    page.get_by_label("署名用電子証明書の暗証番号(6〜16桁の英数字)").fill(DEMO_PIN)
    page.get_by_role("button", name="署名する").click()


def sign_and_pay(page, resident) -> None:
    page.get_by_role("button", name="カードで署名する").click()
    sign_with_card(page, resident)
    page.wait_for_url("**/pay/")
    page.get_by_role("button", name="支払いへ進む").click()
    page.get_by_role("button", name="支払う").click()
    page.wait_for_url("**/done/")


def apply_on_web(page, base, municipality, resident, *, email: str = "") -> str:
    """住民票の写し 1通, 金融機関の手続き, 普通郵便: 410円, signed and paid. Returns the reception number."""
    page.goto(f"{base}/m/{municipality.code}/")
    page.get_by_role("link", name="申請をはじめる").click()
    page.get_by_label("住民票の写し").check()
    page.get_by_role("button", name="次へ").click()
    page.get_by_label("本人のみ").check()
    page.get_by_role("button", name="次へ").click()
    page.get_by_label("金融機関の手続き").check()
    page.get_by_role("button", name="次へ").click()
    page.get_by_label("普通郵便(110円)").check()
    if email:
        page.get_by_label("お知らせを受け取るメールアドレス(任意)").fill(email)
    page.get_by_role("button", name="次へ").click()
    expect(page.locator("main")).to_contain_text("410円")
    page.get_by_role("button", name="この内容で申請する").click()
    sign_and_pay(page, resident)
    return page.locator(".reception-number").inner_text().strip()


def apply_in_chat(page, base, municipality, resident) -> CertificateRequest:
    """The same request from the emulator's chat, signed and paid through LIFF; back in the chat after."""
    chat_url = f"{base}/line-emulator/chat/{municipality.code}/"
    page.goto(chat_url)
    page.get_by_role("button", name="友だち追加").click()
    expect(page.locator(".chat-log")).to_contain_text("友だち追加ありがとうございます")
    page.get_by_role("button", name="証明書の申請").last.click()  # the rich menu
    for label in ["住民票の写し", "本人のみ", "はい", "いいえ", "いいえ", "1通", "金融機関の手続き",
                  "普通郵便(110円)"]:
        page.locator(".quick-replies").get_by_role("button", name=label, exact=True).click()
    expect(page.locator(".chat-log")).to_contain_text("合計 410円")
    page.locator(".quick-replies").get_by_role("button", name="申請する").click()
    page.get_by_role("link", name="署名とお支払いへ").click()
    sign_and_pay(page, resident)
    request = CertificateRequest.objects.get()
    assert request.channel == "line" and request.state == State.RECEIVED
    page.goto(chat_url)
    expect(page.locator(".chat-log")).to_contain_text(request.formatted_reception_number)
    return request


def sign_in(browser, base, clerk):  # noqa: F811
    """The clerk at the office PC: password, then the TOTP code."""
    desk = browser.new_context(locale="ja-JP").new_page()
    desk.goto(f"{base}/office/")
    desk.get_by_label("ユーザー名").fill(clerk.username)
    desk.get_by_label("パスワード").fill(PASSWORD)
    desk.get_by_role("button", name="次へ").click()
    desk.get_by_label("確認コード(6桁)").fill(pyotp.TOTP(clerk.totp_secret).now())
    desk.get_by_role("button", name="ログイン").click()
    expect(desk.get_by_role("heading", name="受付一覧")).to_be_visible()
    return desk


def approve_print_and_mail(desk, number: str) -> None:
    desk.get_by_role("link", name="受付一覧").click()
    desk.get_by_role("link", name=number).click()
    desk.get_by_role("button", name="承認して証明書を作成").click()
    expect(desk.locator(".state")).to_have_text("承認済み")
    desk.get_by_role("link", name="受付一覧").click()
    desk.get_by_label(number).check()
    desk.get_by_role("button", name="選んだ申請の印刷用PDFを作成").click()
    expect(desk.locator("main")).to_contain_text("1件の印刷用PDFを作成しました")
    desk.get_by_role("link", name=number).click()
    desk.get_by_label("お問い合わせ番号(任意)").fill("1234-5678-9012")
    desk.get_by_role("button", name="発送済みにする").click()
    expect(desk.locator(".state")).to_have_text("発送済み")


def send_back(desk, number: str, reason: str, words: str) -> None:
    desk.get_by_role("link", name="受付一覧").click()
    desk.get_by_role("link", name=number).click()
    desk.get_by_label("差戻しの理由(住民に通知されます)").select_option(label=reason)
    desk.get_by_label("補足(任意。「その他」は必須)").fill(words)
    desk.get_by_role("button", name="差し戻す").click()
    expect(desk.locator(".state")).to_have_text("差戻し中")


def look_up(page, base, municipality, number: str) -> None:
    """The status page (reception number + birth date), then the request's own page."""
    page.goto(f"{base}/m/{municipality.code}/status/")
    page.get_by_label("受付番号(16桁)").fill(number)
    page.get_by_label("元号").select_option("昭和")
    page.get_by_label("年", exact=True).fill("55")
    page.get_by_label("月", exact=True).fill("4")
    page.get_by_label("日", exact=True).fill("1")
    page.get_by_role("button", name="確認する").click()
    page.get_by_role("link", name="取消・修正・受け取りの確認・アンケートへ").click()
    expect(page.get_by_role("heading", name="申請の状況", exact=True)).to_be_visible()


def quick(page, label: str):
    return page.locator(".quick-replies").get_by_role("button", name=label, exact=True)


# --- the web ---------------------------------------------------------------------------------------

def test_web_receipt_completes_the_mailed_request_and_the_survey_is_answered(town, browser):  # noqa: F811
    base, municipality, resident, clerk = town
    page = phone(browser)
    number = apply_on_web(page, base, municipality, resident, email=EMAIL)
    desk = sign_in(browser, base, clerk)
    approve_print_and_mail(desk, number)

    look_up(page, base, municipality, number)
    expect(page.locator(".status-text")).to_have_text("発送済みです。郵便でお届けします。")
    expect(page.get_by_role("heading", name="アンケートのお願い")).to_have_count(0)  # not before 完了
    page.get_by_role("button", name="受け取りました").click()
    expect(page.get_by_role("alert")).to_contain_text("受け取りを確認しました")
    expect(page.locator(".status-text")).to_have_text("お届けが完了しました。")
    expect(page.get_by_role("button", name="受け取りました")).to_have_count(0)
    request = CertificateRequest.objects.get()
    assert request.state == State.COMPLETED
    assert request.events.get(kind=EventKind.COMPLETED).data == {"source": "receipt", "channel": "web"}
    completed = [m for m in mail.outbox if m.to == [EMAIL] and "完了" in m.subject]
    assert len(completed) == 1 and "/link/" in completed[0].body  # the survey link, once

    # The survey: no score is a clear error, then a score and a comment; it is answered once.
    page.get_by_role("button", name="回答する").click()
    expect(page.locator("main")).to_contain_text("満足度を選んでください")
    page.get_by_label("4", exact=True).check()
    page.get_by_label("ご意見(任意)").fill("窓口に行かずに済みました")
    page.get_by_role("button", name="回答する").click()
    expect(page.get_by_role("alert")).to_contain_text("ご回答ありがとうございました")
    expect(page.get_by_role("button", name="回答する")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("アンケートへのご回答ありがとうございました")
    answer = SatisfactionAnswer.objects.get(request=request)
    assert (answer.score, answer.comment, answer.channel) == (4, "窓口に行かずに済みました", "web")

    # The clerk sees 完了 in the state and the history.
    desk.reload()
    expect(desk.locator(".state")).to_have_text("完了")
    expect(desk.get_by_role("table", name="履歴")).to_contain_text("完了: 発送済み → 完了")


def test_web_resident_cancels_a_paid_request_with_the_code_and_is_refunded(town, browser):  # noqa: F811
    base, municipality, resident, clerk = town
    page = phone(browser)
    number = apply_on_web(page, base, municipality, resident, email=EMAIL)
    # The clerk has the request open while the resident cancels it.
    desk = sign_in(browser, base, clerk)
    desk.get_by_role("link", name=number).click()
    expect(desk.locator(".state")).to_have_text("受付済み")

    look_up(page, base, municipality, number)
    expect(page.locator(".status-text")).to_have_text("受付済みです。職員が内容を確認します。")
    page.get_by_role("link", name="申請を取り消す").click()
    expect(page.locator("main")).to_contain_text("お支払いいただいた金額(410円)は、お支払いに使った方法で返金します")
    expect(page.locator("main")).to_contain_text("申請のときに登録したメールアドレスに確認コードを送ります")
    page.get_by_role("button", name="確認コードを送る").click()
    expect(page.get_by_role("alert")).to_contain_text("確認コードを送りました")
    sent = [m for m in mail.outbox if m.to == [EMAIL] and "確認コード" in m.body]
    assert len(sent) == 1
    code = re.search(r"確認コード: (\d{6})", sent[0].body).group(1)

    # A wrong code first: a clear Japanese error, nothing cancelled.
    page.get_by_label("確認コード(6桁)").fill("000000" if code != "000000" else "111111")
    page.get_by_role("button", name="申請を取り消す").click()
    expect(page.get_by_role("alert")).to_contain_text("確認コードが違うか、有効期限が切れています")
    assert CertificateRequest.objects.get().state == State.RECEIVED
    page.get_by_label("確認コード(6桁)").fill(code)
    page.get_by_role("button", name="申請を取り消す").click()
    expect(page.get_by_role("alert")).to_contain_text("申請を取り消しました")
    expect(page.locator(".status-text")).to_have_text("申請は取り消されました。")
    expect(page.locator(".refund")).to_have_text("お支払いいただいた 410円は、お支払いに使った方法で返金しました。")
    expect(page.get_by_role("link", name="申請を取り消す")).to_have_count(0)

    request = CertificateRequest.objects.get()
    assert request.state == State.CANCELLED
    assert request.events.get(kind=EventKind.CANCELLED).data == {"confirmed_by": "code", "channel": "web"}
    assert request.payments.get().status == PaymentStatus.REFUNDED and Refund.objects.get().amount == 410
    cancelled = [m for m in mail.outbox if m.to == [EMAIL] and "取り消しました" in m.body]
    assert len(cancelled) == 1 and "お支払いいただいた 410円は、お支払いに使った方法で返金します" in cancelled[0].body

    # The clerk's page is stale: approving now is refused, the request stays cancelled and leaves the queue.
    desk.get_by_role("button", name="承認して証明書を作成").click()
    expect(desk.get_by_role("alert")).to_contain_text("この申請は現在「取消」のため、この操作はできません。")
    expect(desk.locator(".state")).to_have_text("取消")
    expect(desk.get_by_role("button", name="承認して証明書を作成")).to_have_count(0)
    expect(desk.get_by_role("table", name="履歴")).to_contain_text("申請者による取消")
    assert CertificateRequest.objects.get().state == State.CANCELLED
    desk.get_by_role("link", name="受付一覧").click()
    expect(desk.get_by_role("link", name=number)).to_have_count(0)


def test_web_clerk_sends_back_and_the_resident_corrects_it_back_into_the_queue(town, browser):  # noqa: F811
    base, municipality, resident, clerk = town
    page = phone(browser)
    number = apply_on_web(page, base, municipality, resident, email=EMAIL)
    desk = sign_in(browser, base, clerk)
    send_back(desk, number, "通数をご確認ください。", "提出先が2か所とのことなので、2通ではありませんか")
    expect(desk.locator(".decide")).to_contain_text("差戻し中: 補正待ち")
    returned = [m for m in mail.outbox if m.to == [EMAIL] and "差し戻しました" in m.body]
    assert len(returned) == 1 and "2通ではありませんか" in returned[0].body

    # The resident reads the reason on the request page and corrects: 2 copies, signed again, 300円 more.
    look_up(page, base, municipality, number)
    expect(page.get_by_role("heading", name="修正のお願い")).to_be_visible()
    expect(page.locator("main")).to_contain_text("通数をご確認ください。")
    expect(page.locator("main")).to_contain_text("2通ではありませんか")
    page.get_by_role("link", name="申請を修正する").click()
    page.get_by_label("通数").select_option(label="2通")
    page.get_by_role("button", name="この内容で修正する").click()
    expect(page.locator(".summary")).to_contain_text("710円")
    expect(page.locator(".summary")).to_contain_text("追加のお支払い")
    page.get_by_role("button", name="カードで署名する").click()
    sign_with_card(page, resident)
    expect(page.get_by_role("heading", name="差額のお支払い")).to_be_visible()
    expect(page.locator(".amount")).to_have_text("300円")
    page.get_by_role("button", name="差額を支払う").click()
    page.get_by_role("button", name="支払う").click()
    expect(page.locator(".status-text")).to_have_text("受付済みです。職員が内容を確認します。")
    expect(page.get_by_role("heading", name="修正のお願い")).to_have_count(0)

    request = CertificateRequest.objects.get()
    assert (request.state, request.copies, request.total_amount) == (State.RECEIVED, 2, 710)
    assert request.formatted_reception_number == number
    assert Correction.objects.get(request=request).status == CorrectionStatus.DONE
    assert sorted(p.amount for p in request.payments.filter(status=PaymentStatus.CAPTURED)) == [300, 410]

    # Back in the clerk's queue with its history: 差戻し, 補正, 再提出.
    desk.get_by_role("link", name="受付一覧").click()
    row = desk.locator("tbody tr", has=desk.get_by_role("link", name=number))
    expect(row).to_contain_text("受付済み")
    expect(row.locator("td").nth(5)).to_have_text("2")
    row.get_by_role("link", name=number).click()
    expect(desk.locator(".state")).to_have_text("受付済み")
    history = desk.get_by_role("table", name="履歴")
    expect(history).to_contain_text("差戻し: 受付済み → 差戻し中")
    expect(history).to_contain_text("2通ではありませんか")
    expect(history).to_contain_text("申請内容の補正")
    expect(history).to_contain_text("補正後の再提出: 差戻し中 → 受付済み")
    expect(desk.get_by_role("button", name="承認して証明書を作成")).to_be_visible()


# --- the LINE emulator -----------------------------------------------------------------------------

def test_line_receipt_and_survey_from_the_chat(town, browser):  # noqa: F811
    base, municipality, resident, clerk = town
    page = phone(browser)
    request = apply_in_chat(page, base, municipality, resident)
    number = request.formatted_reception_number
    desk = sign_in(browser, base, clerk)
    approve_print_and_mail(desk, number)

    chat = page.locator(".chat-log")
    expect(chat).to_contain_text("お問い合わせ番号: 1234-5678-9012")  # the 発送 notice arrives in the open chat
    expect(chat).to_contain_text("届いたら「受け取りました」を押してください")
    quick(page, "受け取りました").click()
    expect(chat).to_contain_text("受け取りを確認しました")
    expect(chat).to_contain_text("満足度を1(不満)〜5(満足)")
    quick(page, "4").click()
    expect(chat).to_contain_text("ご意見があれば、このまま文字で送ってください")
    page.get_by_label("メッセージ").fill("LINEだけで済んで便利でした")
    page.get_by_role("button", name="送信").click()
    expect(chat).to_contain_text("ご意見ありがとうございました")

    request.refresh_from_db()
    assert request.state == State.COMPLETED
    assert request.events.get(kind=EventKind.COMPLETED).data == {"source": "receipt", "channel": "line"}
    answer = SatisfactionAnswer.objects.get(request=request)
    assert (answer.score, answer.comment, answer.channel) == (4, "LINEだけで済んで便利でした", "line")
    assert Notice.objects.filter(request=request, subject="completed", transport="line").count() == 1
    desk.reload()
    expect(desk.locator(".state")).to_have_text("完了")


def test_line_cancel_from_the_chat_is_refunded(town, browser):  # noqa: F811
    base, municipality, resident, clerk = town
    page = phone(browser)
    request = apply_in_chat(page, base, municipality, resident)
    tail = request.reception_number[-4:]
    chat = page.locator(".chat-log")
    desk = sign_in(browser, base, clerk)
    desk.get_by_role("link", name=request.formatted_reception_number).click()

    page.get_by_role("button", name="申請状況").last.click()  # the rich menu
    expect(chat).to_contain_text(f"住民票の写し {request.formatted_reception_number}: 受付済み")
    quick(page, f"取り消す({tail})").click()
    expect(chat).to_contain_text("の申請を取り消しますか?お支払い済みの金額は返金します")
    quick(page, "取り消さない").click()  # changed their mind: the status again, nothing cancelled
    expect(quick(page, f"取り消す({tail})")).to_be_visible()
    request.refresh_from_db()
    assert request.state == State.RECEIVED
    quick(page, f"取り消す({tail})").click()
    quick(page, "取り消す").click()
    expect(chat).to_contain_text("ご依頼により、申請を取り消しました")
    expect(chat).to_contain_text("お支払いいただいた 410円は、お支払いに使った方法で返金します")

    request.refresh_from_db()
    assert request.state == State.CANCELLED
    assert request.events.get(kind=EventKind.CANCELLED).data == {"confirmed_by": "line", "channel": "line"}
    assert request.payments.get().status == PaymentStatus.REFUNDED and Refund.objects.get().amount == 410
    # The status now offers nothing to cancel, only the whole list.
    page.get_by_role("button", name="申請状況").last.click()
    expect(chat.locator("li").last).to_contain_text("取消")
    expect(page.locator(".quick-replies button")).to_have_text(["申請一覧"])
    desk.reload()
    expect(desk.locator(".state")).to_have_text("取消")
    expect(desk.get_by_role("button", name="承認して証明書を作成")).to_have_count(0)


def test_line_sent_back_notice_arrives_in_the_chat_and_its_button_opens_the_correction(town, browser):  # noqa: F811
    base, municipality, resident, clerk = town
    page = phone(browser)
    request = apply_in_chat(page, base, municipality, resident)
    number = request.formatted_reception_number
    desk = sign_in(browser, base, clerk)
    send_back(desk, number, "使いみちが分かりません。具体的にご記入ください。", "提出先を教えてください")

    chat = page.locator(".chat-log")
    expect(chat).to_contain_text("申請の内容に確認が必要なため、申請を差し戻しました")
    expect(chat).to_contain_text("提出先を教えてください")
    expect(chat).to_contain_text(f"受付番号 {number} の申請が差し戻されました")
    page.get_by_role("link", name="申請を修正する").click()  # LIFF proves the LINE user, then the web page
    expect(page.get_by_role("heading", name="申請の修正")).to_be_visible()
    page.get_by_label("就職・勤務先への提出").check()
    page.get_by_role("button", name="この内容で修正する").click()
    # The purpose is part of the signed terms: sign again with the same card (the amount is unchanged).
    expect(page.locator(".summary")).to_contain_text("就職・勤務先への提出")
    page.get_by_role("button", name="カードで署名する").click()
    sign_with_card(page, resident)
    expect(page.locator(".status-text")).to_have_text("受付済みです。職員が内容を確認します。")

    request.refresh_from_db()
    assert (request.state, request.purpose, request.total_amount) == (State.RECEIVED, "employment", 410)
    assert Correction.objects.get(request=request).status == CorrectionStatus.DONE
    page.goto(f"{base}/line-emulator/chat/{municipality.code}/")
    expect(chat).to_contain_text("修正した申請を受け付けました")
    desk.get_by_role("link", name="受付一覧").click()
    expect(desk.locator("tbody tr", has=desk.get_by_role("link", name=number))).to_contain_text("受付済み")
