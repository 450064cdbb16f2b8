"""Issue 16 walked in a real browser, on a phone (390 px) and an office PC (1280 px): the resident's
start page, help, fees, 変更, Back, 和暦, errors, card step and payment retry (item 1); 「申請の一覧」
from the link in the mail (item 2); the status page that answers (item 3); the clerk's search, review,
承認して次へ, shortcuts, reject with 定型文, print and 書留 numbers, receipt re-issue (item 4); the
auditor's and manager's first screens, the lockout message, the legal pages and the verification
page in 和暦 (item 5)."""

import re

import pyotp
import pytest
from playwright.sync_api import expect

from madoguchi.applications.models import CertificateRequest, State
from madoguchi.core.dates import to_wareki
from madoguchi.documents.models import IssuedDocument
from madoguchi.identity.contrib.sandbox.card import DEMO_PIN
from madoguchi.notifications.models import Notice
from madoguchi.operations.onboarding import create_municipality
from madoguchi.tenancy.models import Role, Staff

from .conftest import make_resident
from .flow import received
from .test_browser import browser  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("browser")]
WIDTHS = [390, 1280]
PASSWORD = "correct-horse-battery"


def _municipality():
    return create_municipality(code="139998", name="窓口市", prefecture="東京都", certifier_name="窓口 一郎",
                               contact="市民課 03-0000-0000")


def _page(browser, width):  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": 800}, locale="ja-JP", accept_downloads=True)
    return context, context.new_page()


def _no_horizontal_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url


def _birth_date(page, era, year, month, day):
    page.get_by_label("元号").select_option(era)
    page.get_by_label("年", exact=True).fill(year)
    page.get_by_label("月", exact=True).fill(month)
    page.get_by_label("日", exact=True).fill(day)


