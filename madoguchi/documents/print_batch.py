"""The print batch that goes to the counter's printer: per request a cover sheet with the address in
the envelope's window, then its certificate `copies` times."""

import io
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _
from pypdf import PdfReader, PdfWriter
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from madoguchi.applications.models import CertificateRequest
from madoguchi.catalog.models import CertificateType
from madoguchi.core.text import postal_code as normalized_postal_code

from .drawing import draw_table, new_canvas
from .fonts import CertificateFont, certificate_font
from .layout import MARGIN, PAGE_HEIGHT, PAGE_WIDTH, Field, layout_table

FOLD = PAGE_HEIGHT / 3


@dataclass(frozen=True)
class Window:
    """An address window of a 長形3号 (120 × 235 mm, JIS S 5502) 窓付き封筒 held landscape, in mm
    from the envelope's left and top edges."""

    left: float
    top: float
    width: float = 90
    height: float = 45


# Stock 長3 窓付き封筒 as envelope makers list them: a 90 × 45 mm window (the post office asks for at
# least 45 × 80 mm), 20–25 mm from the left edge and 12–15 mm from the top. The block must show in
# every one of them.
WINDOWS = (Window(20, 12), Window(23, 13), Window(25, 15))
ENVELOPE_WIDTH, ENVELOPE_HEIGHT = 235, 120
# The A4 sheet folded in three shows its top panel (210 × 99 mm) in the window, and the panel moves
# inside the envelope by its whole play: 25 mm sideways, 21 mm up and down (more than the 20 mm a
# sheet is expected to shift). 日本郵便「定形郵便物・はがき作成のガイドライン」5 窓付封筒: the postal
# code and address must not hide behind the envelope when the contents move.
PLAY_X = ENVELOPE_WIDTH - PAGE_WIDTH / mm
PLAY_Y = ENVELOPE_HEIGHT - FOLD / mm
WINDOW_CLEARANCE = 1.0  # mm kept clear of each window edge (the film's glue line)

# The address block, in mm from the sheet's left and top edges: the part of the panel that lies in
# every window at every position of the sheet.
ADDRESS_LEFT = max(w.left for w in WINDOWS) + WINDOW_CLEARANCE
ADDRESS_RIGHT = min(w.left + w.width for w in WINDOWS) - WINDOW_CLEARANCE - PLAY_X
ADDRESS_TOP = max(w.top for w in WINDOWS) + WINDOW_CLEARANCE
ADDRESS_BOTTOM = min(w.top + w.height for w in WINDOWS) - WINDOW_CLEARANCE - PLAY_Y

POSTAL_CODE_SIZE = 9.0
ADDRESS_SIZES = (10.0, 9.5, 9.0, 8.5, 8.0, 7.5, 7.0, 6.5)
NAME_SIZES = (12.0, 11.0, 10.0, 9.0, 8.0, 7.0)
LEADING = 1.2


class AddressDoesNotFit(ValueError):
    """The delivery address and name do not fit the envelope window even at the smallest size."""

    def __init__(self, reception_number: str) -> None:
        self.message = _("受付番号 {number} の送付先の住所・氏名が長すぎて、封筒の窓に収まりません。"
                         "住所の書き方を短くするか、手書きの封筒で送付してください。").format(number=reception_number)
        super().__init__(self.message)


def _wrap(font: CertificateFont, encoded: str, width: float, size: float) -> list[str]:
    lines, line, used = [], [], 0.0
    for char in encoded:
        w = font.string_width(char, size)
        if line and used + w > width:
            lines.append("".join(line))
            line, used = [], 0.0
        line.append(char)
        used += w
    lines.append("".join(line))
    return lines


def address_block(font: CertificateFont, postal_code: str, address: str, name: str,
                  reception_number: str) -> list[tuple[str, float]]:
    """The lines of the address block (text, size), the largest sizes that fit ADDRESS_* whole;
    AddressDoesNotFit when none do."""
    width = (ADDRESS_RIGHT - ADDRESS_LEFT) * mm
    height = (ADDRESS_BOTTOM - ADDRESS_TOP) * mm
    first = [(font.encode(f"〒{normalized_postal_code(postal_code) or postal_code}", "郵便番号"), POSTAL_CODE_SIZE)]
    address_text = font.encode(address, "送付先住所")
    name_text = font.encode(f"{name}　様", "送付先氏名")
    for name_size in NAME_SIZES:
        name_lines = _wrap(font, name_text, width - 3 * mm, name_size)
        if len(name_lines) > 1:
            continue
        for size in ADDRESS_SIZES:
            lines = _wrap(font, address_text, width, size)
            used = (POSTAL_CODE_SIZE + len(lines) * size + name_size) * LEADING
            if used <= height:
                return [*first, *[(line, size) for line in lines], (name_lines[0], name_size)]
    raise AddressDoesNotFit(reception_number)


def _draw_cover(c: Canvas, font: CertificateFont, request: CertificateRequest, pages_per_copy: int) -> None:
    """The sheet on top of each request's documents: address for the window, then what is enclosed."""
    # Fold marks for the three panels, on both edges.
    c.setLineWidth(0.3)
    for y in (PAGE_HEIGHT - FOLD, PAGE_HEIGHT - 2 * FOLD):
        c.line(0, y, 5 * mm, y)
        c.line(PAGE_WIDTH - 5 * mm, y, PAGE_WIDTH, y)

    # The address block, top down from ADDRESS_TOP; the name indented as addressed mail is written.
    y = PAGE_HEIGHT - ADDRESS_TOP * mm
    lines = address_block(font, request.delivery_postal_code, request.delivery_address, request.delivery_name,
                          request.formatted_reception_number)
    for i, (line, size) in enumerate(lines):
        y -= size * LEADING
        c.setFont(font.name, size)
        indent = 3 * mm if i == len(lines) - 1 else 0
        c.drawString(ADDRESS_LEFT * mm + indent, y + size * 0.2, line)

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
    draw_table(c, font, table, top - 20 * mm)

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
    c = new_canvas(covers_buffer, font, "送付状")
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
