import datetime
import io

import pytest
from django.conf import settings
from fontTools.ttLib import TTFont
from PIL import Image
from pypdf import PdfReader

from madoguchi.applications.models import CertificateRequest
from madoguchi.core.dates import to_wareki
from madoguchi.documents.fonts import certificate_font
from madoguchi.documents.print_batch import render_print_batch
from madoguchi.documents.services import MissingGlyph, PersonSelectionError, render_certificate

from .conftest import make_resident

ISSUED_ON = datetime.date(2026, 11, 23)
ISSUE_NUMBER = "1399981234567890"
CODE = "ABCDEFGHJKMN"

# IPAmj明朝: 辻 with U+E0102 is the one-dot form, the plain code point the two-dot form.
TSUJI_IVS, TSUJI_IVS_GLYPH, TSUJI_PLAIN_GLYPH = "辻\U000e0102", "mj025760", "mj025761"


def make_request(resident, *, scope="self", members="", show_relationship=False, show_honseki=False,
                 copies=1, **extra) -> CertificateRequest:
    return CertificateRequest.objects.create(
        municipality=resident.municipality, certificate_type="residence_certificate", purpose="bank",
        postage_class="regular", fee_per_copy=300, postage_amount=110, total_amount=300 * copies + 110,
        resident=resident, copies=copies, reception_number=f"{CertificateRequest.objects.count() + 1:016d}",
        options={"scope": scope, "members": members, "show_relationship": show_relationship,
                 "show_honseki": show_honseki},
        delivery_name=resident.name, delivery_postal_code="1000001", delivery_address=resident.address, **extra)


def render(request: CertificateRequest):
    return render_certificate(request, ISSUE_NUMBER, CODE, ISSUED_ON)


def text_of(pdf: bytes) -> str:
    """Extracted text without whitespace: layout spacing is not what these tests are about."""
    return "".join("".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)


def compact(text: str) -> str:
    return "".join(text.split())


def fonts_of(pdf: bytes) -> list:
    fonts = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.append(font.get_object())
    return fonts


def outline(font: TTFont, glyph_name: str) -> tuple:
    coordinates, end_points, flags = font["glyf"][glyph_name].getCoordinates(font["glyf"])
    return tuple(coordinates), tuple(end_points), bytes(flags)


def embedded_outlines(pdf: bytes) -> set[tuple]:
    """The outline of every glyph in every font program embedded in the PDF."""
    outlines = set()
    for font in fonts_of(pdf):
        subset = TTFont(io.BytesIO(font["/FontDescriptor"]["/FontFile2"].get_data()))
        outlines |= {outline(subset, name) for name in subset.getGlyphOrder()}
    return outlines


@pytest.fixture(scope="module")
def source_font() -> TTFont:
    return TTFont(settings.CERTIFICATE_FONT, lazy=True)


@pytest.fixture
def family(municipality):
    head = make_resident(municipality, "山田 太郎", sex="1", date_of_birth=datetime.date(1975, 6, 1))
    wife = make_resident(municipality, "山田 花子", household=head.household, relationship="妻",
                         former_surname="佐藤")
    son = make_resident(municipality, "山田 一郎", household=head.household, relationship="子", sex="1",
                        date_of_birth=datetime.date(2010, 1, 8))
    return head, wife, son


# --- 和暦 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "expected"), [
    (datetime.date(1873, 1, 1), "明治6年1月1日"),
    (datetime.date(1912, 7, 29), "明治45年7月29日"),
    (datetime.date(1912, 7, 30), "大正元年7月30日"),
    (datetime.date(1926, 12, 24), "大正15年12月24日"),
    (datetime.date(1926, 12, 25), "昭和元年12月25日"),
    (datetime.date(1989, 1, 7), "昭和64年1月7日"),
    (datetime.date(1989, 1, 8), "平成元年1月8日"),
    (datetime.date(2019, 4, 30), "平成31年4月30日"),
    (datetime.date(2019, 5, 1), "令和元年5月1日"),
    (datetime.date(2026, 11, 23), "令和8年11月23日"),
])
def test_wareki(day, expected):
    assert to_wareki(day) == expected


def test_wareki_refuses_lunisolar_dates():
    with pytest.raises(ValueError, match="Gregorian"):
        to_wareki(datetime.date(1872, 12, 31))


# --- 住民票の写し: content ----------------------------------------------------------------------


def test_self_scope_certificate(resident):
    rendered = render(make_request(resident))
    assert rendered.pages == 1
    reader = PdfReader(io.BytesIO(rendered.pdf))
    assert len(reader.pages) == 1
    assert reader.pages[0].mediabox.width == pytest.approx(595.28, abs=0.1)  # A4 portrait
    text = text_of(rendered.pdf)
    for expected in ("住民票の写し", "山田花子", "ヤマダハナコ", "昭和55年4月1日", "女", "平成17年4月1日",
                     "東京都窓口市本町一丁目2番3号", "この写しは、住民票の原本と相違ないことを証明する。",
                     "令和8年11月23日", "東京都窓口市長", "窓口太郎", ISSUE_NUMBER, CODE, "以下余白",
                     f"{settings.SITE_URL}/verify/{ISSUE_NUMBER}"):
        assert expected in text, expected
    # Items left out unless asked for; the core system's 宛名番号 is never printed.
    for absent in ("続柄", "世帯主", "本籍", "筆頭者", resident.person_number, "1/1"):
        assert absent not in text, absent


