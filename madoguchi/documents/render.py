"""PDF rendering: the 住民票の写し and the print batch that goes to the counter's printer.

The 住民票の写し lists the items of 住民基本台帳法 第7条 for the selected persons. The items the
resident may ask to include or leave out (第12条第5項) are driven by the request's options:
世帯主の氏名と続柄 (`show_relationship`) and 本籍・筆頭者 (`show_honseki`; for foreign residents the
corresponding item is 国籍・地域, 第30条の45). The 個人番号 and the 住民票コード are never printed,
and neither is the core system's 宛名番号.

Everything is drawn with one font, IPAmj明朝, through `fonts.CertificateFont.encode`, so a name with
a variation sequence prints with its registered glyph and an unprintable character stops the
rendering (`fonts.MissingGlyph`) instead of printing an empty box.
"""

import datetime
import functools
import io
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import segno
from django.conf import settings
from django.utils.translation import gettext as _
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from madoguchi.applications.models import CertificateRequest
from madoguchi.catalog.models import CertificateType
from madoguchi.core.dates import to_wareki
from madoguchi.documents.fonts import CertificateFont, certificate_font, is_variation_selector
from madoguchi.registry.models import Resident
from madoguchi.tenancy.models import Municipality

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 15 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
PAD = 1.6 * mm

LABEL_SIZE = 7.5
LABEL_WIDTH = 19 * mm  # long labels (住民となった年月日) wrap onto two lines
LEFT_VALUE = 82 * mm  # the left value column; the right one takes the rest of the row
SEX_VALUE = 12 * mm
VALUE_SIZE = 10.0
NAME_SIZE = 13.0
KANA_SIZE = 6.5
MIN_SIZE = 7.0
ROW_HEIGHT = 8 * mm
NAME_ROW_HEIGHT = 13 * mm
NUMBER_COLUMN = 8 * mm
TABLE_GAP = 3 * mm
LABEL_FILL = 0.93  # grey level of label cells

TITLE = "住民票の写し"
ATTESTATION = "この写しは、住民票の原本と相違ないことを証明する。"
SEAL_RED = (0.80, 0.09, 0.10)
SEAL_SIZE = 21 * mm  # a typical 公印 is 21–24 mm square

TITLE_BASELINE = PAGE_HEIGHT - MARGIN - 9 * mm
HEADER_TOP = PAGE_HEIGHT - MARGIN - 17 * mm
FOOTER_HEIGHT = 22 * mm
QR_SIZE = 20 * mm
CLOSING_HEIGHT = 62 * mm  # 以下余白, the attestation, the date and the certifier with the seal

# Listed names in a "partial" request are separated by 、 , ， or line breaks.
_NAME_SEPARATORS = re.compile(r"[、,，\r\n]+")
# Dark modules in a row of segno's matrix.
_DARK_RUN = re.compile(rb"\x01+")


@dataclass(frozen=True)
class RenderedDocument:
    pdf: bytes
    pages: int


class PersonSelectionError(ValueError):
    """The request's scope does not select the persons it names."""


# --- Selecting the persons ---------------------------------------------------------------------


def _name_key(name: str) -> str:
    """Comparable form of a name typed by a resident: no spaces (full or half width), no variation
    selectors (residents cannot type them), compatibility forms unified, Latin letters case-folded."""
    plain = "".join(c for c in name if not c.isspace() and not is_variation_selector(c))
    return unicodedata.normalize("NFKC", plain).casefold()


def household_members(resident: Resident) -> list[Resident]:
    """The members of the resident's household, the head first, the others in register order."""
    household = resident.household
    members = list(household.members.order_by("id"))
    members.sort(key=lambda m: m.pk != household.head_id)
    return members


