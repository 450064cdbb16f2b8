"""The whole journey in headless Chromium: a resident applies, signs with the virtual card and pays;
a clerk signs in with TOTP, approves, prints the batch PDF and marks it mailed; the resident's status
page then says 発送済み."""

import io
import os
import shutil

import pyotp
import pytest
from pypdf import PdfReader

from madoguchi.identity.contrib.sandbox.card import DEMO_PIN
from madoguchi.operations.onboarding import create_municipality
from madoguchi.tenancy.models import Role, Staff

from .conftest import make_resident

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                       reason="Debian chromium is not installed (CI installs it)"),
]


@pytest.fixture
def browser():
    # Playwright's sync API runs an event loop in this thread; the ORM calls below are synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


def test_resident_to_mailed_journey(live_server, settings, browser):
    settings.SITE_URL = live_server.url  # the sandbox gateway posts its notification here
    municipality = create_municipality(code="139998", name="窓口市", prefecture="東京都",
                                       certifier_name="窓口 一郎", contact="市民課")
    resident = make_resident(municipality, "山田 花子")
    clerk = Staff(username="clerk", municipality=municipality, role=Role.CLERK, totp_secret=pyotp.random_base32())
    clerk.set_password("correct-horse-battery")
    clerk.save()
    base = live_server.url

    # --- the resident, on a phone-sized screen ---
    phone = browser.new_context(viewport={"width": 360, "height": 740}, locale="ja-JP", accept_downloads=False)
    page = phone.new_page()
    page.goto(f"{base}/m/{municipality.code}/")
    page.get_by_role("link", name="申請をはじめる").click()
    page.get_by_label("住民票の写し").check()
    page.get_by_role("button", name="次へ").click()
    page.get_by_label("本人のみ").check()
    page.get_by_role("button", name="次へ").click()
    page.get_by_label("金融機関の手続き").check()
    page.get_by_role("button", name="次へ").click()
    page.get_by_label("普通郵便(110円)").check()
    page.get_by_role("button", name="次へ").click()
    assert "410円" in page.content()
    page.get_by_role("button", name="この内容で申請する").click()
    page.get_by_role("button", name="カードで署名する").click()
    page.get_by_label("カード番号(デモ用)").fill(resident.person_number)
    page.get_by_label("署名用電子証明書の暗証番号(6〜16桁の英数字)").fill(DEMO_PIN)
    page.get_by_role("button", name="署名する").click()
    page.wait_for_url("**/pay/")
    assert resident.household.address in page.content()
    page.get_by_role("button", name="支払いへ進む").click()
    page.get_by_role("button", name="支払う").click()
    page.wait_for_url("**/done/")
    number = page.locator(".reception-number").inner_text().strip()
    assert len(number) == 19

    # --- the clerk, on the office PC ---
    office = browser.new_context(locale="ja-JP", accept_downloads=True)
    desk = office.new_page()
    desk.goto(f"{base}/office/")
    desk.get_by_label("ユーザー名").fill("clerk")
    desk.get_by_label("パスワード").fill("correct-horse-battery")
    desk.get_by_role("button", name="次へ").click()
    desk.get_by_label("確認コード(6桁)").fill(pyotp.TOTP(clerk.totp_secret).now())
    desk.get_by_role("button", name="ログイン").click()
    desk.get_by_role("link", name=number).click()
    assert "山田 花子" in desk.content()
    desk.get_by_role("button", name="承認して証明書を作成").click()
    desk.get_by_role("link", name="受付一覧").click()
    desk.get_by_label(number).check()
    desk.get_by_role("button", name="選んだ申請の印刷用PDFを作成").click()
    with desk.expect_download() as download_info:
        desk.get_by_role("link", name="印刷用PDFをダウンロード").click()
    pdf = PdfReader(io.BytesIO(open(download_info.value.path(), "rb").read()))
    text = "".join(p.extract_text() for p in pdf.pages)
    assert "山田" in text and "花子" in text
    desk.get_by_role("link", name=number).click()
    desk.get_by_label("お問い合わせ番号(任意)").fill("1234-5678-9012")
    desk.get_by_role("button", name="発送済みにする").click()
    assert "発送済み" in desk.locator(".state").inner_text()

    # --- the resident checks the status ---
    page.goto(f"{base}/m/{municipality.code}/status/")
    page.get_by_label("受付番号(16桁)").fill(number)
    page.get_by_label("元号").select_option("昭和")
    page.get_by_label("年", exact=True).fill("55")
    page.get_by_label("月", exact=True).fill("4")
    page.get_by_label("日", exact=True).fill("1")
    page.get_by_role("button", name="確認する").click()
    assert "発送済みです" in page.locator(".status-text").inner_text()
    assert "1234-5678-9012" in page.content()
