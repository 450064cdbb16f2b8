"""Drawing laid-out certificates with reportlab: the page frame (header line, title, header table,
QR code, issue number and verification code, page numbers), the tables and other entries, and the
closing block (以下余白, attestation, date, certifier and 公印).

Everything is drawn with one font, IPAmj明朝, through `fonts.CertificateFont.encode`, so a name with
a variation sequence prints with its registered glyph and an unprintable character stops the
rendering (`fonts.MissingGlyph`) instead of printing an empty box.
"""

import datetime
import functools
import io
import math
import re
from dataclasses import dataclass, field

import segno
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from madoguchi.core.dates import to_wareki
from madoguchi.tenancy.models import Municipality

from .fonts import CertificateFont, certificate_font
from .layout import (
    CLOSING_HEIGHT,
    FOOTER_HEIGHT,
    HEADER_TOP,
    KANA_SIZE,
    LABEL_FILL,
    LABEL_WIDTH,
    MARGIN,
    NUMBER_COLUMN,
    PAD,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    QR_MAX_VERSION,
    QR_MODULE,
    QR_QUIET,
    QR_SIZE,
    TABLE_GAP,
    TITLE_BASELINE,
    VALUE_SIZE,
    DocumentContent,
    Entry,
    Heading,
    Impression,
    RenderedDocument,
    Table,
    content_digest,
    layout_table,
    paginate,
)
from .seals import Seal, effective_seal

SEAL_RED = (0.80, 0.09, 0.10)
SEAL_SIZE = 21 * mm  # the drawn placeholder; a registered seal prints at its own size (seals.Seal)
# render_content's default: the seal in force on the issue date.
EFFECTIVE_SEAL = object()

# Dark modules in a row of segno's matrix.
_DARK_RUN = re.compile(rb"\x01+")