def select_persons(request: CertificateRequest) -> list[Resident]:
    """The persons the certificate lists, according to `options["scope"]`."""
    resident = request.resident
    if resident is None:
        raise PersonSelectionError(_("申請者が住民記録と照合されていません。"))
    scope = request.options.get("scope", "self")
    if scope == "self":
        return [resident]
    if scope == "household":
        return household_members(resident)
    if scope == "partial":
        wanted = {_name_key(n) for n in _NAME_SEPARATORS.split(request.options.get("members") or "")} - {""}
        if not wanted:
            raise PersonSelectionError(_("世帯の一部として記載する人の氏名が申請にありません。"))
        members = [m for m in household_members(resident) if _name_key(m.name) in wanted]
        unmatched = wanted - {_name_key(m.name) for m in members}
        if unmatched:
            # Leaving out a person the resident asked for would be a wrong certificate: a clerk decides.
            names = "、".join(sorted(unmatched))
            raise PersonSelectionError(_("世帯に「{names}」という人はいません。").format(names=names))
        return members
    raise PersonSelectionError(_("証明が必要な人の指定が正しくありません。"))


def _household_head(resident: Resident) -> Resident:
    head = resident.household.head
    if head is None:
        raise PersonSelectionError(_("世帯主が住民記録にありません。"))
    return head


# --- Table layout ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    label: str
    value: str
    width: float | None = None  # of the value cell; None shares the rest of the row
    kana: str = ""  # ふりがな printed above the value


@dataclass
class _Cell:
    x: float
    label_width: float
    value_width: float
    label_lines: list[str]
    label_size: float
    lines: list[str]
    size: float
    kana: str


@dataclass
class _Row:
    cells: list[_Cell]
    height: float


@dataclass
class _Table:
    x: float
    width: float
    rows: list[_Row]
    number: str = ""  # entry number in the left column; the header table has none
    height: float = field(init=False)

    def __post_init__(self) -> None:
        self.height = sum(r.height for r in self.rows)


def _fit(font: CertificateFont, text: str, width: float, size: float, context: str) -> tuple[list[str], float]:
    """Lines and font size for `text` in `width`: shrunk down to MIN_SIZE, then wrapped."""
    encoded = font.encode(text, context)
    natural = font.string_width(encoded, size)
    if natural <= width:
        return [encoded], size
    shrunk = math.floor(size * width / natural * 10) / 10
    if shrunk >= MIN_SIZE:
        return [encoded], shrunk
    lines, line, used = [], [], 0.0
    for char in encoded:
        w = font.string_width(char, MIN_SIZE)
        if line and used + w > width:
            lines.append("".join(line))
            line, used = [], 0.0
        line.append(char)
        used += w
    lines.append("".join(line))
    return lines, MIN_SIZE


def _layout_row(font: CertificateFont, fields: Sequence[Field], x: float, width: float) -> _Row:
    # Fields without a width share what the others leave.
    flexible = sum(1 for f in fields if f.width is None) or 1
    rest = (width - LABEL_WIDTH * len(fields) - sum(f.width or 0 for f in fields)) / flexible
    cells, height = [], NAME_ROW_HEIGHT if any(f.kana for f in fields) else ROW_HEIGHT
    for f in fields:
        label_width, value_width = LABEL_WIDTH, f.width or rest
        label_lines, label_size = _fit(font, f.label, label_width - 2 * PAD, LABEL_SIZE, f.label)
        lines, size = _fit(font, f.value, value_width - 2 * PAD, NAME_SIZE if f.kana else VALUE_SIZE, f.label)
        kana = font.encode(f.kana, f.label) if f.kana else ""
        cells.append(_Cell(x, label_width, value_width, label_lines, label_size, lines, size, kana))
        text_height = max(len(lines) * size * 1.25 + (KANA_SIZE * 1.3 if kana else 0),
                          len(label_lines) * label_size * 1.25) + 2 * PAD
        height = max(height, text_height)
        x += label_width + value_width
    return _Row(cells, height)


def layout_table(font: CertificateFont, rows: list[list[Field]], number: str = "") -> _Table:
    x = MARGIN + (NUMBER_COLUMN if number else 0)
    width = CONTENT_WIDTH - (NUMBER_COLUMN if number else 0)
    return _Table(MARGIN, CONTENT_WIDTH, [_layout_row(font, fields, x, width) for fields in rows], number)


def birth_date_text(person: Resident) -> str:
    # Foreign residents' dates of birth are recorded in the Western calendar (住民基本台帳事務処理要領).
    if person.is_foreign:
        return f"{person.date_of_birth.year}年{person.date_of_birth.month}月{person.date_of_birth.day}日"
    return to_wareki(person.date_of_birth)


