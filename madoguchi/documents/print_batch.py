"""The print batch that goes to the counter's printer: per request a cover sheet with the address in
the envelope's window, then its certificate `copies` times."""

import io
import unicodedata
from collections.abc import Sequence

from pypdf import PdfReader, PdfWriter
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from madoguchi.applications.models import CertificateRequest
from madoguchi.catalog.models import CertificateType

from .drawing import draw_table, new_canvas
from .fonts import CertificateFont, certificate_font
from .layout import MARGIN, PAGE_HEIGHT, PAGE_WIDTH, Field, fit, layout_table

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
    lines, size = fit(font, request.delivery_address, WINDOW_WIDTH, 11, "送付先住所")
    y = top - 11 - 7 * mm
    c.setFont(font.name, size)
    for line in lines:
        c.drawString(WINDOW_LEFT + 3 * mm, y, line)
        y -= size * 1.35
    name_lines, name_size = fit(font, f"{request.delivery_name}　様", WINDOW_WIDTH - 6 * mm, 14, "送付先氏名")
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
