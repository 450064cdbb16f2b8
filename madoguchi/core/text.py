"""Text as residents type it and as the registers record it.

Width is normalized (ＡＢＣ→ABC, ｶﾅ→カナ); ideographic variation sequences and compatibility
ideographs are kept exactly as recorded, since a variant kanji is part of a person's legal name.
"""

import re
import unicodedata

# Bidirectional formatting characters (Unicode UAX #9): ALM, LRM, RLM, LRE…RLO, LRI…PDI. A name
# holding U+202E displays reversed, so a clerk could read a different name or number than is stored.
_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_HIRAGANA_TO_KATAKANA = {cp: cp + 0x60 for cp in range(0x3041, 0x3097)}


def is_variation_selector(ch: str) -> bool:
    cp = ord(ch)
    return 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF


def is_compatibility_ideograph(ch: str) -> bool:
    cp = ord(ch)
    return 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F


def normalize_width(text: str) -> str:
    """NFKC for width but leave ideographs and selectors exactly as recorded.

    NFKC runs over each stretch between kept characters, not character by character, so that a
    half-width voiced mark composes with its kana (ｼﾞ→ジ, not シ + a lone ゙).
    """
    out, run = [], []
    for ch in text:
        if is_variation_selector(ch) or is_compatibility_ideograph(ch):
            out.append(unicodedata.normalize("NFKC", "".join(run)))
            out.append(ch)
            run = []
        else:
            run.append(ch)
    out.append(unicodedata.normalize("NFKC", "".join(run)))
    return "".join(out)


def loosen(text: str) -> str:
    """Drop variation selectors and fold compatibility ideographs: only for finding near matches."""
    return unicodedata.normalize("NFC", "".join(ch for ch in text if not is_variation_selector(ch)))


def digits_only(text: str) -> str:
    """Accept what a resident types: full-width digits, hyphens of every kind, spaces."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text or "") if ch.isdigit())


def reveal_bidi_controls(text: str) -> str:
    """Show each bidirectional control as its code point ("[U+202E]") instead of letting it act."""
    return _BIDI_CONTROLS.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)
def name_initial(name: str) -> str:
    """The first character of a name as recorded, with its variation selector if it has one
    (辻 + U+E0102 stays the registered variant)."""
    name = name.strip()
    if not name:
        return ""
    end = 1
    while end < len(name) and is_variation_selector(name[end]):
        end += 1
    return name[:end]


def postal_code(text: str) -> str:
    """A Japanese postal code as `100-0001` from whatever was typed (full-width digits, 〒, any
    hyphen); "" when it is not 7 digits."""
    digits = digits_only(text)
    return f"{digits[:3]}-{digits[3:]}" if len(digits) == 7 else ""


def to_katakana(text: str) -> str:
    """振り仮名 as the register records them: katakana, full width (ｶﾅ → カナ, かな → カナ)."""
    return normalize_width(text).translate(_HIRAGANA_TO_KATAKANA)