@pytest.mark.parametrize("width", WIDTHS)
def test_resident_applies_follows_and_opens_the_list_of_requests(live_server, settings, browser, width):  # noqa: F811
    settings.SITE_URL = live_server.url
    municipality = _municipality()
    resident = make_resident(municipality, "山田 花子")
    context, page = _page(browser, width)
    base = f"{live_server.url}/m/{municipality.code}"

    # Item 1: the start page says who, what it costs, how long, what is needed.
    page.goto(base + "/")
    for text in ("申請できる方", "費用", "届くまでの日数", "用意するもの"):
        expect(page.get_by_role("heading", name=text)).to_be_visible()
    expect(page.get_by_role("table", name="証明書ごとの手数料")).to_contain_text("住民票の写し")
    _no_horizontal_scroll(page)
    page.get_by_role("link", name="申請をはじめる").click()
    expect(page.locator(".progress-text")).to_contain_text("手続き 1 / 8")
    # The fee and a line of help under each choice; an answer missing gets a summary with focus.
    expect(page.get_by_text("1通 300円").first).to_be_visible()
    expect(page.get_by_label("住民票の写し")).to_have_attribute("aria-describedby", re.compile("_help"))
    page.get_by_role("button", name="次へ").click()
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.locator("#error-summary")).to_contain_text("「必要な証明書」を選んでください。")
    page.get_by_label("住民票の写し").check()
    page.get_by_role("button", name="次へ").click()
    page.get_by_role("button", name="次へ").click()
    page.get_by_label("金融機関の手続き").check()
    page.get_by_role("button", name="次へ").click()
    page.get_by_label("お知らせを受け取るメールアドレス(任意)").fill("hanako@example.jp")
    page.get_by_label("普通郵便(110円)").check()
    page.get_by_role("button", name="次へ").click()
    expect(page.locator("table.fees")).to_contain_text("410円")
    # 変更 goes to that one answer and back to the confirmation, the rest kept.
    page.get_by_role("link", name=re.compile(r"^変更\s?\(通数・使いみち\)$")).click()
    page.get_by_label("通数").select_option("2")
    page.get_by_role("button", name="次へ").click()
    page.wait_for_url("**/apply/confirm/")
    expect(page.locator("table.fees")).to_contain_text("710円")
    page.get_by_role("button", name="この内容で申請する").click()
    expect(page.get_by_text("ロック", exact=False).first).to_be_visible()  # the card step says what to do
    # Back from the card page finds the answers still there.
    page.go_back()
    page.wait_for_url("**/apply/confirm/")
    expect(page.locator("table.fees")).to_contain_text("710円")
    page.get_by_role("button", name="この内容で申請する").click()
    page.get_by_role("button", name="カードで署名する").click()
    page.get_by_label("カード番号(デモ用)").fill(resident.person_number)
    page.get_by_label("署名用電子証明書の暗証番号(6〜16桁の英数字)").fill(DEMO_PIN)
    page.get_by_role("button", name="署名する").click()
    page.wait_for_url("**/pay/")
    # Backing out of the payment page: retry is offered, not a dead end.
    page.get_by_role("button", name="支払いへ進む").click()
    page.wait_for_url("**/sandbox/pay/**")
    page.go_back()
    page.wait_for_url("**/r/*/pay/")
    page.goto(page.url.removesuffix("pay/") + "done/")
    page.get_by_role("link", name="もう一度お支払いへ進む").click()
    page.get_by_role("button", name="支払いへ進む").click()
    page.get_by_role("button", name="支払う").click()
    page.wait_for_url("**/done/")
    expect(page.locator(".progress-text")).to_contain_text("手続き 8 / 8")
    number = page.locator(".reception-number").inner_text().strip()
    request = CertificateRequest.objects.get(municipality=municipality, state=State.RECEIVED)

    # Item 3: the status page answers with dates, the ship date and what happens next (和暦 entry).
    page.goto(base + "/status/")
    page.get_by_label("受付番号(16桁)").fill(number)
    _birth_date(page, "昭和", "55", "4", "1")
    page.get_by_role("button", name="確認する").click()
    expect(page.locator(".status-text").first).to_have_text("受付済みです。職員が内容を確認します。")
    expect(page.locator(".ship-date")).to_contain_text(to_wareki(request.expected_ship_date))
    expect(page.get_by_role("heading", name="このあとの流れ")).to_be_visible()
    expect(page.locator("ol.timeline li")).to_have_count(3)
    _no_horizontal_scroll(page)

    # Item 2: another device asks for the link and opens 「申請の一覧」 from the mail.
    context.close()
    context, page = _page(browser, width)
    page.goto(base + "/my/")
    expect(page.get_by_text("この端末で表示できる申請はありません。")).to_be_visible()
    page.get_by_label("お知らせを受け取るメールアドレス").fill("hanako@example.jp")
    page.get_by_role("button", name="リンクを送る").click()
    expect(page.get_by_role("alert").first).to_contain_text("一覧を開くリンクを送りました")
    mail = Notice.objects.get(subject__contains="申請の一覧")
    page.goto(re.search(r"http\S+/my/link/\S+/", mail.body).group(0))
    expect(page.get_by_role("heading", name="手続き中(1件)")).to_be_visible()
    card = page.locator("article.my-request", has_text=number)
    card.get_by_text("これまでの経過").click()
    expect(card.locator("ol.timeline")).to_contain_text("お支払いを確認し、申請を受け付けました")
    card.get_by_role("link", name=re.compile("^領収書")).click()
    expect(page.get_by_role("heading", name="領収書")).to_be_visible()
    expect(page.locator("dd.amount")).to_have_text("710円")
    page.go_back()
    page.locator("article.my-request", has_text=number).get_by_role("link", name=re.compile("^取り消す")).click()
    expect(page.get_by_role("heading", name="申請の取消")).to_be_visible()
    _no_horizontal_scroll(page)

    # Item 1: the 404 is Japanese and leads back to the start page.
    page.goto(base + "/no-such-page/")
    expect(page.locator("h1")).to_contain_text("ページが見つかりません")
    context.close()


def _signed_in(browser, live_server, staff, width):  # noqa: F811
    context, desk = _page(browser, width)
    desk.goto(f"{live_server.url}/office/login/")
    desk.get_by_label("ユーザー名").fill(staff.username)
    desk.get_by_label("パスワード").fill(PASSWORD)
    desk.get_by_role("button", name="次へ").click()
    desk.get_by_label("確認コード(6桁)").fill(pyotp.TOTP(staff.totp_secret).now())
    desk.get_by_role("button", name="ログイン").click()
    return context, desk


def _staff(municipality, username, role):
    staff = Staff(username=username, municipality=municipality, role=role, totp_secret=pyotp.random_base32())
    staff.set_password(PASSWORD)
    staff.save()
    return staff


