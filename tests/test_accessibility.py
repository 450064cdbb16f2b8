"""Every resident, LIFF, receipt and back-office page against WCAG 2.2 AA with axe-core in headless
Chromium, error states included, and reflow: resident pages at 390 and 320 CSS px (320 is what 400%
zoom of a 1280 px window gives: WCAG 1.4.10 — no horizontal scrolling), back-office pages at an office
width (1280 px)."""

import json
import re
from pathlib import Path

import pyotp
import pytest
from django.urls import reverse
from playwright.sync_api import expect

from madoguchi.applications.models import CertificateRequest
from madoguchi.documents.models import IssuedDocument
from madoguchi.identity.contrib.sandbox.card import DEMO_PIN
from madoguchi.line.models import LineUser, RequestBinding
from madoguchi.operations.onboarding import create_municipality
from madoguchi.tenancy.models import Role, Staff

from .conftest import make_resident
from .flow import draft, received
from .line_helpers import make_channel
from .test_browser import CHROMIUM, browser  # noqa: F401 (fixture)

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(not AXE.exists() or not Path(CHROMIUM).exists(),
                       reason="needs node_modules/axe-core (make install) and Debian chromium"),
]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def audit(page) -> list[str]:
    """axe violations on the current page, and whether it overflows horizontally."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS)
    assert len(result["passes"]) >= 10, "axe did not check this page"
    problems = [f"{page.url} {v['id']}: {v['help']} — "
                + json.dumps([n["target"] for n in v["nodes"]], ensure_ascii=False)
                for v in result["violations"]]
    if page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1"):
        wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                    || (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === 'visible'))
            .slice(-3).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''))""")
        problems.append(f"{page.url}: scrolls horizontally at {page.viewport_size['width']} px ({', '.join(wide)})")
    return problems


def test_resident_journey_pages_pass_axe_and_reflow(live_server, settings, browser):  # noqa: F811
    settings.SITE_URL = live_server.url
    municipality = create_municipality(code="139998", name="窓口市", prefecture="東京都",
                                       certifier_name="窓口 一郎", contact="市民課 03-0000-0000")
    resident = make_resident(municipality, "山田 花子")
    # bypass_csp lets the test inject axe; the pages themselves keep their policy.
    context = browser.new_context(viewport={"width": 320, "height": 640}, locale="ja-JP", bypass_csp=True)
    page = context.new_page()
    problems = []
    base = f"{live_server.url}/m/{municipality.code}"

    def step(button: str | None = None):
        problems.extend(audit(page))
        if button:
            page.get_by_role("button", name=button).click()

    page.goto(f"{base}/")
    step()
    page.goto(f"{base}/apply/")
    page.get_by_role("button", name="次へ").click()  # nothing chosen: the error state is audited too
    step()
    page.get_by_label("住民票の写し").check()
    page.get_by_role("button", name="次へ").click()
    step("次へ")
    page.get_by_role("radio", name="その他").check()
    page.get_by_role("button", name="次へ").click()
    step()
    page.get_by_label("金融機関の手続き").check()
    page.get_by_role("button", name="次へ").click()
    page.get_by_label("普通郵便(110円)").check()
    step("次へ")
    step("この内容で申請する")
    step("カードで署名する")
    page.get_by_label("カード番号(デモ用)").fill(resident.person_number)
    page.get_by_label("署名用電子証明書の暗証番号(6〜16桁の英数字)").fill("WRONG1")
    page.get_by_role("button", name="署名する").click()
    step()
    page.get_by_label("署名用電子証明書の暗証番号(6〜16桁の英数字)").fill(DEMO_PIN)
    page.get_by_role("button", name="署名する").click()
    page.wait_for_url("**/pay/")
    step("支払いへ進む")
    step("支払う")
    page.wait_for_url("**/done/")
    step()
    page.goto(f"{base}/status/")
    page.get_by_role("button", name="確認する").click()
    step()
    assert problems == [], "\n".join(problems)


def _birth_date(page, era, year, month, day):
    page.get_by_label("元号").select_option(era)
    page.get_by_label("年", exact=True).fill(year)
    page.get_by_label("月", exact=True).fill(month)
    page.get_by_label("日", exact=True).fill(day)