def _person_rows(person: Resident, show_relationship: bool, show_honseki: bool) -> list[list[Field]]:
    born = birth_date_text(person)
    rows = [[Field("氏名", person.name, LEFT_VALUE, kana=person.name_kana), Field("生年月日", born)]]
    sex = person.get_sex_display()
    # The left column holds 性別 and 続柄 side by side, or 性別 alone.
    if show_relationship:
        second = [Field("性別", sex, SEX_VALUE),
                  Field("続柄", person.relationship, LEFT_VALUE - SEX_VALUE - LABEL_WIDTH)]
    else:
        second = [Field("性別", sex, LEFT_VALUE)]
    second.append(Field("住民となった年月日", to_wareki(person.became_resident_on)))
    rows.append(second)
    if person.is_foreign:
        foreign = ([Field("国籍・地域", person.nationality, LEFT_VALUE if person.alias else None)]
                   if show_honseki else [])
        if person.alias:
            foreign.append(Field("通称", person.alias))
        if foreign:
            rows.append(foreign)
    elif show_honseki and person.honseki:
        rows.append([Field("本籍", person.honseki, LEFT_VALUE), Field("筆頭者", person.koseki_head)])
    if person.former_surname:
        rows.append([Field("旧氏", person.former_surname)])
    return rows


# --- Drawing -----------------------------------------------------------------------------------


def _draw_table(c: Canvas, font: CertificateFont, table: _Table, top: float) -> None:
    bottom = top - table.height
    c.setLineWidth(0.6)
    c.rect(table.x, bottom, table.width, table.height)
    if table.number:
        c.line(table.x + NUMBER_COLUMN, bottom, table.x + NUMBER_COLUMN, top)
        c.setFont(font.name, VALUE_SIZE)
        c.drawCentredString(table.x + NUMBER_COLUMN / 2, top - table.height / 2 - VALUE_SIZE * 0.35, table.number)
    inner_left = table.x + (NUMBER_COLUMN if table.number else 0)
    y = top
    for row in table.rows:
        row_bottom = y - row.height
        for cell in row.cells:
            c.setFillGray(LABEL_FILL)
            c.rect(cell.x, row_bottom, cell.label_width, row.height, stroke=0, fill=1)
            c.setFillGray(0)
            c.setLineWidth(0.3)
            if cell.x > inner_left:
                c.line(cell.x, row_bottom, cell.x, y)
            c.line(cell.x + cell.label_width, row_bottom, cell.x + cell.label_width, y)
            _draw_lines(c, font, cell.label_lines, cell.label_size, cell.x + cell.label_width / 2, y, row.height,
                        centred=True)
            value_x = cell.x + cell.label_width + PAD
            if cell.kana:
                c.setFont(font.name, KANA_SIZE)
                c.drawString(value_x, y - PAD - KANA_SIZE, cell.kana)
                _draw_lines(c, font, cell.lines, cell.size, value_x, y - KANA_SIZE * 1.3, row.height - KANA_SIZE * 1.3)
            else:
                _draw_lines(c, font, cell.lines, cell.size, value_x, y, row.height)
        if row_bottom > bottom:
            c.setLineWidth(0.3)
            c.line(inner_left, row_bottom, table.x + table.width, row_bottom)
        y = row_bottom


def _draw_lines(c: Canvas, font: CertificateFont, lines: list[str], size: float, x: float, top: float,
                height: float, centred: bool = False) -> None:
    """Lines of text vertically centred in the band from `top` down `height`."""
    leading = size * 1.25
    baseline = top - (height - len(lines) * leading) / 2 - size * 0.95
    c.setFont(font.name, size)
    for line in lines:
        if centred:
            c.drawCentredString(x, baseline, line)
        else:
            c.drawString(x, baseline, line)
        baseline -= leading


