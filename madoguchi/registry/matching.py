"""Matching the basic four from a signing certificate to a resident in the replica.

Only what is legally the same is normalized away: character width, spaces inside names, and the
ways of writing 丁目・番地・号 and numbers in addresses. A difference in a variant kanji (IVS or a
compatibility ideograph) is never treated as equal: it makes the match "near", for a clerk to judge.
"""

import datetime
import difflib
import re
from dataclasses import dataclass, field
from typing import Protocol

from madoguchi.core.text import loosen, normalize_width

from .models import Koseki, Resident

SPACES = {" ", "\u3000", "\t"}
KANJI_DIGITS = {"〇": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
HYPHENS = "-‐‑‒–—―−ー－ｰ"


class BasicFour(Protocol):
    """The basic four as a verified identity gives them (identity.jpki.BasicFour has this shape)."""

    name: str
    date_of_birth: datetime.date
    sex: str
    address: str
    name_substitute: str
    address_substitute: str


def _without_spaces(text: str) -> str:
    # Once a space is gone a combining mark may sit next to a letter (NFKC turns "¸" into a space and
    # a cedilla), so the width normalization runs again: normalizing twice must change nothing.
    return normalize_width("".join(ch for ch in normalize_width(text) if ch not in SPACES))


def normalize_name(name: str) -> str:
    # Upper case on both sides of NFKC: "㎏" only becomes "KG" after NFKC, "ǆ" only folds before it.
    return _without_spaces(name.upper()).upper()


def _kanji_number(text: str) -> int:
    """一二三 → 123, 十二 → 12, 二十三 → 23."""
    if "十" not in text:
        return int("".join(str(KANJI_DIGITS[c]) for c in text))
    tens, _, ones = text.partition("十")
    return (KANJI_DIGITS[tens] if tens else 1) * 10 + (KANJI_DIGITS[ones] if ones else 0)


def normalize_address(address: str) -> str:
    text = _without_spaces(address)
    text = re.sub(r"[〇一二三四五六七八九十]+(?=(丁目|番地|番|号|-|$))",
                  lambda m: str(_kanji_number(m.group(0))), text)
    text = re.sub(r"(丁目|番地|番|号|[" + HYPHENS + "])", "-", text)
    text = re.sub(r"-+", "-", text)
    return text.rstrip("-")


def diff_segments(ours: str, theirs: str) -> list[list]:
    """[[text, differs], ...] of `ours` against `theirs`, for highlighting in the back office."""
    segments: list[list] = []
    matcher = difflib.SequenceMatcher(a=ours, b=theirs, autojunk=False)
    for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
        if i1 != i2:
            segments.append([ours[i1:i2], tag != "equal"])
    return segments


@dataclass
class Match:
    result: str  # "exact", "near", "none"
    resident: Resident | None = None
    differences: dict = field(default_factory=dict)


def match_resident(municipality, basic_four: BasicFour) -> Match:
    # A 除票 (moved out, deceased, 消除) is never matched: the person is no longer a resident here.
    candidates = Resident.objects.for_municipality(municipality).filter(
        date_of_birth=basic_four.date_of_birth, sex=basic_four.sex, removal_reason="").select_related("household")
    card_name, card_address = normalize_name(basic_four.name), normalize_address(basic_four.address)
    near: Match | None = None
    for resident in candidates:
        name, address = normalize_name(resident.name), normalize_address(resident.household.address)
        if name == card_name and address == card_address:
            return Match("exact", resident)
        if loosen(name) == loosen(card_name) and loosen(address) == loosen(card_address):
            differences = {}
            if name != card_name:
                differences["name"] = {"replica": diff_segments(resident.name, basic_four.name),
                                       "card": diff_segments(basic_four.name, resident.name)}
            if address != card_address:
                differences["address"] = {
                    "replica": diff_segments(resident.household.address, basic_four.address),
                    "card": diff_segments(basic_four.address, resident.household.address)}
            near = near or Match("near", resident, differences)
    return near or Match("none")


def koseki_lookup_key(honseki: str, koseki_head: str) -> str:
    """本籍 and 筆頭者 folded as residents type them: they cannot type variant glyphs, so IVS and
    compatibility forms are folded here; 丁目・番地 are compared as numbers, width and spaces ignored."""
    return f"{loosen(normalize_address(honseki))}|{loosen(normalize_name(koseki_head))}"


def find_koseki(municipality, honseki: str, koseki_head: str) -> Koseki | None:
    """The 戸籍 a resident means by the 本籍 and 筆頭者 they typed (both required)."""
    if not (honseki.strip() and koseki_head.strip()):
        return None
    key = koseki_lookup_key(honseki, koseki_head)
    matches = list(Koseki.objects.for_municipality(municipality).filter(lookup_key=key)[:10])
    if len(matches) > 1:
        # 戸籍 that differ only in a variant glyph: only the exact form decides, else the clerk does.
        matches = [k for k in matches if (k.honseki, k.head_name) == (honseki.strip(), koseki_head.strip())]
    return matches[0] if len(matches) == 1 else None
