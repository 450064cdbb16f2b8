"""The 公印: checking an uploaded seal image, the version in force on a date, and a sample
certificate on which a manager sees a seal (pending or approved) before it prints on real ones.

A seal prints at its registered physical size (`width_mm` × `height_mm`), not at whatever size the
image happens to be, so a 21 mm 公印 measures 21 mm on paper (the municipality's 公印規則 fixes the
size of each seal). The image must be sharp enough at that size (300 dpi, what office laser
printers print) and transparent around the impression, so it sits over the certifier's name as a
stamp does instead of blanking it out.
"""

import datetime
import io
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.db.models import Q
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from madoguchi.tenancy.models import Municipality

from .fonts import certificate_font
from .layout import DocumentContent, Field, layout_table
from .models import SealVersion

MAX_BYTES = 2 * 1024 * 1024
MIN_DPI = 300
MIN_MM, MAX_MM = Decimal(10), Decimal(40)  # 公印 are 15–30 mm; anything else is a typing error
MAX_PIXELS = 6000  # per side: 40 mm at 3,800 dpi, far beyond any printer
ASPECT_TOLERANCE = 0.03  # pixel and millimetre proportions must agree within 3 %
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The placeholder and seal_png of municipalities from before SealVersion print at this size.
LEGACY_SIZE_MM = Decimal(21)


class SealRejected(ValueError):
    """The upload is not a usable seal image; the message says why, in Japanese, for the manager."""


@dataclass(frozen=True)
class Seal:
    png: bytes
    width_mm: Decimal
    height_mm: Decimal


def check_seal_png(data: bytes, width_mm: Decimal, height_mm: Decimal) -> tuple[int, int]:
    """The pixel size of an acceptable seal image; SealRejected with the reason otherwise."""
    if len(data) > MAX_BYTES:
        raise SealRejected(_("画像が大きすぎます(2MBまで)。"))
    if not (MIN_MM <= width_mm <= MAX_MM and MIN_MM <= height_mm <= MAX_MM):
        raise SealRejected(_("公印の大きさは10mmから40mmの間で入力してください。"))
    if not data.startswith(PNG_SIGNATURE):
        raise SealRejected(_("PNG形式の画像を選んでください(SVGやJPEGは使えません)。"))
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "PNG":
                raise SealRejected(_("PNG形式の画像を選んでください(SVGやJPEGは使えません)。"))
            width, height = image.size  # from the header: checked before anything is decoded
            if not (0 < width <= MAX_PIXELS and 0 < height <= MAX_PIXELS):
                raise SealRejected(_("画像の縦横の画素数が大きすぎます(各{n}画素まで)。").format(n=MAX_PIXELS))
            image.verify()  # chunk CRCs and structure
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            alpha = image.convert("RGBA").getchannel("A")
    except SealRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise SealRejected(_("画像を読み込めませんでした。壊れていないPNG画像を選んでください。")) from None
    needed_w = float(width_mm) / 25.4 * MIN_DPI
    needed_h = float(height_mm) / 25.4 * MIN_DPI
    if width < needed_w or height < needed_h:
        raise SealRejected(_("解像度が足りません。{w}×{h}mmで印刷するには{pw}×{ph}画素以上が必要です(300dpi)。").format(
            w=width_mm, h=height_mm, pw=int(needed_w + 0.999), ph=int(needed_h + 0.999)))
    pixel_ratio, mm_ratio = width / height, float(width_mm) / float(height_mm)
    if abs(pixel_ratio / mm_ratio - 1) > ASPECT_TOLERANCE:
        raise SealRejected(_("画像の縦横比が入力した大きさ(mm)と合いません。"))
    low, high = alpha.getextrema()
    if low != 0:
        raise SealRejected(_("背景が透明になっていません。印影の周りを透明にしたPNG画像を選んでください。"))
    if high == 0:
        raise SealRejected(_("画像が全部透明です。印影が写っている画像を選んでください。"))
    return width, height


def effective_seal(municipality: Municipality, on: datetime.date) -> Seal | None:
    """The approved seal in force on `on` (the latest approved that took effect by then); a
    municipality without one falls back to its legacy image, then to the drawn placeholder (None)."""
    version = (SealVersion.objects.for_municipality(municipality)
               .filter(approved_at__isnull=False, withdrawn_at__isnull=True, effective_from__lte=on)
               .order_by("-effective_from", "-approved_at", "-id").first())
    if version is not None:
        return Seal(bytes(version.png), version.width_mm, version.height_mm)
    legacy = bytes(municipality.seal_png or b"")
    return Seal(legacy, LEGACY_SIZE_MM, LEGACY_SIZE_MM) if legacy else None


def pending_versions(municipality: Municipality):
    return (SealVersion.objects.for_municipality(municipality)
            .filter(approved_at__isnull=True, withdrawn_at__isnull=True).order_by("-uploaded_at", "-id"))


def approved_versions(municipality: Municipality):
    return (SealVersion.objects.for_municipality(municipality).filter(approved_at__isnull=False)
            .filter(Q(withdrawn_at__isnull=True)).order_by("-effective_from", "-approved_at", "-id"))


SAMPLE_TITLE = "住民票の写し(見本)"


def sample_content() -> DocumentContent:
    """A residence certificate of a fictitious person, marked 見本, for previews."""
    font = certificate_font()
    rows = [[Field("氏名", "見本　太郎", kana="みほん　たろう")],
            [Field("生年月日", "昭和60年4月1日", None), Field("性別", "男")],
            [Field("住民となった年月日", "平成17年4月1日")]]
    return DocumentContent(SAMPLE_TITLE, "この写しは、住民票の原本と相違ないことを証明する。",
                           [[Field("住所", "（見本）本町一丁目2番3号")]], [layout_table(font, rows, "1")])


def pdf_to_png(pdf: bytes, dpi: int = 100) -> bytes:
    """The first page as PNG (poppler's pdftoppm, a Debian dependency of the project)."""
    tool = shutil.which("pdftoppm")
    if tool is None:
        raise RuntimeError("pdftoppm (poppler-utils) is not installed")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "sample.pdf"
        source.write_bytes(pdf)
        subprocess.run([tool, "-r", str(dpi), "-png", "-singlefile", "-f", "1", "-l", "1", str(source),
                        str(Path(folder) / "sample")], check=True, capture_output=True, timeout=60)
        return (Path(folder) / "sample.png").read_bytes()