def _draw_qr_form(c: Canvas, name: str, data: str) -> None:
    """The QR code as a reusable form XObject, QR_SIZE square with its origin at the lower left,
    including the quiet zone of 4 modules (ISO/IEC 18004)."""
    # A fixed mask pattern: readers accept any of the eight (ISO/IEC 18004 §7.8), and scoring all of
    # them to pick the "best" took a third of the time of rendering a certificate.
    matrix = segno.make(data, error="m", micro=False, mask=0).matrix
    modules = len(matrix) + 8
    c.beginForm(name, 0, 0, QR_SIZE, QR_SIZE)
    c.scale(QR_SIZE / modules, QR_SIZE / modules)
    c.setFillGray(0)
    # One rectangle per run of dark modules, in module units: written directly, because formatting
    # hundreds of coordinates through reportlab's path objects costs more than encoding the code.
    runs = [f"{run.start() + 4} {modules - 5 - y} {run.end() - run.start()} 1 re"
            for y, row in enumerate(matrix) for run in _DARK_RUN.finditer(bytes(row))]
    c.addLiteral("\n".join([*runs, "f"]))
    c.endForm()


@functools.lru_cache(maxsize=32)
def _seal_image(png: bytes) -> ImageReader:
    """Decoded once per process and seal, not once per document."""
    return ImageReader(io.BytesIO(png))


def _draw_seal(c: Canvas, font: CertificateFont, municipality: Municipality, x: float, y: float) -> None:
    """The 公印 with its lower left corner at (x, y): the registered image, or a vector placeholder
    reading `{certifier_title}之印` in columns from the right, as seals are cut."""
    png = bytes(municipality.seal_png or b"")
    if png:
        c.drawImage(_seal_image(png), x, y, SEAL_SIZE, SEAL_SIZE, mask="auto", preserveAspectRatio=True,
                    anchor="c")
        return
    text = font.encode(municipality.certifier_title + "之印", "認証者の職名")
    chars = list(text)
    columns = math.ceil(math.sqrt(len(chars)))
    per_column = math.ceil(len(chars) / columns)
    inner = SEAL_SIZE - 3 * mm
    cell_w, cell_h = inner / columns, inner / per_column
    size = min(cell_w, cell_h) * 0.92
    c.saveState()
    c.setStrokeColorRGB(*SEAL_RED)
    c.setFillColorRGB(*SEAL_RED)
    c.setLineWidth(1.6)
    c.rect(x, y, SEAL_SIZE, SEAL_SIZE)
    c.setLineWidth(0.5)
    c.rect(x + 0.8 * mm, y + 0.8 * mm, SEAL_SIZE - 1.6 * mm, SEAL_SIZE - 1.6 * mm)
    c.setFont(font.name, size)
    left, top = x + 1.5 * mm, y + SEAL_SIZE - 1.5 * mm
    for i, char in enumerate(chars):
        column, position = divmod(i, per_column)
        centre_x = left + inner - (column + 0.5) * cell_w
        centre_y = top - (position + 0.5) * cell_h
        c.drawCentredString(centre_x, centre_y - size * 0.37, char)
    c.restoreState()


@dataclass
class _Document:
    """What every page of one certificate shares."""

    font: CertificateFont
    municipality: Municipality
    issue_number: str
    verification_code: str
    verify_url: str
    header: _Table
    title: str = TITLE
    attestation: str = ATTESTATION
    kanji_numerals: bool = False  # in the issue date, as 戸籍 certificates write dates
    entries_top: float = field(init=False)

    def __post_init__(self) -> None:
        self.entries_top = HEADER_TOP - self.header.height - TABLE_GAP


def _draw_page_frame(c: Canvas, doc: _Document, page: int, pages: int) -> None:
    font = doc.font
    if doc.municipality.document_header:
        c.setFont(font.name, 9)
        c.drawString(MARGIN, PAGE_HEIGHT - MARGIN - 2 * mm,
                     font.encode(doc.municipality.document_header, "証明書の見出し"))
    c.setFont(font.name, 18)
    title = font.encode(doc.title)
    c.drawCentredString(PAGE_WIDTH / 2, TITLE_BASELINE, title, charSpace=6 if len(doc.title) < 12 else 2)
    if doc.header.rows:
        _draw_table(c, font, doc.header, HEADER_TOP)

    c.saveState()
    c.translate(MARGIN, MARGIN)
    c.doForm("verify-qr")
    c.restoreState()
    text_x = MARGIN + QR_SIZE + 3 * mm
    c.setFont(font.name, 8.5)
    c.drawString(text_x, MARGIN + 14 * mm, font.encode(f"発行番号　{doc.issue_number}", "発行番号"))
    c.drawString(text_x, MARGIN + 9.5 * mm, font.encode(f"照合番号　{doc.verification_code}", "照合番号"))
    c.setFont(font.name, 6.5)
    c.drawString(text_x, MARGIN + 5 * mm, font.encode(doc.verify_url, "照合URL"))
    c.drawString(text_x, MARGIN + 1.5 * mm,
                 font.encode("この証明書の発行は、QRコードまたは上記のURLから照合番号で確認できます。"))
    if pages > 1:
        c.setFont(font.name, 9)
        c.drawRightString(PAGE_WIDTH - MARGIN, MARGIN + 1.5 * mm, f"{page} / {pages}")


