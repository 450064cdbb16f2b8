"""The certificate font (settings.CERTIFICATE_FONT, IPAmj明朝) for reportlab, with IVS support.

Names in the resident register are stored with ideographic variation sequences (IVS): a base
character followed by a variation selector, e.g. 辻 U+8FBB + U+E0102 for the one-dot 辻. The font
knows which glyph each sequence selects from its cmap format-14 (Unicode Variation Sequences) table,
but reportlab draws one glyph per code point and ignores selectors. So, once per process, the loaded
font is extended in memory: every sequence of the UVS table gets a code point of the Supplementary
Private Use Area-A (U+F0000–U+FFFFD, unused by the font) mapped to the variant glyph, and `encode`
rewrites base+selector to that code point before drawing. Nothing is written to disk.

One-time cost per process, IPAmj明朝 (46 MB, 61,179 glyphs, 11,474 sequences): 0.2–0.4 s and about
85 MB of resident memory (reportlab keeps the whole file in memory and parses its cmap and metrics;
fontTools reads only the cmap and the glyph names). Later calls return the cached font. Each
document embeds a subset of only the glyphs it uses.

A character or sequence the font cannot draw raises `MissingGlyph`: a certificate never shows an
empty box, and an unsupported sequence never silently falls back to the base glyph, because the
registered glyph shape (字形) of a name is what the certificate attests.
"""

import hashlib
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

from django.conf import settings
from fontTools.ttLib import TTFont as FontToolsFont
from reportlab import rl_config
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import TTEncoding, TTFont, TTFontFace

# Supplementary Private Use Area-A, for the variation sequences.
_PUA_FIRST, _PUA_LAST = 0xF0000, 0xFFFFD
# A CMap holds at most 100 entries per beginbfchar block (Adobe Technical Note #5014, CMap syntax).
_BFCHAR_BLOCK = 100


def is_variation_selector(char: str) -> bool:
    """VS1–VS16 (standardized variation sequences) or VS17–VS256 (IVS)."""
    code = ord(char)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF


def describe(sequence: str) -> str:
    """`辻+U+E0102 (U+8FBB U+E0102)`: readable even where the sequence itself is not."""
    visible = "+".join(f"U+{ord(c):04X}" if is_variation_selector(c) or not c.isprintable() else c
                       for c in sequence)
    codes = " ".join(f"U+{ord(c):04X}" for c in sequence)
    return f"{visible} ({codes})"


class MissingGlyph(ValueError):
    """The certificate font cannot draw these characters or variation sequences."""

    def __init__(self, sequences: list[str], context: str = "") -> None:
        self.sequences = list(dict.fromkeys(sequences))
        self.context = context
        where = f"{context}: " if context else ""
        listed = ", ".join(describe(s) for s in self.sequences)
        super().__init__(f"{where}the certificate font has no glyph for {listed}")


class _GlyphData:
    """Read-only slices of the glyf table.

    reportlab's subsetter fetches the whole glyf table (45 MB for IPAmj明朝) for every document and
    then slices the glyphs it needs; handing it this view instead avoids copying the table.
    """

    __slots__ = ("_view",)

    def __init__(self, view: memoryview) -> None:
        self._view = view

    def __getitem__(self, key: slice) -> bytes:
        return self._view[key].tobytes()


class _Face(TTFontFace):
    def get_table(self, tag: str) -> "bytes | _GlyphData":
        if tag != "glyf":
            return super().get_table(tag)
        offset, length = self.get_table_pos(tag)
        return _GlyphData(memoryview(self._ttf_data)[offset:offset + length])


def _subset_tag(subset: list[int]) -> str:
    """Six capital letters derived from the subset's content.

    Print batches merge many documents into one file and PDF requires different subsets in one file
    to have different tags (PDF 32000-1:2008, 9.6.4); reportlab would name every first subset AAAAAA.
    """
    digest = int.from_bytes(hashlib.sha256(",".join(map(str, subset)).encode()).digest()[:8], "big")
    letters = []
    for _ in range(6):
        digest, index = divmod(digest, 26)
        letters.append(chr(ord("A") + index))
    return "".join(letters)


