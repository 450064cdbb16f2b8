"""Search keys for finding a person by name as a clerk types it.

A clerk types かな or カナ, half- or full-width, with or without the space between family and given
name, and the common form of a kanji where the register records a variant (髙→高, 﨑→崎, 邊→辺).
Only for finding: the register's own spelling is never changed (core.text keeps variants exactly).
"""

from .text import loosen, normalize_width

# Variant kanji of names folded to the common form (the forms clerks most often meet in 住民記録).
VARIANTS = str.maketrans({
    "髙": "高", "﨑": "崎", "嵜": "崎", "邊": "辺", "邉": "辺", "齋": "斎", "齊": "斉", "澤": "沢", "濵": "浜",
    "濱": "浜", "德": "徳", "廣": "広", "櫻": "桜", "國": "国", "圓": "円", "眞": "真", "惠": "恵", "瀨": "瀬",
    "嶋": "島", "嶌": "島", "冨": "富", "曻": "昇", "𠮷": "吉", "栁": "柳", "彌": "弥", "龍": "竜", "槇": "槙",
    "藪": "薮", "籠": "篭", "條": "条", "實": "実", "壽": "寿", "藏": "蔵", "榮": "栄", "萬": "万",
})
_KATAKANA_TO_HIRAGANA = {cp: cp - 0x60 for cp in range(0x30A1, 0x30F7)}
_SPACES = {" ", "\u3000", "\t", "・"}


def search_key(text: str) -> str:
    """The form two spellings of one name share: width, kana, variant and spaces folded away."""
    text = loosen(normalize_width(text or ""))
    text = "".join(ch for ch in text if ch not in _SPACES)
    return text.translate(VARIANTS).translate(_KATAKANA_TO_HIRAGANA).lower()