def test_household_scope_lists_every_member_head_first(family):
    head, wife, son = family
    text = text_of(render(make_request(wife, scope="household")).pdf)
    positions = [text.index(compact(p.name)) for p in (head, wife, son)]
    assert positions == sorted(positions)
    assert "平成22年1月8日" in text


def test_partial_scope_lists_only_named_members(family):
    head, wife, son = family
    text = text_of(render(make_request(wife, scope="partial", members="山田　花子、 山田一郎\n")).pdf)
    assert "山田花子" in text and "山田一郎" in text
    assert "山田太郎" not in text


def test_partial_scope_refuses_a_name_not_in_the_household(family):
    head, wife, son = family
    with pytest.raises(PersonSelectionError, match="山田次郎"):
        render(make_request(wife, scope="partial", members="山田花子,山田次郎"))


def test_relationship_and_head_of_household_only_on_request(family):
    head, wife, son = family
    without = text_of(render(make_request(wife)).pdf)
    shown = text_of(render(make_request(wife, show_relationship=True)).pdf)
    assert "続柄" not in without and "世帯主" not in without and "妻" not in without
    assert "続柄" in shown and "妻" in shown
    assert "世帯主山田太郎" in shown


def test_honseki_only_on_request(family):
    head, wife, son = family
    without = text_of(render(make_request(wife)).pdf)
    shown = text_of(render(make_request(wife, show_honseki=True)).pdf)
    assert "本籍" not in without and "東京都窓口市本町一丁目2番地" not in without
    assert "本籍東京都窓口市本町一丁目2番地" in shown and "筆頭者山田花子" in shown


def test_former_surname_where_present(family):
    head, wife, son = family
    assert "旧氏佐藤" in text_of(render(make_request(wife)).pdf)
    assert "旧氏" not in text_of(render(make_request(head)).pdf)


def test_foreign_resident_shows_nationality_and_alias_not_honseki(municipality):
    resident = make_resident(municipality, "SMITH JOHN", sex="1", date_of_birth=datetime.date(1985, 3, 4),
                             nationality="アメリカ合衆国", alias="スミス 太郎",
                             became_foreign_resident_on=datetime.date(2005, 4, 1))
    resident.honseki = resident.koseki_head = ""  # foreign residents have no 本籍
    resident.save()
    without = text_of(render(make_request(resident)).pdf)
    shown = text_of(render(make_request(resident, show_honseki=True)).pdf)
    assert "SMITHJOHN" in shown and "通称スミス太郎" in shown and "通称スミス太郎" in without
    assert "国籍・地域アメリカ合衆国" in shown and "国籍" not in without
    assert "本籍" not in shown and "筆頭者" not in shown
    assert "1985年3月4日" in shown  # foreign residents' dates of birth are in the Western calendar


def test_long_household_runs_onto_pages_numbered_with_the_closing_on_the_last(municipality):
    head = make_resident(municipality, "山田 太郎", sex="1")
    for i in range(9):
        make_resident(municipality, f"山田 子{i}", household=head.household, relationship="子")
    rendered = render(make_request(head, scope="household", show_relationship=True, show_honseki=True))
    assert rendered.pages >= 2
    pages = [compact(p.extract_text()) for p in PdfReader(io.BytesIO(rendered.pdf)).pages]
    assert len(pages) == rendered.pages
    for number, page in enumerate(pages, start=1):
        assert f"{number}/{rendered.pages}" in page
        assert "住民票の写し" in page and ISSUE_NUMBER in page
        assert ("以下余白" in page) == ("原本と相違ない" in page) == (number == rendered.pages)
    assert all(f"山田子{i}" in "".join(pages) for i in range(9))


def test_seal_image_is_drawn_when_registered(resident):
    png = io.BytesIO()
    Image.new("RGBA", (64, 64), (200, 0, 0, 255)).save(png, format="PNG")
    placeholder = PdfReader(io.BytesIO(render(make_request(resident)).pdf)).pages[0]
    assert not placeholder.images
    assert "東京都窓口市長之印" in compact(placeholder.extract_text())  # the vector placeholder

    resident.municipality.seal_png = png.getvalue()
    resident.municipality.save()
    request = CertificateRequest.objects.select_related("municipality").get(pk=make_request(resident).pk)
    sealed = PdfReader(io.BytesIO(render(request).pdf)).pages[0]
    assert len(sealed.images) == 1
    assert "之印" not in compact(sealed.extract_text())


# --- The font: embedding, IVS, missing glyphs --------------------------------------------------