def draw_lines(c: Canvas, font: CertificateFont, lines: list[str], size: float, x: float, top: float,
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


def draw_table(c: Canvas, font: CertificateFont, table: Table, top: float) -> None:
    bottom = top - table.height
    c.setLineWidth(0.6)
    c.rect(table.x, bottom, table.width, table.height)
    if table.number:
        c.line(table.x + NUMBER_COLUMN, bottom, table.x + NUMBER_COLUMN, top)
        c.setFont(font.name, VALUE_SIZE)
        centre = table.x + NUMBER_COLUMN / 2
        if table.mark:
            # The number at the top and the boxed mark (除籍) below it, one character a line.
            c.drawCentredString(centre, top - 6 * mm, table.number)
            mark = font.encode(table.mark, table.mark)
            box_top, box_height = top - 9 * mm, len(mark) * 4.5 * mm + 1.5 * mm
            c.rect(centre - 2.8 * mm, box_top - box_height, 5.6 * mm, box_height)
            for i, char in enumerate(mark):
                c.drawCentredString(centre, box_top - (i + 1) * 4.5 * mm + 0.6 * mm, char)
        else:
            c.drawCentredString(centre, top - table.height / 2 - VALUE_SIZE * 0.35, table.number)
    inner_left = table.x + (NUMBER_COLUMN if table.number else 0)
    y = top
    for row in table.rows:
        row_bottom = y - row.height
        for cell in row.cells:
            if not cell.value_width:  # a section title across the row
                c.setLineWidth(0.3)
                if cell.x > inner_left:
                    c.line(cell.x, row_bottom, cell.x, y)
                draw_lines(c, font, cell.label_lines, cell.label_size, cell.x + PAD, y, row.height)
                continue
            c.setFillGray(LABEL_FILL)
            c.rect(cell.x, row_bottom, cell.label_width, row.height, stroke=0, fill=1)
            c.setFillGray(0)
            c.setLineWidth(0.3)
            if cell.x > inner_left:
                c.line(cell.x, row_bottom, cell.x, y)
            c.line(cell.x + cell.label_width, row_bottom, cell.x + cell.label_width, y)
            draw_lines(c, font, cell.label_lines, cell.label_size, cell.x + cell.label_width / 2, y, row.height,
                       centred=True)
            value_x = cell.x + cell.label_width + PAD
            if cell.kana:
                c.setFont(font.name, KANA_SIZE)
                c.drawString(value_x, y - PAD - KANA_SIZE, cell.kana)
                draw_lines(c, font, cell.lines, cell.size, value_x, y - KANA_SIZE * 1.3, row.height - KANA_SIZE * 1.3)
            else:
                draw_lines(c, font, cell.lines, cell.size, value_x, y, row.height)
        if row_bottom > bottom:
            c.setLineWidth(0.3)
            c.line(inner_left, row_bottom, table.x + table.width, row_bottom)
        y = row_bottom


def _draw_heading(c: Canvas, font: CertificateFont, heading: Heading, top: float) -> None:
    c.setFont(font.name, 10.5)
    c.drawString(MARGIN + 1 * mm, top - heading.height + 2.2 * mm, font.encode(heading.text, heading.text))


def _draw_impression(c: Canvas, font: CertificateFont, impression: Impression, top: float) -> None:
    box = impression.height - 4 * mm
    left = MARGIN + LABEL_WIDTH
    c.setLineWidth(0.6)
    c.rect(MARGIN, top - box, LABEL_WIDTH + box, box)
    c.setFillGray(LABEL_FILL)
    c.rect(MARGIN, top - box, LABEL_WIDTH, box, stroke=0, fill=1)
    c.setFillGray(0)
    c.line(left, top - box, left, top)
    draw_lines(c, font, [font.encode(impression.label)], VALUE_SIZE, MARGIN + LABEL_WIDTH / 2, top, box,
               centred=True)
    # Actual size, centred in the box: the certificate attests the impression as registered.
    c.drawImage(_seal_image(impression.png), left + (box - impression.width) / 2,
                top - box + (box - impression.height_printed) / 2, impression.width, impression.height_printed,
                mask="auto")


def draw_entry(c: Canvas, font: CertificateFont, entry: Entry, top: float) -> None:
    if isinstance(entry, Table):
        draw_table(c, font, entry, top)
    elif isinstance(entry, Heading):
        _draw_heading(c, font, entry, top)
    else:
        _draw_impression(c, font, entry, top)


def qr_url(issue_number: str) -> str:
    """The address the QR code carries: the site in capitals and the short path `/V/<number>`, so the
    whole URL is in the QR alphanumeric set and fits a version 3 symbol at level M (scheme and host
    are case-insensitive, RFC 3986 §3.1, §3.2.2; `/V/` redirects to the verification page)."""
    return f"{settings.SITE_URL.rstrip('/').upper()}/V/{issue_number}"


def qr_symbol(data: str) -> segno.QRCode:
    # A fixed mask pattern: readers accept any of the eight (ISO/IEC 18004 §7.8), and scoring all of
    # them to pick the "best" took a third of the time of rendering a certificate.
    symbol = segno.make(data, error="m", micro=False, mask=0)
    if symbol.version > QR_MAX_VERSION:
        raise ImproperlyConfigured(
            f"The verification QR code for {data} needs version {symbol.version}; the footer has room for "
            f"version {QR_MAX_VERSION} at {QR_MODULE / mm:.1f} mm per module. Shorten MADOGUCHI_SITE_URL "
            "(a host without a path).")
    return symbol


def _draw_qr_form(c: Canvas, name: str, data: str) -> None:
    """The QR code as a reusable form XObject with its origin at the lower left of the symbol, each
    module QR_MODULE square. The quiet zone is left to the page around it (see `layout.QR_QUIET`)."""
    matrix = qr_symbol(data).matrix
    modules = len(matrix)
    c.beginForm(name, 0, 0, modules * QR_MODULE, modules * QR_MODULE)
    c.scale(QR_MODULE, QR_MODULE)
    c.setFillGray(0)
    # One rectangle per run of dark modules, in module units: written directly, because formatting
    # hundreds of coordinates through reportlab's path objects costs more than encoding the code.
    runs = [f"{run.start()} {modules - 1 - y} {run.end() - run.start()} 1 re"
            for y, row in enumerate(matrix) for run in _DARK_RUN.finditer(bytes(row))]
    c.addLiteral("\n".join([*runs, "f"]))
    c.endForm()


@functools.lru_cache(maxsize=32)
def _seal_image(png: bytes) -> ImageReader:
    """Decoded once per process and seal, not once per document."""
    return ImageReader(io.BytesIO(png))


def _seal_size(seal: Seal | None) -> tuple[float, float]:
    if seal is None:
        return SEAL_SIZE, SEAL_SIZE
    return float(seal.width_mm) * mm, float(seal.height_mm) * mm


def _draw_seal(c: Canvas, font: CertificateFont, municipality: Municipality, seal: Seal | None,
               x: float, y: float) -> None:
    """The 公印 with its lower left corner at (x, y): the registered image at its registered
    physical size, or a vector placeholder reading `{certifier_title}之印` in columns from the
    right, as seals are cut."""
    if seal is not None:
        width, height = _seal_size(seal)
        c.drawImage(_seal_image(seal.png), x, y, width, height, mask="auto")
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
    header: Table
    title: str
    attestation: str
    content_digest: str = ""
    seal: Seal | None = None
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
        draw_table(c, font, doc.header, HEADER_TOP)

    c.saveState()
    c.translate(MARGIN, MARGIN)
    c.doForm("verify-qr")
    c.restoreState()
    text_x = MARGIN + QR_SIZE + QR_QUIET + 1 * mm
    c.setFont(font.name, 8.5)
    c.drawString(text_x, MARGIN + 19 * mm, font.encode(f"発行番号　{doc.issue_number}", "発行番号"))
    c.drawString(text_x, MARGIN + 14.5 * mm, font.encode(f"照合番号　{doc.verification_code}", "照合番号"))
    c.drawString(text_x, MARGIN + 10 * mm,
                 font.encode(f"内容確認値　{printed_digest(doc.content_digest)}", "内容確認値"))
    c.setFont(font.name, 6.5)
    c.drawString(text_x, MARGIN + 5 * mm, font.encode(doc.verify_url, "照合URL"))
    c.drawString(text_x, MARGIN + 1.5 * mm,
                 font.encode("QRコードまたは上記のURLから照合番号で、発行の事実と内容確認値を確認できます。"))
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
                 font.encode(to_wareki(issued_on)))

    certifier = font.encode(f"{municipality.certifier_title}　{municipality.certifier_name}", "認証者")
    size = 14
    width = font.string_width(certifier, size)
    seal_width, seal_height = _seal_size(doc.seal)
    seal_overlap = 3 * mm  # the seal covers the end of the certifier's name, as stamped
    right = PAGE_WIDTH - MARGIN - seal_width + seal_overlap - 4 * mm
    baseline = block_top - 11 - 24 * mm
    c.setFont(font.name, size)
    c.drawString(right - width, baseline, certifier)
    _draw_seal(c, font, municipality, doc.seal, right - seal_overlap + municipality.seal_offset_x_mm * mm,
               baseline + size * 0.35 - seal_height / 2 + municipality.seal_offset_y_mm * mm)