@pytest.mark.parametrize("width", WIDTHS)
def test_clerk_searches_reviews_rejects_prints_and_mails(live_server, settings, browser, width):  # noqa: F811
    settings.SITE_URL = live_server.url
    municipality = _municipality()
    first = received(municipality, make_resident(municipality, "山田 花子"))
    second = received(municipality, make_resident(municipality, "髙橋 恵子"))
    third = received(municipality, make_resident(municipality, "佐藤 一郎"))
    clerk = _staff(municipality, "clerk", Role.CLERK)

    # Item 5: a wrong password says so; the lockout message says when to try again.
    context, desk = _page(browser, width)
    desk.goto(f"{live_server.url}/office/login/")
    desk.get_by_label("ユーザー名").fill("clerk")
    desk.get_by_label("パスワード").fill("wrong")
    desk.get_by_role("button", name="次へ").click()
    expect(desk.get_by_role("alert")).to_have_text("ユーザー名またはパスワードが違います。")
    locked = _staff(municipality, "locked", Role.CLERK)
    for _attempt in range(10):
        desk.get_by_label("ユーザー名").fill(locked.username)
        desk.get_by_label("パスワード").fill("wrong")
        desk.get_by_role("button", name="次へ").click()
    desk.get_by_label("ユーザー名").fill(locked.username)
    desk.get_by_label("パスワード").fill(PASSWORD)  # right, but too late
    desk.get_by_role("button", name="次へ").click()
    expect(desk.get_by_role("alert")).to_contain_text("しばらくお待ちいただいています")
    expect(desk.get_by_role("alert")).to_contain_text("以降にもう一度お試しください")
    context.close()

    context, desk = _signed_in(browser, live_server, clerk, width)
    # Item 4: search by name, variant- and width-insensitive (高 finds 髙), and by reception number.
    desk.get_by_label("受付番号・氏名").fill("高橋")
    desk.get_by_role("button", name="検索").click()
    expect(desk.get_by_role("link", name=second.formatted_reception_number)).to_be_visible()
    expect(desk.get_by_role("link", name=first.formatted_reception_number)).to_have_count(0)
    desk.get_by_label("受付番号・氏名").fill(first.reception_number)
    desk.get_by_role("button", name="検索").click()
    expect(desk.get_by_role("link", name=first.formatted_reception_number)).to_be_visible()
    expect(desk.get_by_role("columnheader", name="発送予定日")).to_be_visible()
    expect(desk.get_by_role("columnheader", name="経路")).to_be_visible()
    desk.locator("#shortcuts summary").click()
    expect(desk.locator("#shortcuts")).to_contain_text("次の申請・前の申請へ移動")
    # The review screen: card and replica side by side, certificate internals folded away.
    desk.get_by_role("link", name=first.formatted_reception_number).click()
    expect(desk.get_by_role("table", name=re.compile("カードと住民記録の比較"))).to_be_visible()
    expect(desk.locator("details.internals")).not_to_have_attribute("open", "")
    # 承認して次へ from the keyboard (documented on screen).
    desk.locator("#shortcuts summary").click()
    expect(desk.locator("#shortcuts")).to_contain_text("承認して次へ")
    desk.keyboard.press("n")
    expect(desk.locator("h1")).not_to_contain_text(first.formatted_reception_number)
    current = second if second.formatted_reception_number in desk.locator("h1").inner_text() else third
    other = third if current is second else second
    # Reject with a 定型文, confirmed before it happens.
    desk.get_by_role("link", name="却下する(理由を選ぶ)").click()
    desk.get_by_label("同じ内容の申請が重なっていた", exact=False).check()
    desk.get_by_role("button", name="確認へ進む").click()
    expect(desk.get_by_text("同じ内容の申請が重なっていた", exact=False).first).to_be_visible()
    desk.get_by_role("button", name="却下して返金する").click()
    current.refresh_from_db()
    assert current.state in {State.REJECTED, State.REFUNDED}
    # The last one with 承認して次へ, then the approved tab prints both at once.
    desk.goto(f"{live_server.url}/office/?state=all")
    desk.get_by_role("link", name=other.formatted_reception_number).click()
    desk.get_by_role("button", name="承認して次へ").click()
    desk.get_by_role("button", name="承認済みの2件をまとめて印刷").click()
    expect(desk.get_by_role("heading", name=re.compile("印刷用PDF"))).to_be_visible()
    with desk.expect_download() as download:
        desk.get_by_role("link", name="印刷用PDFをダウンロード").click()
    assert download.value.path().read_bytes().startswith(b"%PDF")
    # 書留 numbers: the shared part once, then the rest of each label.
    desk.get_by_label("書留番号の共通部分(ラベルの先頭の桁、任意)").fill("12345")
    rows = desk.locator("input.tracking")
    for index in range(rows.count()):
        body = f"12345{index + 1:05d}"
        rows.nth(index).fill(body[5:] + str(int(body) % 7))
    desk.get_by_role("button", name="印刷済みの申請を発送済みにする").click()
    expect(desk.get_by_role("alert").first).to_contain_text("2件を発送済みにしました")
    first.refresh_from_db()
    assert first.state == State.MAILED and first.tracking_number.startswith("12345")
    # The 発送済み tab keeps them; the receipt can be issued again from the request.
    desk.goto(f"{live_server.url}/office/?state=mailed")
    desk.get_by_role("link", name=first.formatted_reception_number).click()
    href = desk.get_by_role("link", name="領収書を再発行(PDF)").get_attribute("href")
    receipt = desk.context.request.get(live_server.url + href)  # the clerk's session
    assert receipt.ok and receipt.body().startswith(b"%PDF")
    context.close()

    # Item 3 again, from the resident's side: the tracking number is a link to follow the envelope.
    context, page = _page(browser, width)
    page.goto(f"{live_server.url}/m/{municipality.code}/status/")
    page.get_by_label("受付番号(16桁)").fill(first.formatted_reception_number)
    _birth_date(page, "西暦", "1980", "4", "1")
    page.get_by_role("button", name="確認する").click()
    expect(page.get_by_role("link", name=re.compile("郵便の配達状況を確認する"))).to_have_attribute(
        "href", re.compile(first.tracking_number))
    page.get_by_label("受付番号(16桁)").fill(current.formatted_reception_number)
    _birth_date(page, "昭和", "55", "4", "1")
    page.get_by_role("button", name="確認する").click()
    expect(page.get_by_role("heading", name="却下の理由")).to_be_visible()
    # Item 5: the verification page of the printed certificate, its date in 和暦.
    document = IssuedDocument.objects.get(request=first)
    page.goto(f"{live_server.url}/verify/{document.issue_number}")
    page.get_by_label("照合番号(12文字)").fill(document.verification_code)
    page.get_by_role("button", name="確認する").click()
    expect(page.locator(".result")).to_contain_text("令和")
    expect(page.locator(".result")).to_contain_text("発行元の電子署名を確認しました")
    for path, heading in (("privacy", "個人情報"), ("terms", "利用規約"), ("accessibility", "アクセシビリティ")):
        page.goto(f"{live_server.url}/m/{municipality.code}/about/{path}/")
        expect(page.locator("h1")).to_contain_text(heading)
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_auditor_and_manager_land_on_their_own_first_screens(live_server, browser, width):  # noqa: F811
    municipality = _municipality()
    received(municipality, make_resident(municipality, "山田 花子"))
    # The auditor, who may not review, lands on their own page instead of a bare 403.
    context, desk = _signed_in(browser, live_server, _staff(municipality, "auditor", Role.AUDITOR), width)
    expect(desk.locator("h1")).to_have_text("監査・開示請求の業務")
    context.close()
    # The manager reviews too (the queue first) and reaches their page from the menu.
    context, desk = _signed_in(browser, live_server, _staff(municipality, "boss", Role.MANAGER), width)
    desk.get_by_role("link", name="管理者メニュー").click()
    expect(desk.locator("h1")).to_have_text("管理者の業務")
    context.close()


