"""Synthetic seal impressions (印影) for the 印鑑登録 replica: a red round seal with the surname
cut in columns, drawn with the certificate font. A real replica carries the scanned impression."""

import functools
import io

from django.conf import settings
from PIL import Image, ImageDraw, ImageFont

from madoguchi.documents.fonts import is_variation_selector

SIZE = 180  # pixels
DPI = SIZE / 15 * 25.4  # recorded in the PNG, so the certificate prints it 15 mm wide (actual size)
RED = (200, 30, 35, 255)


@functools.lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(settings.CERTIFICATE_FONT, size)


@functools.lru_cache(maxsize=256)
def seal_impression_png(surname: str) -> bytes:
    """The impression as a PNG with a transparent background. A seal is a carved shape, not text:
    the variation selector is dropped and the base character drawn."""
    chars = [c for c in surname if not is_variation_selector(c) and not c.isspace()][:4] or ["印"]
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((6, 6, SIZE - 6, SIZE - 6), outline=RED, width=9)
    # One column of up to two characters, or two columns read from the right, as seals are cut.
    columns = [chars] if len(chars) <= 2 else [chars[: (len(chars) + 1) // 2], chars[(len(chars) + 1) // 2:]]
    per_column = max(len(c) for c in columns)
    cell = (SIZE - 60) // per_column
    font = _font(int(cell * (0.95 if len(columns) == 1 else 0.8)))
    column_width = (SIZE - 50) // len(columns)
    for index, column in enumerate(columns):
        centre_x = SIZE - 25 - column_width * (index + 0.5)
        top = (SIZE - cell * len(column)) / 2
        for position, char in enumerate(column):
            draw.text((centre_x, top + cell * (position + 0.5)), char, font=font, fill=RED, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", dpi=(DPI, DPI))
    return buffer.getvalue()