def printed_digest(digest: str) -> str:
    """The 内容確認値 as the paper and the verification page print it: the first 8 hex digits of the
    content digest (`layout.content_digest`), in capitals, in two groups of four."""
    head = digest[:8].upper()
    return f"{head[:4]}-{head[4:]}"


def new_canvas(buffer: io.BytesIO, font: CertificateFont, title: str) -> Canvas:
    # The certificate font as the initial font: otherwise reportlab references Helvetica on every page.
    c = Canvas(buffer, pagesize=A4, pageCompression=1, initialFontName=font.name, initialFontSize=VALUE_SIZE)
    c.setTitle(title)
    c.setCreator("Madoguchi")
    return c


def render_content(municipality: Municipality, content: DocumentContent, issue_number: str,
                   verification_code: str, issued_on: datetime.date, seal=EFFECTIVE_SEAL) -> RenderedDocument:
    """One copy of a certificate: `content` on as many pages as it needs, in the shared frame, with
    the seal in force on `issued_on` (or the `seal` given: a preview; None draws the placeholder)."""
    font = certificate_font()
    if seal is EFFECTIVE_SEAL:
        seal = effective_seal(municipality, issued_on)
    digest = content_digest(content)
    doc = _Document(font, municipality, issue_number, verification_code,
                    f"{settings.SITE_URL.rstrip('/')}/verify/{issue_number}",
                    layout_table(font, content.header_rows), content.title, content.attestation, digest, seal)
    available = doc.entries_top - (MARGIN + FOOTER_HEIGHT)
    entries = content.entries
    pages = paginate([e.height + TABLE_GAP for e in entries], available, CLOSING_HEIGHT)

    buffer = io.BytesIO()
    c = new_canvas(buffer, font, content.title)
    c.setAuthor(municipality.full_name)
    c.setSubject(issue_number)
    _draw_qr_form(c, "verify-qr", qr_url(issue_number))
    for page_number, indexes in enumerate(pages, start=1):
        _draw_page_frame(c, doc, page_number, len(pages))
        top = doc.entries_top
        for i in indexes:
            entry = entries[i]
            draw_entry(c, font, entry, top)
            top -= entry.height + TABLE_GAP
        if page_number == len(pages):
            _draw_closing(c, doc, top, issued_on)
        else:
            c.setFont(font.name, 9)
            c.drawRightString(PAGE_WIDTH - MARGIN, top - 5 * mm, font.encode("（次葉に続く）"))
        c.showPage()
    c.save()
    return RenderedDocument(pdf=buffer.getvalue(), pages=len(pages), content_digest=digest)
