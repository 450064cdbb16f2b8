"""BENCH clerk_seconds_per_request (and clerk_clicks/keystrokes/pages_per_request): a clerk's time per
request, scored with the keystroke-level model over a real browser run.

Ten paid requests wait for review. Headless Chromium drives the back office on a server process
(runserver, DEBUG as `make bench` runs, static files included) as a skilled clerk would with the
shortcuts the screens document: sign in with password and TOTP, open the first request from the
queue (j, Enter), read it, 「承認して次へ」 (n) through all ten — each detail page is opened and read —
then 「承認済みの10件をまとめて印刷」, download the print PDF and print it (Ctrl+P, Enter), and type
each envelope's 書留 number: the label roll's shared first five digits once, then six digits per row
(the form moves to the next row by itself; Enter on the last row marks the batch mailed). The run
checks that every request ends mailed with the number typed for it.

Score (issue 16): 1.2 s per pointing-and-click, 0.28 s per keystroke (a modifier counts as one),
1.35 s per page loaded, 8 s of reading per request detail page, 20 s for the sign-in (its clicks
and keys included), plus every page load time measured in the browser (the navigation's duration,
redirect of a POST included; the PDF's download time); the total divided by ten. The counts per
request exclude the sign-in.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from madoguchi.bench import BENCH_DIR, awaiting_payment, demo

REQUESTS = 10
CLICK, KEYSTROKE, PAGE, READ, SIGN_IN = 1.2, 0.28, 1.35, 8.0, 20.0
PASSWORD = "bench-clerk-password-1"
LABEL_PREFIX = "12345"  # the first five digits shared by a roll of 書留 labels


@dataclass
class Clerk:
    """What the clerk did, counted as the keystroke-level model counts it."""

    clicks: int = 0
    keystrokes: int = 0
    pages: int = 0
    reads: int = 0
    load_seconds: list[float] = field(default_factory=list)

    def seconds(self) -> float:
        return (SIGN_IN + self.clicks * CLICK + self.keystrokes * KEYSTROKE + self.pages * PAGE
                + self.reads * READ + sum(self.load_seconds))


def registered_number(serial: int) -> str:
    """An 11-digit 書留 number of the roll: ten digits and their check digit (mod 7)."""
    body = f"{LABEL_PREFIX}{serial:05d}"
    return body + str(int(body) % 7)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(port: int) -> subprocess.Popen:
    root = Path(__file__).resolve().parent.parent.parent
    from django.conf import settings

    # The server signs what the clerk prints: with the run's local timestamp authority (bench.local_tsa).
    env = {**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "madoguchi.settings",
           "MADOGUCHI_DOCUMENT_TSA_URL": settings.DOCUMENT_TSA_URL}
    log = open(Path(BENCH_DIR) / "clerk-server.log", "wb")  # noqa: SIM115 (closed with the process)
    server = subprocess.Popen([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                              cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the back-office server did not start")


def _waiting_requests(municipality) -> list:
    """Ten paid 住民票 requests of adults whose card matches the replica exactly (no flags to confirm)."""
    from django.test import Client
    from django.urls import reverse

    from madoguchi.identity.contrib.sandbox import card as cards
    from madoguchi.payments.contrib.sandbox import gateway
    from madoguchi.registry.models import Resident

    adults = [r for r in Resident.objects.for_municipality(municipality).select_related("household")
              .order_by("id") if r.date_of_birth.year < 1990 and not r.support_measure][:REQUESTS * 2]
    client, waiting = Client(), []
    for resident in adults:
        cards.issue_card(resident)
        resident = Resident.objects.select_related("household", "sandbox_card").get(pk=resident.pk)
        request = awaiting_payment(municipality, resident)
        body = gateway.notification_body(gateway.capture(request.payments.get().provider_payment_id))
        response = client.post(reverse("payments:notify", args=["sandbox"]), data=body,
                               content_type="application/json",
                               headers={"X-Sandbox-Signature": gateway.sign_notification(body)})
        assert response.status_code == 200, response.content
        request.refresh_from_db()
        if request.auto_acceptable:
            waiting.append(request)
        if len(waiting) == REQUESTS:
            return waiting
    raise RuntimeError("not enough clean requests for the clerk benchmark")


def _navigation_seconds(page) -> float:
    """The last navigation's duration in the browser: from the click (a POST's redirect included) to load."""
    return page.evaluate("performance.getEntriesByType('navigation')[0].duration") / 1000


def _loaded(page, clerk: Clerk, action) -> None:
    with page.expect_navigation(wait_until="load"):
        action()
    clerk.pages += 1
    clerk.load_seconds.append(_navigation_seconds(page))


def _sign_in(page, base: str, staff, password: str, clerk: Clerk) -> None:
    import pyotp

    page.goto(f"{base}/office/login/")
    clerk.load_seconds.append(_navigation_seconds(page))
    page.get_by_label("ユーザー名").fill(staff.username)
    page.get_by_label("パスワード").fill(password)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="次へ").click()
    clerk.load_seconds.append(_navigation_seconds(page))
    page.get_by_label("確認コード(6桁)").fill(pyotp.TOTP(staff.totp_secret).now())
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="ログイン").click()
    clerk.load_seconds.append(_navigation_seconds(page))
    assert page.url.rstrip("/").endswith("/office"), page.url


def clerk_run(page, base: str, staff, password: str, waiting: list) -> Clerk:
    """The clerk's run over `waiting` (clean requests in 受付, the only ones waiting for review)."""
    clerk = Clerk()
    _sign_in(page, base, staff, password, clerk)
    numbers = {r.formatted_reception_number for r in waiting}

    # Open the first request of the queue from the keyboard, then 承認して次へ through all of them.
    page.keyboard.press("j")
    clerk.keystrokes += 1
    _loaded(page, clerk, lambda: page.keyboard.press("Enter"))
    clerk.keystrokes += 1
    seen = []
    for _ in waiting:
        heading = page.get_by_role("heading", level=1).inner_text()
        seen.append(next(n for n in numbers if n in heading))
        clerk.reads += 1
        _loaded(page, clerk, lambda: page.keyboard.press("n"))
        clerk.keystrokes += 1
    assert sorted(seen) == sorted(numbers), seen  # each request was opened and read once

    # Print everything approved in one batch; download its PDF and print it.
    _loaded(page, clerk, lambda: page.get_by_role("button", name=f"承認済みの{len(waiting)}件をまとめて印刷").click())
    clerk.clicks += 1
    started = time.perf_counter()
    with page.expect_download() as download:
        page.get_by_role("link", name="印刷用PDFをダウンロード").click()
    assert download.value.path().read_bytes().startswith(b"%PDF")
    clerk.load_seconds.append(time.perf_counter() - started)
    clerk.clicks += 1
    clerk.pages += 1
    clerk.keystrokes += 3  # Ctrl+P, Enter in the PDF viewer

    # 書留 numbers: the shared part once, then the rest of each label; Enter on the last row sends.
    page.get_by_label("書留番号の共通部分(ラベルの先頭の桁、任意)").click()
    clerk.clicks += 1
    page.keyboard.type(LABEL_PREFIX)
    clerk.keystrokes += len(LABEL_PREFIX)
    rows = page.locator("input.tracking")
    typed = {}
    for index in range(rows.count()):
        label = rows.nth(index).get_attribute("aria-label")
        number = registered_number(index + 1)
        typed[next(n for n in numbers if n in label)] = number
        page.keyboard.type(number[len(LABEL_PREFIX):])
        clerk.keystrokes += len(number) - len(LABEL_PREFIX)
    _loaded(page, clerk, lambda: page.keyboard.press("Enter"))
    clerk.keystrokes += 1
    _check_mailed(waiting, typed)
    return clerk


