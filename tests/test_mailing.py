"""Mailing: the address block in the window of a 長形3号 envelope wherever the sheet moves, and the
mailing list with what a 書留 差出票, a レターパック label and Shift_JIS tools need."""

import csv
import io
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.urls import reverse
from PIL import Image
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from madoguchi.applications import actions
from madoguchi.applications.models import CertificateRequest, State
from madoguchi.catalog.models import PostageClass
from madoguchi.core.text import postal_code
from madoguchi.documents.fonts import certificate_font
from madoguchi.documents.mailing import COLUMNS, postage_kind, shift_jis_safe, split_address
from madoguchi.documents.print_batch import (
    FOLD,
    PLAY_X,
    PLAY_Y,
    WINDOWS,
    AddressDoesNotFit,
    address_block,
    render_print_batch,
)

from .flow import received
from .test_backoffice import make_staff, signed_in

DPI = 100
IVS_TSUJI = "辻\U000e0102"


def one_page_pdf() -> bytes:
    buffer = io.BytesIO()
    c = Canvas(buffer)
    c.drawString(100, 100, "certificate")
    c.showPage()
    c.save()
    return buffer.getvalue()


def cover_request(municipality, address: str, name: str = "山田 花子", code: str = "100-0001"):
    return CertificateRequest(municipality=municipality, certificate_type="residence_certificate", copies=1,
                              reception_number="1234567890123456", delivery_postal_code=code,
                              delivery_address=address, delivery_name=name)


def printed_block_mm(pdf: bytes) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) in mm from the sheet's top left of everything printed on the
    cover's top panel (the part the window shows), fold marks at the edges left out."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "cover.pdf"
        path.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", str(DPI), "-gray", "-png", "-singlefile", "-f", "1", "-l", "1", str(path),
                        str(Path(directory) / "cover")], check=True, capture_output=True)
        image = Image.open(Path(directory) / "cover.png").convert("L")
    px = DPI / 25.4
    panel = image.crop((round(6 * px), 0, round(204 * px), round((FOLD / mm - 1) * px)))
    box = panel.point(lambda v: 255 if v < 160 else 0).getbbox()
    assert box is not None, "nothing printed in the window panel"
    left, top, right, bottom = box
    return left / px + 6, top / px, right / px + 6, bottom / px


def shows_in_every_window(block: tuple[float, float, float, float]) -> bool:
    """Whether the block lies inside every window at every position of the sheet in the envelope
    (the extremes of the play suffice: the set of positions is a rectangle)."""
    left, top, right, bottom = block
    return all(w.left <= left + dx and right + dx <= w.left + w.width and w.top <= top + dy
               and bottom + dy <= w.top + w.height
               for w in WINDOWS for dx in (0, PLAY_X) for dy in (0, PLAY_Y))


def test_the_sheet_may_move_at_least_20_mm_each_way():
    assert PLAY_X >= 20 and PLAY_Y >= 20


def test_the_window_check_fails_for_the_old_address_position():
    """The control: the block as it was placed before (25 mm from the left, 17 mm from the top,
    82 mm wide, 4 lines) leaves 0–5 mm in the window and hides when the sheet moves."""
    assert not shows_in_every_window((25, 17, 107, 40))


@pytest.mark.parametrize("address", [
    "東京都窓口市本町一丁目2番3号",
    "東京都窓口市本町四丁目14番1号　グランドール第203号室",
    "北海道余市郡余市町黒川町十九丁目1番地の2　サンハイツ余市黒川町101号室",
])
def test_the_address_block_shows_in_every_window_wherever_the_sheet_moves(municipality, address):
    request = cover_request(municipality, address, name=f"{IVS_TSUJI} 一二三")
    pdf = render_print_batch([(request, one_page_pdf())])
    assert shows_in_every_window(printed_block_mm(pdf))


def test_a_long_address_is_set_smaller_and_kept_whole(municipality):
    font = certificate_font()
    address = "東京都窓口市本町四丁目14番1号" + "グランドール窓口本町第三" * 3 + "1203号室"
    lines = address_block(font, "1000001", address, "山田 花子", "1234")
    assert "".join(text for text, _size in lines[1:-1]) == font.encode(address)
    assert lines[0][0] == "〒100-0001" and lines[-1][0].startswith("山田")


def test_an_address_too_long_for_the_window_stops_printing_with_a_clear_error(municipality, resident):
    clerk = make_staff(municipality, "clerk")
    request = received(municipality, resident)
    actions.approve(request, clerk)
    request.delivery_address = "東京都窓口市本町" + "四丁目十四番一号" * 24
    request.save(update_fields=["delivery_address"])
    # The replica says the same (else the re-check at printing stops it first: the requester moved).
    resident.household.address = request.delivery_address
    resident.household.save(update_fields=["address"])
    with pytest.raises(AddressDoesNotFit):
        address_block(certificate_font(), "1000001", request.delivery_address, "山田 花子", "1234")
    with pytest.raises(actions.ActionError, match="封筒の窓に収まりません"):
        actions.record_printed([request], clerk)
    request.refresh_from_db()
    assert request.state == State.APPROVED