@pytest.mark.parametrize("width", [390, 320])
def test_every_resident_page_and_error_state_passes_axe(live_server, settings, browser, width):  # noqa: F811
    """Start page, legal pages, each wizard step with its errors, 変更, card, payment backed out of,
    done, receipt, status with a 和暦 error, 404, the CSRF failure page and the LIFF page."""
    settings.SITE_URL = live_server.url
    municipality = create_municipality(code="139998", name="窓口市", prefecture="東京都",
                                       certifier_name="窓口 一郎", contact="市民課 03-0000-0000")
    resident = make_resident(municipality, "山田 花子")
    context = browser.new_context(viewport={"width": width, "height": 700}, locale="ja-JP", bypass_csp=True)
    page = context.new_page()
    problems = []
    base = f"{live_server.url}/m/{municipality.code}"

    def check():
        problems.extend(audit(page))

    for path in ("/", "/about/privacy/", "/about/terms/", "/about/accessibility/"):
        page.goto(base + path)
        check()
    page.goto(f"{base}/apply/")
    page.get_by_role("button", name="次へ").click()
    # Focus moves to the summary once the answered page has loaded (evaluated mid-navigation there is no
    # active element yet); waits up to Playwright's timeout, then fails.
    page.wait_for_function("document.activeElement && document.activeElement.id === 'error-summary'")
    check()
    page.get_by_label("戸籍全部事項証明書").check()
    page.get_by_role("button", name="次へ").click()
    page.get_by_role("button", name="次へ").click()  # 本籍 missing: the error state
    page.locator("details.help summary").first.click()
    check()
    page.get_by_role("link", name="「本籍」を入力してください。").click()
    page.wait_for_function("document.activeElement && document.activeElement.name === 'honseki'")
    page.goto(f"{base}/apply/")
    page.get_by_label("住民票の写し").check()
    page.get_by_role("button", name="次へ").click()
    page.get_by_role("button", name="次へ").click()
    page.get_by_role("radio", name="その他").check()
    page.get_by_role("button", name="次へ").click()
    check()
    page.get_by_label("金融機関の手続き").check()
    page.get_by_role("button", name="次へ").click()
    page.get_by_label("お知らせを受け取るメールアドレス(任意)").fill("not-an-address")
    page.get_by_role("button", name="次へ").click()
    check()
    page.get_by_label("お知らせを受け取るメールアドレス(任意)").fill("")
    page.get_by_label("普通郵便(110円)").check()
    page.get_by_role("button", name="次へ").click()
    check()  # the confirmation with its 変更 links
    page.get_by_role("link", name=re.compile(r"^変更\s?\(通数・使いみち\)$")).click()
    page.get_by_role("button", name="次へ").click()
    page.wait_for_url("**/apply/confirm/")
    page.get_by_role("button", name="この内容で申請する").click()
    check()  # the card step with its guidance
    page.get_by_role("button", name="カードで署名する").click()
    page.get_by_label("カード番号(デモ用)").fill(resident.person_number)
    page.get_by_label("署名用電子証明書の暗証番号(6〜16桁の英数字)").fill(DEMO_PIN)
    page.get_by_role("button", name="署名する").click()
    page.wait_for_url("**/pay/")
    page.get_by_role("button", name="支払いへ進む").click()
    page.wait_for_url("**/sandbox/pay/**")
    page.go_back()  # backed out of the payment page, then opened the done page before paying
    page.wait_for_url("**/r/*/pay/")
    page.goto(page.url.removesuffix("pay/") + "done/")
    expect(page.locator("h1")).to_have_text("お支払いがまだ確認できていません")
    check()
    page.get_by_role("link", name="もう一度お支払いへ進む").click()
    check()
    page.get_by_role("button", name="支払いへ進む").click()
    page.get_by_role("button", name="支払う").click()
    page.wait_for_url("**/done/")
    check()
    number = page.locator(".reception-number").inner_text().strip()
    page.get_by_role("link", name="領収書を表示する").click()
    check()
    page.goto(f"{base}/status/")
    page.get_by_label("受付番号(16桁)").fill(number)
    _birth_date(page, "平成", "31", "5", "1")
    page.get_by_role("button", name="確認する").click()
    expect(page.locator("main")).to_contain_text("令和元年5月1日のことではありませんか")
    check()
    _birth_date(page, "昭和", "55", "4", "1")
    page.get_by_role("button", name="確認する").click()
    expect(page.locator("main")).to_contain_text("受付済みです")
    check()
    page.goto(f"{base}/no-such-page/")
    check()
    page.goto(f"{base}/apply/")
    context.clear_cookies()
    page.get_by_label("住民票の写し").check()
    page.get_by_role("button", name="次へ").click()
    expect(page.locator("main")).to_contain_text("送信できませんでした")
    check()

    # LIFF: the page LINE opens (its SDK blocked here, so the page stays), then its error state.
    make_channel(municipality)
    line_user = LineUser.objects.create(municipality=municipality, user_id="U" + "1" * 32)
    request = draft(municipality)
    CertificateRequest.objects.filter(pk=request.pk).update(channel="line")
    RequestBinding.objects.create(municipality=municipality, request=request, line_user=line_user)
    page.route("**/liff-sdk.js", lambda route: route.abort())
    page.goto(f"{live_server.url}/line/{municipality.code}/liff/r/{request.public_id}/")
    check()
    page.get_by_role("button", name="次へ").click()
    check()
    context.close()
    assert problems == [], "\n".join(problems)


