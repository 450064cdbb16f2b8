"""Issue 14, done when: a municipality onboarded by the command is made ready by its manager in the
browser — seal uploaded and seen on a sample certificate, fees and a campaign set, a clerk invited
who enrolls TOTP and signs in (and, as 公印管理者, approves the seal) — without Django admin."""

import datetime
import io
import os
import re
import shutil

import pyotp
import pytest
from django.core.management import call_command
from django.utils import timezone
from PIL import Image

from madoguchi.catalog import services as catalog
from madoguchi.documents import seals
from madoguchi.tenancy.models import Municipality, Staff, municipality_code_check_digit

from .conftest import make_resident

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                       reason="Debian chromium is not installed (CI installs it)"),
]
PASSWORD = "a-long-enough-passphrase"


@pytest.fixture
def browser():
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


def _seal_file(folder) -> str:
    image = Image.new("RGBA", (260, 260), (0, 0, 0, 0))
    image.paste(Image.new("RGBA", (240, 240), (200, 20, 20, 255)), (10, 10))
    path = folder / "koin.png"
    image.save(path, format="PNG")
    return str(path)


def _enroll(page, link: str) -> pyotp.TOTP:
    page.goto(link)
    totp = pyotp.TOTP(page.locator(".totp-secret").text_content().strip())
    assert page.locator("img[alt='認証アプリに登録するQRコード']").evaluate("i => i.naturalWidth") > 0
    page.get_by_label("新しいパスワード(12文字以上)").fill(PASSWORD)
    page.get_by_label("新しいパスワード(確認)").fill(PASSWORD)
    page.get_by_label("認証アプリに表示された6桁の確認コード").fill(totp.now())
    page.get_by_role("button", name="設定してログインする").click()
    return totp


def _red_pixels(png: bytes) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    pixels = image.load()
    return sum(1 for y in range(image.height) for x in range(image.width)
               if pixels[x, y][0] > 170 and pixels[x, y][1] < 60 and pixels[x, y][2] < 60)