def _draw_closing(c: Canvas, doc: _Document, top: float, issued_on: datetime.date) -> None:
    """以下余白 after the last entry, then the attestation, date, certifier and seal (last page only)."""
    font, municipality = doc.font, doc.municipality
    c.setFont(font.name, 9)
    c.drawCentredString(PAGE_WIDTH / 2, top - 5 * mm, font.encode("以下余白"))

    block_top = MARGIN + FOOTER_HEIGHT + CLOSING_HEIGHT - 12 * mm
    c.setFont(font.name, 11)
    c.drawString(MARGIN + 8 * mm, block_top - 11, font.encode(doc.attestation))
    c.drawString(MARGIN + 8 * mm, block_top - 11 - 9 * mm,
                 font.encode(to_wareki(issued_on, kanji_numerals=doc.kanji_numerals)))

    certifier = font.encode(f"{municipality.certifier_title}　{municipality.certifier_name}", "認証者")
    size = 14
    width = font.string_width(certifier, size)
    seal_overlap = 3 * mm  # the seal covers the end of the certifier's name, as stamped
    right = PAGE_WIDTH - MARGIN - SEAL_SIZE + seal_overlap - 4 * mm
    baseline = block_top - 11 - 24 * mm
    c.setFont(font.name, size)
    c.drawString(right - width, baseline, certifier)
    _draw_seal(c, font, municipality, right - seal_overlap + municipality.seal_offset_x_mm * mm,
               baseline + size * 0.35 - SEAL_SIZE / 2 + municipality.seal_offset_y_mm * mm)


def _canvas(buffer: io.BytesIO, font: CertificateFont, title: str) -> Canvas:
    # The certificate font as the initial font: otherwise reportlab references Helvetica on every page.
    c = Canvas(buffer, pagesize=A4, pageCompression=1, initialFontName=font.name, initialFontSize=VALUE_SIZE)
    c.setTitle(title)
    c.setCreator("Madoguchi")
    return c


def _paginate(heights: list[float], available: float, closing: float) -> list[list[int]]:
    """Entry indexes per page; the last page must also hold the closing block."""
    pages: list[list[int]] = [[]]
    used = 0.0
    for i, height in enumerate(heights):
        if pages[-1] and used + height > available:
            pages.append([])
            used = 0.0
        pages[-1].append(i)
        used += height
    while used + closing > available:
        moved = pages[-1].pop() if len(pages[-1]) > 1 else None
        pages.append([] if moved is None else [moved])
        used = 0.0 if moved is None else heights[moved]
    return pages


@dataclass(frozen=True)
class Heading:
    """A section heading between tables (戸籍事項, 戸籍に記録されている者, …)."""

    text: str
    height: float = 8 * mm

    def draw(self, c: Canvas, font: CertificateFont, top: float) -> None:
        c.setFont(font.name, 10.5)
        c.drawString(MARGIN + 1 * mm, top - self.height + 2.2 * mm, font.encode(self.text, self.text))


@dataclass(frozen=True)
class Impression:
    """The registered seal impression in a framed box with its label (印鑑登録証明書)."""

    png: bytes
    label: str = "印影"
    height: float = 40 * mm

    def draw(self, c: Canvas, font: CertificateFont, top: float) -> None:
        box = self.height - 4 * mm
        left = MARGIN + LABEL_WIDTH
        c.setLineWidth(0.6)
        c.rect(MARGIN, top - box, LABEL_WIDTH + box, box)
        c.setFillGray(LABEL_FILL)
        c.rect(MARGIN, top - box, LABEL_WIDTH, box, stroke=0, fill=1)
        c.setFillGray(0)
        c.line(left, top - box, left, top)
        _draw_lines(c, font, [font.encode(self.label)], VALUE_SIZE, MARGIN + LABEL_WIDTH / 2, top, box, centred=True)
        inset = 3 * mm
        c.drawImage(_seal_image(self.png), left + inset, top - box + inset, box - 2 * inset, box - 2 * inset,
                    mask="auto", preserveAspectRatio=True, anchor="c")


