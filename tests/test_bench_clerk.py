"""The clerk benchmark's run really reviews, approves, prints and mails, and counts what a clerk does."""

import pyotp
import pytest

from madoguchi.applications.models import State
from madoguchi.bench.clerk import CLICK, KEYSTROKE, PAGE, READ, SIGN_IN, Clerk, clerk_run, registered_number
from madoguchi.tenancy.models import Role, Staff

from .conftest import make_municipality, make_resident
from .flow import received
from .test_browser import browser  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("browser")]


def test_registered_numbers_carry_their_check_digit():
    number = registered_number(7)
    assert len(number) == 11 and number.startswith("12345")
    assert int(number[:10]) % 7 == int(number[10])


def test_the_score_follows_the_keystroke_level_model():
    clerk = Clerk(clicks=2, keystrokes=10, pages=3, reads=1, load_seconds=[0.5, 0.25])
    assert clerk.seconds() == pytest.approx(SIGN_IN + 2 * CLICK + 10 * KEYSTROKE + 3 * PAGE + READ + 0.75)


def test_the_clerk_run_mails_every_request_with_the_number_typed_for_it(live_server, settings, browser):  # noqa: F811
    settings.SITE_URL = live_server.url
    municipality = make_municipality()
    waiting = [received(municipality, make_resident(municipality, name))
               for name in ("山田 花子", "佐藤 一郎", "鈴木 次郎")]
    staff = Staff(username="reviewer", municipality=municipality, role=Role.CLERK, totp_secret=pyotp.random_base32())
    staff.set_password("correct-horse-battery")
    staff.save()
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP", accept_downloads=True)
    clerk = clerk_run(context.new_page(), live_server.url, staff, "correct-horse-battery", waiting)
    context.close()
    for request in waiting:
        request.refresh_from_db()
        assert request.state == State.MAILED and len(request.tracking_number) == 11
    assert sorted(r.tracking_number for r in waiting) == [registered_number(i) for i in (1, 2, 3)]
    # j + Enter, n per request, Ctrl+P + Enter, the shared 5 digits, 6 per row, Enter on the last row.
    assert clerk.keystrokes == 2 + 3 + 3 + 5 + 3 * 6 + 1
    assert clerk.clicks == 3  # print all approved, download the PDF, the first 書留 field
    assert clerk.pages == 1 + 3 + 1 + 1 + 1 and clerk.reads == 3
    assert len(clerk.load_seconds) == 3 + clerk.pages and all(s > 0 for s in clerk.load_seconds)
