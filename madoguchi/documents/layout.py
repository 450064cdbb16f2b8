"""The layout engine of every certificate: page geometry, labelled fields in rows and tables, fitting
text into cells, and paginating entries. Nothing here draws; `drawing` puts the result on a canvas.

Text is measured with the string `fonts.CertificateFont.encode` returns, so a name with a variation
sequence is measured with its registered glyph and an unprintable character stops the layout
(`fonts.MissingGlyph`) before anything is drawn.
"""

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm

from .fonts import CertificateFont

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

TITLE_BASELINE = PAGE_HEIGHT - MARGIN - 9 * mm
HEADER_TOP = PAGE_HEIGHT - MARGIN - 17 * mm
# The verification QR code: 0.8 mm modules, so a 100 dpi scan or an old phone camera still resolves
# each module (DENSO WAVE recommends 4 printer dots per module; 0.8 mm is 3 dots at 100 dpi).
# Room for a version 3 symbol (29 modules, 61 alphanumeric characters at level M); its quiet zone of
# 4 modules (ISO/IEC 18004) lies in the white page margin on the left and below, and is kept clear
# above and to the right.
QR_MODULE = 0.8 * mm
QR_MAX_VERSION = 3
QR_QUIET = 4 * QR_MODULE
QR_SIZE = (17 + 4 * QR_MAX_VERSION) * QR_MODULE
FOOTER_HEIGHT = QR_SIZE + QR_QUIET + 0.8 * mm
CLOSING_HEIGHT = 62 * mm  # 以下余白, the attestation, the date and the certifier with the seal


@dataclass(frozen=True)
class RenderedDocument:
    pdf: bytes
    pages: int
    content_digest: str = ""


@dataclass(frozen=True)
class Field:
    label: str
    value: str
    width: float | None = None  # of the value cell; None shares the rest of the row
    kana: str = ""  # ふりがな printed above the value
    # A section title across the whole row, without a value (身分事項 inside a 戸籍 entry).
    section: bool = False


@dataclass
class Cell:
    x: float
    label_width: float
    value_width: float
    label_lines: list[str]
    label_size: float
    lines: list[str]
    size: float
    kana: str


@dataclass
class Row:
    cells: list[Cell]
    height: float


@dataclass
class Table:
    x: float
    width: float
    rows: list[Row]
    number: str = ""  # entry number in the left column; the header table has none
    mark: str = ""  # a boxed mark under the number (除籍)
    height: float = field(init=False)

    def __post_init__(self) -> None:
        self.height = sum(r.height for r in self.rows)


@dataclass(frozen=True)
class Heading:
    """A section heading between tables (戸籍事項, 戸籍に記録されている者, …)."""

    text: str
    height: float = 8 * mm


@dataclass(frozen=True)
class Impression:
    """The registered seal impression in a framed box with its label (印鑑登録証明書), printed at
    its actual size `width` × `height` (points), never scaled to the box."""

    png: bytes
    width: float
    height_printed: float
    label: str = "印影"
    height: float = 40 * mm  # of the entry; the box holds up to 36 mm, a registrable seal at most 25


Entry = Table | Heading | Impression


@dataclass(frozen=True)
class DocumentContent:
    """One certificate as laid out: what `drawing.render_content` draws on each page."""

    title: str
    attestation: str
    header_rows: list[list[Field]]
    entries: list[Entry]


def content_digest(content: DocumentContent) -> str:
    """SHA-256 over everything the certificate says (title, attestation, every label and value as
    printed, impressions by their image), hex. Printed on the paper as 内容確認値 (its first 8
    digits) and shown by the verification page, so the holder can tell this certificate's paper
    from another's carrying the same numbers."""
    digest = hashlib.sha256()

    def add(*parts: str) -> None:
        for part in parts:
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\x1f")

    add(content.title, content.attestation)
    for row in content.header_rows:
        for f in row:
            add(f.label, f.value, f.kana)
    for entry in content.entries:
        if isinstance(entry, Table):
            add("table", entry.number, entry.mark)
            for row in entry.rows:
                for cell in row.cells:
                    add(*cell.label_lines, "=", *cell.lines, cell.kana)
        elif isinstance(entry, Heading):
            add("heading", entry.text)
        else:
            add("impression", entry.label, hashlib.sha256(entry.png).hexdigest())
    return digest.hexdigest()


def fit(font: CertificateFont, text: str, width: float, size: float, context: str) -> tuple[list[str], float]:
    """Lines and font size for `text` in `width`: shrunk down to MIN_SIZE, then wrapped. A line break
    in `text` starts a new line (one 【item】 per line); all lines share the smallest size any needs."""
    if "\n" in text:
        parts = text.split("\n")
        shared = min(fit(font, part, width, size, context)[1] for part in parts)
        return [line for part in parts for line in fit(font, part, width, shared, context)[0]], shared
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


def _layout_row(font: CertificateFont, fields: Sequence[Field], x: float, width: float) -> Row:
    # Fields without a width share what the others leave.
    flexible = sum(1 for f in fields if f.width is None) or 1
    rest = (width - LABEL_WIDTH * len(fields) - sum(f.width or 0 for f in fields)) / flexible
    cells, height = [], NAME_ROW_HEIGHT if any(f.kana for f in fields) else ROW_HEIGHT
    for f in fields:
        if f.section:
            lines = [font.encode(f.label, f.label)]
            cells.append(Cell(x, width, 0, lines, VALUE_SIZE, [], VALUE_SIZE, ""))
            x += width
            continue
        label_width, value_width = LABEL_WIDTH, f.width or rest
        label_lines, label_size = fit(font, f.label, label_width - 2 * PAD, LABEL_SIZE, f.label)
        lines, size = fit(font, f.value, value_width - 2 * PAD, NAME_SIZE if f.kana else VALUE_SIZE, f.label)
        kana = font.encode(f.kana, f.label) if f.kana else ""
        cells.append(Cell(x, label_width, value_width, label_lines, label_size, lines, size, kana))
        text_height = max(len(lines) * size * 1.25 + (KANA_SIZE * 1.3 if kana else 0),
                          len(label_lines) * label_size * 1.25) + 2 * PAD
        height = max(height, text_height)
        x += label_width + value_width
    return Row(cells, height)


def layout_table(font: CertificateFont, rows: list[list[Field]], number: str = "", mark: str = "") -> Table:
    x = MARGIN + (NUMBER_COLUMN if number else 0)
    width = CONTENT_WIDTH - (NUMBER_COLUMN if number else 0)
    return Table(MARGIN, CONTENT_WIDTH, [_layout_row(font, fields, x, width) for fields in rows], number, mark)


def paginate(heights: list[float], available: float, closing: float) -> list[list[int]]:
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
