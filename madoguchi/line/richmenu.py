"""The rich menu of every municipality's account, as data; `manage.py line_richmenu` uploads it."""

import io

from django.conf import settings
from django.utils.translation import gettext as _

WIDTH, HEIGHT = 2500, 843


def areas() -> list[dict]:
    """Two large buttons: few choices, big targets for elderly residents."""
    half = WIDTH // 2
    return [
        {"bounds": {"x": 0, "y": 0, "width": half, "height": HEIGHT},
         "action": {"type": "postback", "label": _("証明書の申請"), "data": "a=start",
                    "displayText": _("証明書の申請")}},
        {"bounds": {"x": half, "y": 0, "width": WIDTH - half, "height": HEIGHT},
         "action": {"type": "message", "label": _("申請状況"), "text": _("申請状況")}},
    ]


def definition() -> dict:
    return {"size": {"width": WIDTH, "height": HEIGHT}, "selected": True, "name": "madoguchi-main",
            "chatBarText": _("メニュー"), "areas": areas()}


def image() -> bytes:
    """A plain PNG: each area's label on its own colour (デジタル庁デザインシステム blue and grey)."""
    from PIL import Image, ImageDraw, ImageFont

    picture = Image.new("RGB", (WIDTH, HEIGHT), "#0017c1")
    draw = ImageDraw.Draw(picture)
    try:
        font = ImageFont.truetype(settings.CERTIFICATE_FONT, 140)
    except OSError:
        font = ImageFont.load_default(size=140)
    for index, area in enumerate(areas()):
        b = area["bounds"]
        draw.rectangle([b["x"], b["y"], b["x"] + b["width"] - 1, b["y"] + b["height"] - 1],
                       fill="#0017c1" if index == 0 else "#333333", outline="#ffffff", width=8)
        draw.text((b["x"] + b["width"] // 2, b["y"] + b["height"] // 2), area["action"]["label"], fill="#ffffff",
                  font=font, anchor="mm")
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()
