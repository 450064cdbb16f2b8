"""Bar charts as server-side SVG: no script, so the strict CSP stays; colours as presentation
attributes (not style), and each chart names itself for screen readers while the same numbers
follow as a table."""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

BAR = "#0017c1"  # デジタル庁デザインシステム: blue-900 (contrast 12:1 on white)
GRID = "#cccccc"
TEXT = "#1a1a1c"


def bar_chart(title: str, rows: list[tuple[str, int]], *, unit: str = "件", width: int = 720,
              label_width: int = 140, bar_height: int = 18) -> SafeString:
    """Horizontal bars, one per row, labelled with the value."""
    rows = rows or [("—", 0)]
    peak = max((value for _label, value in rows), default=0) or 1
    gap, top = 6, 28
    height = top + len(rows) * (bar_height + gap) + 8
    plot = width - label_width - 90
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" class="chart">',
             f"<title>{escape(title)}</title>",
             f'<text x="0" y="16" font-size="14" font-weight="bold" fill="{TEXT}">{escape(title)}</text>']
    for i, (label, value) in enumerate(rows):
        y = top + i * (bar_height + gap)
        length = round(plot * value / peak) if value > 0 else 0
        parts.append(f'<text x="{label_width - 6}" y="{y + bar_height - 4}" font-size="12" text-anchor="end" '
                     f'fill="{TEXT}">{escape(str(label))}</text>')
        parts.append(f'<rect x="{label_width}" y="{y}" width="{plot}" height="{bar_height}" fill="none" '
                     f'stroke="{GRID}"/>')
        parts.append(f'<rect x="{label_width}" y="{y}" width="{length}" height="{bar_height}" fill="{BAR}"/>')
        parts.append(f'<text x="{label_width + length + 6}" y="{y + bar_height - 4}" font-size="12" '
                     f'fill="{TEXT}">{value:,}{escape(unit)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above is escaped