def test_resident_signs_in_to_the_list_with_the_card_on_a_phone(live_server, settings, browser):  # noqa: F811
    """「申請の一覧」 opened with the card's 利用者証明用電子証明書 (4-digit PIN), on a 390 px phone."""
    from madoguchi.identity.contrib.sandbox.card import DEMO_AUTH_PIN

    from .test_accessibility import audit

    settings.SITE_URL = live_server.url
    municipality = _municipality()
    resident = make_resident(municipality, "山田 花子")
    neighbour = make_resident(municipality, "佐藤 次郎")
    own, other = received(municipality, resident), received(municipality, neighbour)
    # axe is injected as a script tag: this context lets it past the CSP, as the axe test does.
    context = browser.new_context(viewport={"width": 390, "height": 800}, locale="ja-JP", bypass_csp=True)
    page = context.new_page()
    problems = []
    page.goto(f"{live_server.url}/m/{municipality.code}/my/")
    problems += audit(page)
    page.get_by_role("button", name="マイナンバーカードでサインイン").click()
    expect(page.get_by_role("heading", name="マイナンバーカードでサインイン")).to_be_visible()
    page.get_by_label("カード番号(デモ用)").fill(resident.person_number)
    page.get_by_label("利用者証明用電子証明書の暗証番号(数字4桁)").fill("0000")
    page.get_by_role("button", name="本人確認をする").click()
    expect(page.locator("#error-summary")).to_contain_text("暗証番号が違います。あと2回")
    problems += audit(page)
    page.get_by_label("カード番号(デモ用)").fill(resident.person_number)
    page.get_by_label("利用者証明用電子証明書の暗証番号(数字4桁)").fill(DEMO_AUTH_PIN)
    page.get_by_role("button", name="本人確認をする").click()
    expect(page.get_by_text("マイナンバーカードで本人確認しました。")).to_be_visible()
    expect(page.get_by_role("heading", name="申請の一覧")).to_be_visible()
    expect(page.locator("main")).to_contain_text(own.formatted_reception_number)
    expect(page.locator("main")).not_to_contain_text(other.formatted_reception_number)
    problems += audit(page)
    assert problems == [], "\n".join(problems)
    context.close()