Entry = _Table | Heading | Impression


@dataclass(frozen=True)
class DocumentContent:
    """One certificate as laid out: what `render_content` draws on each page."""

    title: str
    attestation: str
    header_rows: list[list[Field]]
    entries: list[Entry]
    kanji_numerals: bool = False


def render_content(request: CertificateRequest, content: DocumentContent, issue_number: str, verification_code: str,
            issued_on: datetime.date) -> RenderedDocument:
    font = certificate_font()
    municipality = request.municipality
    doc = _Document(font, municipality, issue_number, verification_code,
                    f"{settings.SITE_URL.rstrip('/')}/verify/{issue_number}",
                    layout_table(font, content.header_rows), content.title, content.attestation,
                    content.kanji_numerals)
    available = doc.entries_top - (MARGIN + FOOTER_HEIGHT)
    entries = content.entries
    pages = _paginate([e.height + TABLE_GAP for e in entries], available, CLOSING_HEIGHT)

    buffer = io.BytesIO()
    c = _canvas(buffer, font, content.title)
    c.setAuthor(municipality.full_name)
    c.setSubject(issue_number)
    _draw_qr_form(c, "verify-qr", doc.verify_url)
    for page_number, indexes in enumerate(pages, start=1):
        _draw_page_frame(c, doc, page_number, len(pages))
        top = doc.entries_top
        for i in indexes:
            entry = entries[i]
            if isinstance(entry, _Table):
                _draw_table(c, font, entry, top)
            else:
                entry.draw(c, font, top)
            top -= entry.height + TABLE_GAP
        if page_number == len(pages):
            _draw_closing(c, doc, top, issued_on)
        else:
            c.setFont(font.name, 9)
            c.drawRightString(PAGE_WIDTH - MARGIN, top - 5 * mm, font.encode("（次葉に続く）"))
        c.showPage()
    c.save()
    return RenderedDocument(pdf=buffer.getvalue(), pages=len(pages))


def residence_content(request: CertificateRequest) -> DocumentContent:
    """住民票の写し, or with its own title and attestation the 住民票記載事項証明書 (the same items,
    certified as recorded rather than as a copy)."""
    font = certificate_font()
    options = request.options
    show_relationship = bool(options.get("show_relationship"))
    show_honseki = bool(options.get("show_honseki"))
    persons = select_persons(request)
    resident = request.resident
    header_rows = [[Field("住所", resident.address)]]
    if show_relationship:
        header_rows.append([Field("世帯主", _household_head(resident).name)])
    tables: list[Entry] = [layout_table(font, _person_rows(p, show_relationship, show_honseki), str(i))
                            for i, p in enumerate(persons, start=1)]
    if request.certificate_type == CertificateType.RESIDENCE_ENTRY:
        return DocumentContent("住民票記載事項証明書", "上記の事項は、住民票に記載されていることを証明する。",
                               header_rows, tables)
    return DocumentContent(TITLE, ATTESTATION, header_rows, tables)


def render_residence_certificate(request: CertificateRequest, issue_number: str, verification_code: str,
                                 issued_on: datetime.date) -> RenderedDocument:
    """One copy of the 住民票の写し for `request` (copies are repeated by the print batch)."""
    if request.certificate_type != CertificateType.RESIDENCE:
        raise ValueError(f"Not a 住民票の写し request: {request.certificate_type}")
    return render_content(request, residence_content(request), issue_number, verification_code, issued_on)


# --- Print batch -------------------------------------------------------------------------------

# The address block sits where the window of a 長3 窓あき封筒 shows it: the envelope (235 × 120 mm,
# held landscape) has a window of about 90 × 45 mm, 20–25 mm from the left and 12–15 mm from the
# top, and the A4 sheet goes in folded in three (99 mm panels) with its top panel facing the window.
WINDOW_LEFT = 25 * mm
WINDOW_TOP = 17 * mm
WINDOW_WIDTH = 82 * mm
FOLD = PAGE_HEIGHT / 3