def test_every_back_office_page_passes_axe_at_office_width(live_server, settings, browser):  # noqa: F811
    """Sign-in (with its errors), the queue and its tabs and search, the review screen with flags, the
    reject confirmation, the print batch, the audit and manager landing pages, the logs; and the public
    verification page of a certificate printed there (at a phone width), with a wrong code and the right one."""
    settings.SITE_URL = live_server.url
    municipality = create_municipality(code="139998", name="窓口市", prefecture="東京都",
                                       certifier_name="窓口 一郎", contact="市民課")
    clean = received(municipality, make_resident(municipality, "山田 花子"))
    flagged = received(municipality, make_resident(municipality, "髙橋 恵子", support_measure=True))
    staff = {}
    for username, role in (("clerk", Role.CLERK), ("auditor", Role.AUDITOR), ("boss", Role.MANAGER)):
        staff[username] = Staff(username=username, municipality=municipality, role=role,
                                totp_secret=pyotp.random_base32())
        staff[username].set_password("correct-horse-battery")
        staff[username].save()
    problems = []

    def desk_for(username):
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP", bypass_csp=True)
        desk = context.new_page()
        desk.goto(f"{live_server.url}/office/login/")
        desk.get_by_label("ユーザー名").fill(username)
        desk.get_by_label("パスワード").fill("correct-horse-battery")
        desk.get_by_role("button", name="次へ").click()
        desk.get_by_label("確認コード(6桁)").fill(pyotp.TOTP(staff[username].totp_secret).now())
        desk.get_by_role("button", name="ログイン").click()
        return desk

    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP", bypass_csp=True)
    desk = context.new_page()
    desk.goto(f"{live_server.url}/office/login/")
    desk.get_by_label("ユーザー名").fill("clerk")
    desk.get_by_label("パスワード").fill("wrong")
    desk.get_by_role("button", name="次へ").click()
    problems.extend(audit(desk))
    desk = desk_for("clerk")
    problems.extend(audit(desk))
    desk.get_by_label("受付番号・氏名").fill("高橋")
    desk.get_by_role("button", name="検索").click()
    expect(desk.get_by_role("link", name=flagged.formatted_reception_number)).to_be_visible()
    expect(desk.get_by_role("link", name=clean.formatted_reception_number)).to_have_count(0)
    desk.locator("#shortcuts summary").click()
    problems.extend(audit(desk))
    desk.get_by_role("link", name=flagged.formatted_reception_number).click()
    desk.locator("details.internals summary").click()
    problems.extend(audit(desk))
    desk.get_by_role("link", name="却下する(理由を選ぶ)").click()
    desk.get_by_role("button", name="確認へ進む").click()  # no reason: the error state
    problems.extend(audit(desk))
    desk.get_by_label("同じ内容の申請が重なっていた", exact=False).check()
    desk.get_by_role("button", name="確認へ進む").click()
    problems.extend(audit(desk))
    desk.get_by_role("link", name="却下しないで戻る").click()
    desk.goto(f"{live_server.url}/office/?state=all")
    desk.get_by_role("link", name=clean.formatted_reception_number).click()
    desk.get_by_role("button", name="承認して次へ").click()
    desk.get_by_role("button", name="承認して次へ").click()
    desk.get_by_role("checkbox", name="確認事項をすべて確認しました").check()
    desk.get_by_role("button", name="承認して次へ").click()
    problems.extend(audit(desk))  # the approved tab
    desk.get_by_role("button", name="承認済みの2件をまとめて印刷").click()
    problems.extend(audit(desk))
    for username, path in (("auditor", "/office/"), ("boss", "/office/manager/"),
                           ("boss", reverse("operations_office:logs"))):
        other = desk_for(username)
        other.goto(live_server.url + path)
        problems.extend(audit(other))
    assert set(CertificateRequest.objects.values_list("state", flat=True)) == {"issued"}
    # The public verification page of a certificate just printed: a wrong code, then the right one.
    document = IssuedDocument.objects.get(request=clean)
    resident_view = browser.new_context(viewport={"width": 320, "height": 640}, locale="ja-JP",
                                        bypass_csp=True).new_page()
    resident_view.goto(f"{live_server.url}/verify/{document.issue_number}")
    resident_view.get_by_label("照合番号(12文字)").fill("WRONG0000000")
    resident_view.get_by_role("button", name="確認する").click()
    expect(resident_view.get_by_role("alert")).to_contain_text("当てはまる証明書はありません")
    problems.extend(audit(resident_view))
    resident_view.get_by_label("照合番号(12文字)").fill(document.verification_code)
    resident_view.get_by_role("button", name="確認する").click()
    expect(resident_view.locator(".result")).to_contain_text("令和")
    problems.extend(audit(resident_view))
    assert problems == [], "\n".join(problems)
