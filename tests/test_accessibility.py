"""Resident pages against WCAG 2.2 AA with axe-core in headless Chromium, and reflow at 320 CSS px
(what 400% zoom of a 1280 px window gives: WCAG 1.4.10 — no horizontal scrolling)."""

import json
from pathlib import Path

import pytest

from madoguchi.identity.contrib.sandbox.card import DEMO_PIN
from madoguchi.operations.onboarding import create_municipality

from .conftest import make_resident
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
        problems.append(f"{page.url}: scrolls horizontally at {page.viewport_size['width']} px")
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