def _utf16_hex(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


class _FastFlate(pdfdoc.PDFStreamFilterZCompress):
    """FlateDecode at zlib level 1 for the embedded font programs. Glyph outlines hardly compress
    (level 6 takes a 60 KB subset to 73 %, level 1 to 76 %) and compressing them at level 6 was a
    fifth of the time of rendering a certificate. Decoders read every level alike."""

    def encode(self, text: bytes | str) -> bytes:
        return zlib.compress(text.encode("utf8") if isinstance(text, str) else text, 1)


_FONT_FILE_FILTER = _FastFlate()


class _ReportlabFont(TTFont):
    """reportlab's dynamically subsetted TrueType font, with two changes to the embedded objects:
    content-derived subset tags, and a ToUnicode CMap that maps the private code points back to the
    original variation sequences (and encodes characters beyond the BMP as UTF-16 surrogate pairs,
    which reportlab writes incorrectly), so text copied from a certificate is the registered text.
    """

    def __init__(self, name: str, face: _Face, private_sequences: dict[int, str]) -> None:
        # TTFont.__init__ would parse the file again into a plain TTFontFace; set the same attributes.
        self.fontName = name
        self.face = face
        self.encoding = TTEncoding()
        self.state = WeakKeyDictionary()
        self._asciiReadable = rl_config.ttfAsciiReadable
        self.shapable = False
        self.private_sequences = private_sequences  # private code point -> base + selector
        # code point -> the UTF-16BE hex of the text it stands for, filled as documents use them.
        self._to_unicode_targets: dict[int, str] = {}

    def _to_unicode_cmap(self, base_font_name: str, subset: list[int]) -> str:
        targets = self._to_unicode_targets
        entries = []
        for code, char in enumerate(subset):
            if char:
                target = targets.get(char)
                if target is None:
                    target = targets[char] = _utf16_hex(self.private_sequences.get(char) or chr(char))
                entries.append(f"<{code:02X}> <{target}>")
        blocks = [entries[i:i + _BFCHAR_BLOCK] for i in range(0, len(entries), _BFCHAR_BLOCK)]
        lines = [
            "/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
            f"/CIDSystemInfo << /Registry ({base_font_name}) /Ordering ({base_font_name}) /Supplement 0 >> def",
            f"/CMapName /{base_font_name} def", "/CMapType 2 def",
            "1 begincodespacerange", "<00> <FF>", "endcodespacerange",
        ]
        for block in blocks:
            lines += [f"{len(block)} beginbfchar", *block, "endbfchar"]
        lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
        return "\n".join(lines)

    def addObjects(self, doc: pdfdoc.PDFDocument) -> None:  # noqa: N802 (reportlab's name)
        """Write one simple TrueType font per 256-character subset used in `doc`."""
        state = self._assignState(doc)
        state.frozen = 1
        face = self.face
        for n, subset in enumerate(state.subsets):
            internal_name = self.getSubsetInternalName(n, doc)[1:]
            base_font_name = f"{_subset_tag(subset)}+{face.name.decode('latin-1')}"
            pdf_font = pdfdoc.PDFTrueTypeFont()
            pdf_font.Name = internal_name
            pdf_font.BaseFont = base_font_name
            pdf_font.FirstChar = 0
            pdf_font.LastChar = len(subset) - 1
            pdf_font.Widths = pdfdoc.PDFArray([face.getCharWidth(char) for char in subset])
            cmap = pdfdoc.PDFStream()
            cmap.content = self._to_unicode_cmap(base_font_name, subset)
            if doc.compression:
                cmap.filters = [pdfdoc.PDFZCompress]
            pdf_font.ToUnicode = doc.Reference(cmap, f"toUnicodeCMap:{base_font_name}")
            pdf_font.FontDescriptor = face.addSubsetObjects(doc, base_font_name, subset)
            if doc.compression:  # the font program stream just added (see _FastFlate)
                doc.idToObject[f"fontFile:{face.filename}({base_font_name})"].filters = [_FONT_FILE_FILTER]
            doc.Reference(pdf_font, internal_name)
            doc.idToObject["BasicFonts"].dict[internal_name] = pdf_font
        del self.state[doc]


@dataclass(eq=False)
class CertificateFont:
    """The loaded font: `name` for reportlab's setFont, `encode` for every string drawn."""

    name: str
    path: str
    reportlab_font: _ReportlabFont
    glyph_order: list[str]
    # base + selector -> the private code point drawn for it.
    private_code_points: dict[str, str] = field(repr=False)

    def _sequences(self, text: str) -> Iterator[str]:
        """Split text into characters, each with its variation selector if it has one."""
        i, end = 0, len(text)
        while i < end:
            if i + 1 < end and is_variation_selector(text[i + 1]):
                yield text[i:i + 2]
                i += 2
            else:
                yield text[i]
                i += 1

    def encode(self, text: str, context: str = "") -> str:
        """The string to hand to reportlab for `text`; raises MissingGlyph if any part is missing."""
        glyphs = self.reportlab_font.face.charToGlyph
        if not any(map(is_variation_selector, text)):
            missing = [c for c in text if ord(c) not in glyphs]
            if missing:
                raise MissingGlyph(missing, context)
            return text
        encoded, missing = [], []
        for sequence in self._sequences(text):
            if len(sequence) == 2:
                private = self.private_code_points.get(sequence)
                if private is None:
                    missing.append(sequence)
                else:
                    encoded.append(private)
            elif is_variation_selector(sequence) or ord(sequence) not in glyphs:
                missing.append(sequence)  # a stray selector, or a character the font lacks
            else:
                encoded.append(sequence)
        if missing:
            raise MissingGlyph(missing, context)
        return "".join(encoded)

    def glyph_names(self, text: str) -> list[str]:
        """The font's glyph name for each character of `text` as it will be drawn."""
        glyphs = self.reportlab_font.face.charToGlyph
        return [self.glyph_order[glyphs[ord(c)]] for c in self.encode(text)]

    def string_width(self, encoded: str, size: float) -> float:
        """Width in points of an `encode`d string."""
        return pdfmetrics.stringWidth(encoded, self.name, size)


def _load(path: str) -> CertificateFont:
    face = _Face(path)
    source = FontToolsFont(path, lazy=True)
    glyph_order = source.getGlyphOrder()
    glyph_ids = {name: gid for gid, name in enumerate(glyph_order)}
    uvs = next((t for t in source["cmap"].tables if t.format == 14), None)
    # reportlab's parser stores the advances of the glyphs past numberOfHMetrics already scaled to
    # 1/1000 em and would copy them as font units into each embedded subset's hmtx (1000 instead of
    # 2048 here); take the font's own metrics so the embedded fonts agree with the PDF /Widths.
    # (reportlab packs the left side bearing as an unsigned short, as it reads it.)
    metrics = source["hmtx"].metrics
    face.hmetrics = [(metrics[name][0], metrics[name][1] & 0xFFFF) for name in glyph_order]
    source.close()

    glyphs, widths = face.charToGlyph, face.charWidths
    free = (c for c in range(_PUA_FIRST, _PUA_LAST + 1) if c not in glyphs)
    private_code_points: dict[str, str] = {}
    sequences: dict[int, str] = {}
    # Sorted, so a sequence gets the same private code point in every process.
    entries = sorted(((base, selector, glyph)
                      for selector, mappings in (uvs.uvsDict.items() if uvs else ())
                      for base, glyph in mappings), key=lambda entry: entry[:2])
    for base, selector, glyph_name in entries:
        # A sequence without a glyph name is a default variation: it selects the base glyph.
        gid = glyphs.get(base) if glyph_name is None else glyph_ids[glyph_name]
        if gid is None:
            continue
        code = next(free)
        glyphs[code] = gid
        widths[code] = face._pdfScale(face.hmetrics[gid][0])
        sequence = chr(base) + chr(selector)
        private_code_points[sequence] = chr(code)
        sequences[code] = sequence

    name = face.name.decode("latin-1")  # the PostScript name, e.g. IPAmjMincho
    font = _ReportlabFont(name, face, sequences)
    pdfmetrics.registerFont(font)
    return CertificateFont(name=name, path=path, reportlab_font=font, glyph_order=glyph_order,
                           private_code_points=private_code_points)


_fonts: dict[str, CertificateFont] = {}
_lock = threading.Lock()


def certificate_font() -> CertificateFont:
    """settings.CERTIFICATE_FONT, loaded and registered with reportlab once per process."""
    path = str(settings.CERTIFICATE_FONT)
    font = _fonts.get(path)
    if font is None:
        with _lock:
            font = _fonts.get(path)
            if font is None:
                font = _fonts[path] = _load(path)
    return font