def test_onboarded_municipality_made_ready_in_the_browser(live_server, settings, browser, tmp_path):
    settings.SITE_URL = live_server.url
    base = live_server.url
    code = "08219" + str(municipality_code_check_digit("08219"))
    out = io.StringIO()
    call_command("onboard_municipality", code, "牛久市", prefecture="茨城県", manager="ushiku.kanri",
                 manager_name="牛久 花子", certifier_name="牛久 一郎", contact="市民課 029-000-0000", stdout=out)
    link = re.search(r"(http\S+/office/invitation/\S+/)", out.getvalue()).group(1)
    municipality = Municipality.objects.get(code=code)
    # The operator's part: provider credentials (never shown to the manager) and the replica.
    for name, value in [("LINE_CHANNEL_SECRET", "0123456789abcdef0123456789abcdef"), ("LINE_ACCESS_TOKEN", "tok")]:
        call_command("secrets", "set", code, name, stdin=io.StringIO(value + "\n"), stdout=io.StringIO())
    make_resident(municipality, "山田 花子")

    resident = browser.new_context(locale="ja-JP").new_page()
    resident.goto(f"{base}/m/{code}/")
    assert "準備中" in resident.content()

    # --- the first manager enrolls with the one-time link ---
    office = browser.new_context(locale="ja-JP")
    desk = office.new_page()
    _enroll(desk, link)
    desk.get_by_role("link", name="管理", exact=True).click()
    assert desk.locator("li[data-item='seal'].todo").count() == 1

    # --- 公印: upload, seen on the sample certificate ---
    desk.get_by_role("link", name="公印・認証者").first.click()
    desk.get_by_label("公印の画像(PNG、背景透明、2MBまで)").set_input_files(_seal_file(tmp_path))
    desk.get_by_label("印影の横幅(mm)").fill("21")
    desk.get_by_label("印影の縦幅(mm)").fill("21")
    desk.get_by_label("使用開始日").fill(timezone.localdate().isoformat())
    desk.get_by_role("button", name="公印を登録する").click()
    assert "公印を登録しました" in desk.content()
    sample = desk.locator("img[alt='この公印で印刷した見本の証明書']")
    desk.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=sample.element_handle())
    preview = office.request.get(base + sample.get_attribute("src"))
    assert preview.ok and _red_pixels(preview.body()) > 1000  # the uploaded red impression is on the sample

    # --- fees and a campaign ---
    desk.get_by_role("link", name="手数料・キャンペーン").first.click()
    desk.get_by_label("住民票の写し オンライン").fill("250")
    desk.get_by_role("button", name="手数料を保存する").click()
    assert "手数料を保存しました" in desk.content()
    start = timezone.localdate() + datetime.timedelta(days=1)
    form = desk.locator("#campaign-form")
    form.get_by_label("キャンペーン名").fill("オンライン申請10円キャンペーン")
    form.get_by_label("証明書").select_option("residence_certificate")
    form.get_by_label("手数料区分").select_option("online")
    form.get_by_label("開始日").fill(start.isoformat())
    form.get_by_label("終了日").fill((start + datetime.timedelta(days=30)).isoformat())
    form.get_by_label("手数料(円)").fill("10")
    desk.get_by_role("button", name="キャンペーンを保存する").click()
    assert "オンライン申請10円キャンペーン" in desk.locator("table").nth(2).inner_text()
    assert catalog.fee_for(municipality, "residence_certificate", "online", timezone.localdate()) == 250
    assert catalog.fee_for(municipality, "residence_certificate", "online", start) == 10

    # --- a clerk who is also 公印管理者 is invited ---
    desk.get_by_role("link", name="職員").click()
    desk.get_by_label("ユーザー名(半角英数字)").fill("ushiku.soumu")
    desk.get_by_label("氏名(姓と名の間に空白)").fill("総務 次郎")
    desk.get_by_label("役割").last.select_option("clerk")
    desk.get_by_label("公印管理者(公印の承認ができる)").check()
    desk.get_by_role("button", name="招待する").click()
    clerk_link = desk.locator("input.invitation-link").input_value()

    # --- the clerk enrolls TOTP, signs out, signs in with password and code, approves the seal ---
    clerk_context = browser.new_context(locale="ja-JP")
    clerk_page = clerk_context.new_page()
    totp = _enroll(clerk_page, clerk_link)
    assert "受付一覧" in clerk_page.content()
    clerk_page.get_by_role("button", name="ログアウト").click()
    clerk_page.get_by_label("ユーザー名").fill("ushiku.soumu")
    clerk_page.get_by_label("パスワード").fill(PASSWORD)
    clerk_page.get_by_role("button", name="次へ").click()
    # The code shown at enrollment is spent; the next step's code is accepted (one step of clock skew).
    clerk_page.get_by_label("確認コード(6桁)").fill(totp.at(timezone.now() + datetime.timedelta(seconds=30)))
    clerk_page.get_by_role("button", name="ログイン").click()
    clerk_page.get_by_role("link", name="公印の承認").click()
    clerk_page.get_by_role("button", name="この公印を承認する").click()
    assert "公印を承認しました" in clerk_page.content()
    assert seals.effective_seal(municipality, timezone.localdate()) is not None
    assert Staff.objects.get(username="ushiku.soumu").totp_secret

    # --- the checklist is complete: the manager opens the resident pages ---
    desk.get_by_role("link", name="開始準備").click()
    assert desk.locator("li.todo").count() == 0, desk.locator(".checklist").inner_text()
    desk.get_by_role("button", name="オンライン申請の受付を開始する").click()
    assert "受付を開始しました" in desk.content()
    resident.goto(f"{base}/m/{code}/")
    assert "申請をはじめる" in resident.content()
    office.close()
    clerk_context.close()