def test_font_is_embedded_ipamj_only(resident):
    fonts = fonts_of(render(make_request(resident)).pdf)
    assert fonts
    for font in fonts:
        assert "IPAmj" in font["/BaseFont"]
        assert "/FontFile2" in font["/FontDescriptor"]


def test_embedded_glyph_advances_match_the_pdf_widths(municipality):
    resident = make_resident(municipality, f"{TSUJI_IVS} 一郎", sex="1")
    for font in fonts_of(render(make_request(resident, show_honseki=True)).pdf):
        subset = TTFont(io.BytesIO(font["/FontDescriptor"]["/FontFile2"].get_data()))
        scale = 1000 / subset["head"].unitsPerEm
        cmap = subset["cmap"].tables[0].cmap
        for code, width in enumerate(font["/Widths"]):
            if code in cmap:
                assert subset["hmtx"][cmap[code]][0] * scale == pytest.approx(width), code


def test_ivs_name_prints_the_variant_glyph(municipality, source_font):
    resident = make_resident(municipality, f"{TSUJI_IVS} 一郎", sex="1")
    resident.name_kana = "つじ いちろう"
    resident.save()
    pdf = render(make_request(resident)).pdf
    outlines = embedded_outlines(pdf)
    assert outline(source_font, TSUJI_IVS_GLYPH) in outlines
    assert outline(source_font, TSUJI_PLAIN_GLYPH) not in outlines
    # Text copied from the certificate keeps the variation sequence (ToUnicode of the private code).
    assert f"{TSUJI_IVS}一郎" in text_of(pdf)


def test_name_beyond_the_bmp_is_extractable(municipality):
    # 𠮷 U+20BB7 (つちよし) needs a UTF-16 surrogate pair in the ToUnicode CMap.
    resident = make_resident(municipality, "𠮷田 花子")
    assert "𠮷田花子" in text_of(render(make_request(resident)).pdf)


def test_plain_name_prints_the_default_glyph(municipality, source_font):
    resident = make_resident(municipality, "辻 一郎", sex="1")
    outlines = embedded_outlines(render(make_request(resident)).pdf)
    assert outline(source_font, TSUJI_PLAIN_GLYPH) in outlines
    assert outline(source_font, TSUJI_IVS_GLYPH) not in outlines


def test_font_module_maps_sequences_to_their_glyphs():
    font = certificate_font()
    assert font.glyph_names(TSUJI_IVS) == [TSUJI_IVS_GLYPH]
    assert font.glyph_names("辻") == [TSUJI_PLAIN_GLYPH]
    assert font.glyph_names(f"{TSUJI_IVS}辻") == [TSUJI_IVS_GLYPH, TSUJI_PLAIN_GLYPH]
    # The variant advances like the plain glyph (both full-width in IPAmj明朝): no overlap with the next.
    assert font.string_width(font.encode(TSUJI_IVS), 10) == font.string_width("辻", 10) == 10


def test_character_missing_from_the_font_raises(municipality):
    resident = make_resident(municipality, "山田 한나")
    with pytest.raises(MissingGlyph) as raised:
        render(make_request(resident))
    assert raised.value.sequences == ["한", "나"]
    assert "U+D55C" in str(raised.value)


def test_variation_sequence_missing_from_the_font_raises():
    # 葛 U+E0100 is an Adobe-Japan1 sequence; IPAmj明朝 implements the Moji_Joho ones (U+E0102–).
    with pytest.raises(MissingGlyph) as raised:
        certificate_font().encode("葛\U000e0100城")
    assert raised.value.sequences == ["葛\U000e0100"]
    with pytest.raises(MissingGlyph):
        certificate_font().encode("\U000e0102")  # a selector without a base character


# --- Print batch -------------------------------------------------------------------------------


def test_print_batch_has_a_cover_and_the_copies_of_each_document(family, municipality):
    head, wife, son = family
    many = make_resident(municipality, "鈴木 一郎", sex="1")
    for i in range(9):
        make_resident(municipality, f"鈴木 子{i}", household=many.household, relationship="子")
    requests = [make_request(wife, copies=2), make_request(many, scope="household", copies=3),
                make_request(head, scope="household", show_relationship=True)]
    documents = [render(r) for r in requests]
    batch = render_print_batch([(r, d.pdf) for r, d in zip(requests, documents, strict=True)])

    pages = PdfReader(io.BytesIO(batch)).pages
    assert len(pages) == sum(1 + d.pages * r.copies for r, d in zip(requests, documents, strict=True))
    cover = compact(pages[0].extract_text())
    for expected in ("〒100-0001", "山田花子様", "東京都窓口市本町一丁目2番3号", requests[0].formatted_reception_number,
                     "住民票の写し2通", "東京都窓口市"):
        assert expected in cover, expected
    assert "住民票の写し" in compact(pages[1].extract_text()) and "山田花子" in compact(pages[2].extract_text())
    second_cover = compact(pages[3].extract_text())
    assert requests[1].formatted_reception_number in second_cover
    assert f"住民票の写し3通（1通{documents[1].pages}枚）" in second_cover