def _check_mailed(waiting: list, typed: dict) -> None:
    from madoguchi.applications.models import State

    for request in waiting:
        request.refresh_from_db()
        expected = typed[request.formatted_reception_number]
        assert (request.state, request.tracking_number) == (State.MAILED, expected), (
            request.formatted_reception_number, request.state, request.tracking_number, expected)


def run(report) -> None:
    import pyotp
    from playwright.sync_api import sync_playwright

    from madoguchi.tenancy.models import Role, Staff

    municipality, _clerk = demo()
    staff = Staff(username="bench-reviewer", municipality=municipality, role=Role.CLERK,
                  totp_secret=pyotp.random_base32())
    staff.set_password(PASSWORD)
    staff.save()
    waiting = _waiting_requests(municipality)
    port = _free_port()
    server = _start_server(port)
    # Playwright's sync API runs an event loop in this thread; the ORM checks above and below are synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
            context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP",
                                          accept_downloads=True)
            clerk = clerk_run(context.new_page(), f"http://127.0.0.1:{port}", staff, PASSWORD, waiting)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    report("clerk_seconds_per_request", clerk.seconds() / REQUESTS, "s")
    report("clerk_clicks_per_request", clerk.clicks / REQUESTS, "clicks")
    report("clerk_keystrokes_per_request", clerk.keystrokes / REQUESTS, "keystrokes")
    report("clerk_pages_per_request", clerk.pages / REQUESTS, "pages")
