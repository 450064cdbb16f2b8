"""The whole LINE journey in headless Chromium on the emulator's chat page: follow, the conversation
with quick replies, LIFF into the web pages, the virtual card and the sandbox payment, then every push
notice as the clerk works the request, and the satisfaction answer."""

import os

import pytest
from playwright.sync_api import expect

from madoguchi.applications import actions
from madoguchi.applications.models import CertificateRequest, SatisfactionAnswer, State
from madoguchi.identity.contrib.sandbox.card import DEMO_PIN
from madoguchi.line.emulator.views import PLATFORM
from madoguchi.line.models import FriendDaily
from madoguchi.operations.onboarding import create_municipality
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


def test_line_chat_to_completed_journey(live_server, settings, browser):  # noqa: F811
    base = live_server.url
    settings.SITE_URL = base
    settings.LINE_API_BASE_URL = settings.LINE_API_DATA_BASE_URL = f"{base}/line-emulator"
    settings.LINE_LIFF_URL = f"{base}/line-emulator/liff"
    PLATFORM.reset()
    municipality = create_municipality(code="139998", name="窓口市", prefecture="東京都",
                                       certifier_name="窓口 一郎", contact="市民課")
    make_channel(municipality)
    resident = make_resident(municipality, "山田 花子")
    clerk = Staff.objects.create(username="clerk", municipality=municipality, role=Role.CLERK, totp_secret="A" * 32)

    phone = browser.new_context(viewport={"width": 360, "height": 740}, locale="ja-JP")
    page = phone.new_page()
    page.goto(f"{base}/line-emulator/chat/{municipality.code}/")
    page.get_by_role("button", name="友だち追加").click()
    expect(page.locator(".chat-log")).to_contain_text("友だち追加ありがとうございます")
    page.get_by_role("button", name="証明書の申請").last.click()  # the rich menu
    for label in ["住民票の写し", "本人のみ", "はい", "いいえ", "いいえ", "1通", "金融機関の手続き",
                  "普通郵便(110円)"]:
        page.locator(".quick-replies").get_by_role("button", name=label, exact=True).click()
    expect(page.locator(".chat-log")).to_contain_text("合計 410円")
    page.locator(".quick-replies").get_by_role("button", name="申請する").click()

    # LIFF: the ID token proves the LINE user, then the web pages sign and pay.
    page.get_by_role("link", name="署名とお支払いへ").click()
    page.get_by_role("button", name="カードで署名する").click()
    page.get_by_label("カード番号(デモ用)").fill(resident.person_number)
    page.get_by_label("署名用電子証明書の暗証番号(6〜16桁の英数字)").fill(DEMO_PIN)
    page.get_by_role("button", name="署名する").click()
    page.wait_for_url("**/pay/")
    page.get_by_role("button", name="支払いへ進む").click()
    page.get_by_role("button", name="支払う").click()
    page.wait_for_url("**/done/")
    request = CertificateRequest.objects.get()
    assert request.channel == "line" and request.state == State.RECEIVED

    page.goto(f"{base}/line-emulator/chat/{municipality.code}/")
    chat = page.locator(".chat-log")
    expect(chat).to_contain_text("証明書の申請を受け付けました")
    expect(chat).to_contain_text(request.formatted_reception_number)
    # The clerk works the request; the open chat page shows each push as it arrives.
    actions.approve(request, clerk)
    actions.record_printed([request], clerk)
    expect(chat).to_contain_text("証明書を発行しました")
    actions.mark_mailed(request, clerk, "1234-5678-9012")
    expect(chat).to_contain_text("お問い合わせ番号: 1234-5678-9012")
    actions.complete(request)
    expect(chat).to_contain_text("満足度を1(不満)〜5(満足)")
    page.locator(".quick-replies").get_by_role("button", name="5", exact=True).click()
    expect(chat).to_contain_text("ご回答ありがとうございました")
    assert SatisfactionAnswer.objects.get(request=request).score == 5
    assert FriendDaily.objects.get(municipality=municipality).follows == 1
