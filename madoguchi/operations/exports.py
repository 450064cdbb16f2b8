"""Excel workbooks of the statistics (openpyxl): one sheet per table, numbers as numbers."""

import io

from openpyxl import Workbook
from openpyxl.styles import Font

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Characters Excel does not allow in a sheet name.
_SHEET_FORBIDDEN = str.maketrans({c: "_" for c in "[]:*?/\\"})


def _cell(value):
    """Numbers stay numbers; text that a spreadsheet would run as a formula is neutralised."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        text = "" if value is None else str(value)
        return "'" + text if text[:1] in ("=", "+", "-", "@") else text
    return value


def workbook(sections) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for index, section in enumerate(sections, start=1):
        sheet = book.create_sheet(f"{index} {section.title}".translate(_SHEET_FORBIDDEN)[:31])
        sheet.append([section.title])
        sheet["A1"].font = Font(bold=True)
        sheet.append(section.headers)
        for row in section.rows:
            sheet.append([_cell(v) for v in row])
        sheet.column_dimensions["A"].width = 28
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
