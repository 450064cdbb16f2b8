"""返戻 and 「申請一覧」 in a browser: a certificate requested in the LINE chat (a 360 px phone) is
mailed by the clerk (office PC), comes back, and is recorded as 返戻; the resident reads why in the
chat and finds it in 「申請一覧」; the clerk reprints it with a reason and mails it again with a new
tracking number, and the chat says so."""

from playwright.sync_api import expect

from madoguchi.applications.models import CertificateRequest, EventKind, State
from madoguchi.documents.models import PrintBatch

from .test_browser import browser  # noqa: F401 (fixture)
from .test_lifecycle_browser import (  # noqa: F401 (town is a fixture; pytestmark: the same browser marks)
    apply_in_chat,
    approve_print_and_mail,
    phone,
    pytestmark,
    quick,
    sign_in,
    town,
)


def test_a_returned_envelope_from_the_office_to_the_chat_and_mailed_again(town, browser):  # noqa: F811
    base, municipality, resident, clerk = town
    page = phone(browser)
    request = apply_in_chat(page, base, municipality, resident)
    number = request.formatted_reception_number
    desk = sign_in(browser, base, clerk)
    desk.set_viewport_size({"width": 1280, "height": 900})
    approve_print_and_mail(desk, number)
    chat = page.locator(".chat-log")
    expect(chat).to_contain_text("お問い合わせ番号: 1234-5678-9012")

    # The envelope comes back: the clerk records it with the post office's reason and an office note.
    desk.get_by_label("返戻(郵便物が戻った)の理由").select_option(label="保管期間経過")
    desk.get_by_label("メモ(任意。「その他」は必須。住民には表示されません)").fill("12/7 郵便局から返送")
    desk.get_by_role("button", name="返戻を記録する").click()
    expect(desk.locator(".state")).to_have_text("返戻")
    expect(desk.get_by_role("note")).to_contain_text("郵便物が戻っています")

    # The resident is told in the open chat, without the office's note, and finds it in 申請一覧.
    expect(chat).to_contain_text("市区町村に戻ってきました(返戻)")
    expect(chat).to_contain_text("郵便局での保管期間が過ぎたため戻りました")
    expect(chat).not_to_contain_text("郵便局から返送")
    page.get_by_label("メッセージ").fill("申請一覧")
    page.get_by_role("button", name="送信").click()
    expect(chat).to_contain_text("このLINEからの申請の一覧です")
    expect(chat).to_contain_text(f"受付番号 {number}")
    expect(chat.locator("text=/返戻 \\/ 令和/").last).to_be_visible()

    # The clerk reprints that certificate with a reason, then mails it again with a new number.
    desk.get_by_label("再印刷の理由(汚損・開封など)").fill("封筒が破れて戻った")
    desk.get_by_role("button", name="この証明書を再印刷").click()
    expect(desk.locator("main")).to_contain_text("再印刷用PDFを作成しました")
    reprint = PrintBatch.objects.latest("pk")
    assert reprint.reprint_of is not None and reprint.reason == "封筒が破れて戻った"
    desk.goto(f"{base}/office/")
    desk.get_by_role("link", name=number).click()
    desk.get_by_label("再発送のお問い合わせ番号(新しい番号)").fill("1234-5678-9012")
    desk.get_by_role("button", name="再発送済みにする").click()
    expect(desk.locator("main")).to_contain_text("再発送には新しいお問い合わせ番号を入力してください")
    desk.get_by_label("再発送のお問い合わせ番号(新しい番号)").fill("2222-3333-4444")
    desk.get_by_role("button", name="再発送済みにする").click()
    expect(desk.locator(".state")).to_have_text("発送済み")
    expect(chat).to_contain_text("お問い合わせ番号: 2222-3333-4444")

    request = CertificateRequest.objects.get()
    assert request.state == State.MAILED and request.tracking_number == "2222-3333-4444"
    kinds = list(request.events.order_by("id").values_list("kind", flat=True))
    assert kinds[-3:] == [EventKind.UNDELIVERED, EventKind.REPRINTED, EventKind.MAILED]
    quick(page, "受け取りました").last.click()
    expect(chat).to_contain_text("受け取りを確認しました")