def _postal_code(code: str) -> str:
    digits = "".join(c for c in unicodedata.normalize("NFKC", code) if c.isdigit())
    return f"〒{digits[:3]}-{digits[3:]}" if len(digits) == 7 else f"〒{code}"


def _draw_cover(c: Canvas, font: CertificateFont, request: CertificateRequest, pages_per_copy: int) -> None:
    """The sheet on top of each request's documents: address for the window, then what is enclosed."""
    # Fold marks for the three panels, on both edges.
    c.setLineWidth(0.3)
    for y in (PAGE_HEIGHT - FOLD, PAGE_HEIGHT - 2 * FOLD):
        c.line(0, y, 5 * mm, y)
        c.line(PAGE_WIDTH - 5 * mm, y, PAGE_WIDTH, y)

    top = PAGE_HEIGHT - WINDOW_TOP
    c.setFont(font.name, 11)
    c.drawString(WINDOW_LEFT, top - 11, font.encode(_postal_code(request.delivery_postal_code), "郵便番号"))
    lines, size = _fit(font, request.delivery_address, WINDOW_WIDTH, 11, "送付先住所")
    y = top - 11 - 7 * mm
    c.setFont(font.name, size)
    for line in lines:
        c.drawString(WINDOW_LEFT + 3 * mm, y, line)
        y -= size * 1.35
    name_lines, name_size = _fit(font, f"{request.delivery_name}　様", WINDOW_WIDTH - 6 * mm, 14, "送付先氏名")
    y -= 4 * mm
    c.setFont(font.name, name_size)
    for line in name_lines:
        c.drawString(WINDOW_LEFT + 6 * mm, y, line)
        y -= name_size * 1.35

    municipality = request.municipality
    top = PAGE_HEIGHT - FOLD - 18 * mm
    c.setFont(font.name, 15)
    c.drawString(MARGIN + 5 * mm, top, font.encode("証明書の送付について"))
    c.setFont(font.name, 10.5)
    c.drawString(MARGIN + 5 * mm, top - 12 * mm, font.encode("ご請求いただいた証明書を同封のとおりお送りします。"))
    label = str(CertificateType(request.certificate_type).label)
    copies = request.copies
    contents = [
        ("受付番号", request.formatted_reception_number),
        ("送付書類", f"{label}　{copies}通" + (f"（1通{pages_per_copy}枚）" if pages_per_copy > 1 else "")),
        ("同封枚数", f"{copies * pages_per_copy}枚（この送付状を除く）"),
    ]
    table = layout_table(font, [[Field(k, v)] for k, v in contents])
    _draw_table(c, font, table, top - 20 * mm)

    y = top - 20 * mm - table.height - 14 * mm
    c.setFont(font.name, 10.5)
    c.drawString(MARGIN + 5 * mm, y, font.encode(municipality.full_name, "団体名"))
    c.setFont(font.name, 9)
    for line in municipality.contact.splitlines():
        y -= 5.5 * mm
        c.drawString(MARGIN + 5 * mm, y, font.encode(line, "問い合わせ先"))


def render_print_batch(items: Sequence[tuple[CertificateRequest, bytes]]) -> bytes:
    """One PDF for the printer: per request a cover sheet, then its document `request.copies` times.

    The copies repeat the same page objects (pypdf shares their content and fonts), so a batch
    costs one document's size per request, not per copy.
    """
    if not items:
        raise ValueError("A print batch needs at least one request.")
    font = certificate_font()
    documents = [PdfReader(io.BytesIO(pdf)) for _request, pdf in items]
    for request, _pdf in items:
        if request.copies < 1:
            raise ValueError(f"Request {request} asks for no copies.")

    covers_buffer = io.BytesIO()
    c = _canvas(covers_buffer, font, "送付状")
    for (request, _pdf), document in zip(items, documents, strict=True):
        _draw_cover(c, font, request, len(document.pages))
        c.showPage()
    c.save()
    covers = PdfReader(covers_buffer)

    writer = PdfWriter()
    for (request, _pdf), cover, document in zip(items, covers.pages, documents, strict=True):
        writer.add_page(cover)
        for _copy in range(request.copies):
            for page in document.pages:
                writer.add_page(page)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()