# --- the mailing list ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "parts"), [
    ("東京都窓口市本町四丁目14番1号　グランドール第203号室",
     ("東京都", "窓口市", "本町四丁目14番1号", "グランドール第203号室")),
    ("福岡県福岡市博多区東公園7番地", ("福岡県", "福岡市博多区", "東公園7番地", "")),
    ("東京都千代田区千代田1-1", ("東京都", "千代田区", "千代田1-1", "")),
    ("三重県四日市市諏訪町1番5号", ("三重県", "四日市市", "諏訪町1番5号", "")),
    ("北海道余市郡余市町黒川町19丁目1番地サンハイツ101",
     ("北海道", "余市郡余市町", "黒川町19丁目1番地", "サンハイツ101")),
    ("東京都町田市森野２－２－２２", ("東京都", "町田市", "森野２－２－２２", "")),
    ("どこか遠く", ("", "", "どこか遠く", "")),
])
def test_the_address_is_split_as_labels_ask(address, parts):
    assert split_address(address) == parts


@pytest.mark.parametrize(("typed", "expected"), [("1000001", "100-0001"), ("１００ー０００１", "100-0001"),
                                                 ("〒100-0001", "100-0001"), ("100-001", ""), ("", "")])
def test_postal_codes_are_normalised(typed, expected):
    assert postal_code(typed) == expected


def test_names_for_shift_jis_tools_lose_selectors_and_mark_what_the_set_lacks():
    assert shift_jis_safe(f"{IVS_TSUJI} 太郎") == ("辻 太郎", False)
    assert shift_jis_safe("\U00020bb7田 一郎") == ("〓田 一郎", True)  # 𠮷 (tsuchi-yoshi) is not in Shift_JIS
    assert shift_jis_safe("髙橋 﨑") == ("髙橋 﨑", False)  # in Windows-31J, as office tools use it


@pytest.mark.parametrize(("name", "kind"), [("普通郵便", ("", "", "")), ("簡易書留", ("簡易書留", "", "")),
                                            ("速達・簡易書留", ("簡易書留", "速達", "")),
                                            ("一般書留", ("一般書留", "", "")),
                                            ("レターパックプラス", ("", "", "レターパックプラス"))])
def test_the_postage_class_says_what_the_slip_asks(name, kind):
    assert postage_kind(name) == kind


def test_the_mailing_list_csv_has_what_the_slip_and_the_label_need(municipality, resident):
    clerk = make_staff(municipality, "clerk")
    PostageClass.objects.create(municipality=municipality, code="registered", name="簡易書留", amount=460)
    request = received(municipality, resident)
    type(request).objects.filter(pk=request.pk).update(
        postage_class="registered", delivery_postal_code="１００ー０００１",
        delivery_address="東京都窓口市本町四丁目14番1号　グランドール第203号室",
        delivery_name=f"{IVS_TSUJI} \U00020bb7子")
    request.refresh_from_db()
    resident.household.address = request.delivery_address  # as the replica says (no move to re-check)
    resident.household.save(update_fields=["address"])
    actions.approve(request, clerk)
    batch = actions.record_printed([request], clerk)
    body = signed_in(clerk).get(reverse("documents_office:batch_mailing_csv", args=[batch.pk])).content
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert tuple(rows[0].keys()) == COLUMNS and len(rows) == 1
    row = rows[0]
    assert (row["郵送方法"], row["書留の種類"], row["速達"]) == ("簡易書留", "簡易書留", "")
    assert row["お届け先郵便番号"] == "100-0001"
    assert (row["お届け先都道府県"], row["お届け先市区町村"], row["お届け先町域・番地"], row["お届け先建物名等"]) == (
        "東京都", "窓口市", "本町四丁目14番1号", "グランドール第203号室")
    assert row["お届け先氏名"] == "辻 〓子" and row["敬称"] == "様"
    assert row["お届け先氏名(記録どおり)"] == f"{IVS_TSUJI} \U00020bb7子"
    assert "Shift_JIS" in row["要確認"]
    assert row["品名"] == "証明書(住民票の写し)" and row["ご依頼主"].startswith("東京都窓口市")
    assert row["郵便料"] == str(request.postage_amount) and row["通数"] == str(request.copies)
    # Every column but the recorded forms converts to Shift_JIS as it is.
    for column in COLUMNS:
        if "記録どおり" not in column:
            row[column].encode("cp932")
