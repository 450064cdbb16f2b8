"""Matching the card's basic four to the replica: properties of the normalizer (hypothesis) and a
table of real-looking hard cases through `match_resident`.

The normalizer folds only what is legally the same writing: width, spaces inside names, 丁目/番地/号
and kanji numerals in addresses. Variant kanji (IVS, compatibility ideographs) are never folded:
they make a match "near", for a clerk.
"""

import datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from madoguchi.core.text import loosen
from madoguchi.identity.jpki import BasicFour
from madoguchi.registry.matching import match_resident, normalize_address, normalize_name

from .conftest import make_resident

KANJI = "〇一二三四五六七八九"
IDEOGRAPHS = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
KANA = st.characters(min_codepoint=0x30A1, max_codepoint=0x30F6)
NAME_CHARS = st.one_of(IDEOGRAPHS, KANA, st.sampled_from("ABCXYZabc"))
NAMES = st.text(NAME_CHARS, min_size=1, max_size=12)
SELECTORS = st.sampled_from(["\U000E0100", "\U000E0101", "\U000E0102", "\uFE00"])


def kanji_number(n: int) -> str:
    """1..99 the way addresses write them: 一, 十, 十二, 二十, 二十三."""
    tens, ones = divmod(n, 10)
    return ("" if tens == 0 else ("十" if tens == 1 else KANJI[tens] + "十")) + ("" if ones == 0 else KANJI[ones])


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in text)


# --- properties ------------------------------------------------------------------------------------

@given(st.text(max_size=30))
@example("K\u00b8")  # NFKC makes the spacing cedilla a space + combining cedilla: found by hypothesis
@example("\u338f")  # ㎏
def test_normalizing_twice_changes_nothing(text):
    assert normalize_name(normalize_name(text)) == normalize_name(text)
    assert normalize_address(normalize_address(text)) == normalize_address(text)


@given(NAMES, st.lists(st.sampled_from([" ", "\u3000"]), max_size=3), st.data())
def test_spaces_anywhere_in_a_name_do_not_matter(name, spaces, data):
    spaced = name
    for space in spaces:
        at = data.draw(st.integers(0, len(spaced)))
        spaced = spaced[:at] + space + spaced[at:]
    assert normalize_name(spaced) == normalize_name(name)


@given(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20))
def test_full_and_half_width_are_the_same(text):
    assert normalize_name(full_width(text)) == normalize_name(text)
    assert normalize_address(full_width(text)) == normalize_address(text)


@given(NAMES, SELECTORS, st.data())
def test_a_variation_selector_is_never_folded_but_is_seen_as_near(name, selector, data):
    ideographs = [i for i, ch in enumerate(name) if 0x4E00 <= ord(ch) <= 0x9FFF]
    if not ideographs:
        return
    at = data.draw(st.sampled_from(ideographs)) + 1
    variant = name[:at] + selector + name[at:]
    assert normalize_name(variant) != normalize_name(name)
    assert loosen(normalize_name(variant)) == loosen(normalize_name(name))
    assert selector in normalize_name(variant)


@given(st.text(IDEOGRAPHS, min_size=1, max_size=10))
def test_ideographs_are_kept_exactly(text):
    kept = [ch for ch in normalize_name(text) if 0x4E00 <= ord(ch) <= 0x9FFF]
    assert "".join(kept) == text


@given(st.integers(1, 99), st.integers(1, 99), st.integers(1, 99))
def test_chome_banchi_go_and_kanji_numerals_are_one_address(a, b, c):
    forms = [
        f"東京都窓口市本町{kanji_number(a)}丁目{b}番{c}号",
        f"東京都窓口市本町{a}丁目{b}番地{c}",
        f"東京都窓口市本町{a}-{b}-{c}",
        full_width(f"東京都窓口市本町{a}－{b}－{c}"),
        f"東京都窓口市本町{kanji_number(a)}丁目{kanji_number(b)}番{kanji_number(c)}号",
    ]
    assert len({normalize_address(form) for form in forms}) == 1, forms


@given(st.integers(1, 99), st.integers(1, 99))
def test_different_numbers_stay_different(a, b):
    if a != b:
        assert normalize_address(f"本町{kanji_number(a)}丁目") != normalize_address(f"本町{b}丁目")


# --- hard cases ------------------------------------------------------------------------------------

ADDRESS = "東京都窓口市本町一丁目2番3号"
HARD_CASES = [
    # (replica name, replica address, card name, card address, expected)
    ("山田 花子", ADDRESS, "山田　花子", ADDRESS, "exact"),                        # full-width space
    ("山田 花子", ADDRESS, "山田花子", ADDRESS, "exact"),                          # no space
    ("スミス ジョン", ADDRESS, "ｽﾐｽ ｼﾞｮﾝ", ADDRESS, "exact"),                    # half-width katakana
    ("SMITH JOHN", ADDRESS, "ＳＭＩＴＨ　ＪＯＨＮ", ADDRESS, "exact"),               # full-width Latin
    ("山田 花子", ADDRESS, "山田 花子", "東京都窓口市本町1-2-3", "exact"),           # 丁目番号 vs hyphens
    ("山田 花子", ADDRESS, "山田 花子", "東京都窓口市本町１丁目２番３号", "exact"),     # full-width digits
    ("山田 花子", "東京都窓口市本町十二丁目3番地4", "山田 花子", "東京都窓口市本町12-3-4", "exact"),
    ("山田 花子", "東京都窓口市本町二十三番地", "山田 花子", "東京都窓口市本町23", "exact"),
    ("山田 花子", "東京都港区三田一丁目4番1号", "山田 花子", "東京都港区三田1-4-1", "exact"),  # 三田 stays
    ("山田 花子", "東京都港区三田一丁目4番1号", "山田 花子", "東京都港区3田1-4-1", "none"),
    ("辻 一郎", ADDRESS, "辻\U000E0102 一郎", ADDRESS, "near"),                    # IVS on the card
    ("辻\U000E0102 一郎", ADDRESS, "辻\U000E0101 一郎", ADDRESS, "near"),           # two different variants
    ("辻\U000E0102 一郎", ADDRESS, "辻\U000E0102 一郎", ADDRESS, "exact"),           # same variant
    ("神田 太郎", ADDRESS, "\uFA19田 太郎", ADDRESS, "near"),                      # compatibility ideograph 神
    ("山田 花子", "東京都葛\U000E0100飾区本町1-2-3", "山田 花子", "東京都葛飾区本町1-2-3", "near"),
    ("高橋 一郎", ADDRESS, "髙橋 一郎", ADDRESS, "none"),                           # a different character
    ("山田 花子", ADDRESS, "山田 花子", "東京都窓口市本町1-2-4", "none"),             # another house
    ("山田 花子", ADDRESS, "山田 花", ADDRESS, "none"),
]


@pytest.mark.parametrize(("replica_name", "replica_address", "card_name", "card_address", "expected"), HARD_CASES)
def test_hard_cases(municipality, replica_name, replica_address, card_name, card_address, expected):
    resident = make_resident(municipality, replica_name, date_of_birth=datetime.date(1970, 1, 1), sex="2")
    resident.household.address = replica_address
    resident.household.save()
    card = BasicFour(name=card_name, date_of_birth=datetime.date(1970, 1, 1), sex="2", address=card_address)
    match = match_resident(municipality, card)
    assert match.result == expected
    if expected == "near":
        # The clerk sees exactly the differing characters highlighted, on both sides.
        assert match.differences
        for field, card_value, replica_value in (("name", card_name, replica_name),
                                                 ("address", card_address, replica_address)):
            if field in match.differences:
                card_side, replica_side = match.differences[field]["card"], match.differences[field]["replica"]
                assert "".join(text for text, _ in card_side) == card_value
                assert "".join(text for text, _ in replica_side) == replica_value
                assert any(differs for _, differs in card_side + replica_side)
    if expected == "none":
        assert match.resident is None


def test_other_birth_date_or_sex_is_never_a_match(municipality):
    make_resident(municipality, "山田 花子", date_of_birth=datetime.date(1970, 1, 1), sex="2")
    for dob, sex in ((datetime.date(1970, 1, 2), "2"), (datetime.date(1970, 1, 1), "1")):
        card = BasicFour(name="山田 花子", date_of_birth=dob, sex=sex, address=ADDRESS)
        assert match_resident(municipality, card).result == "none"


def test_residents_of_another_municipality_are_not_matched(municipality, other_municipality):
    make_resident(other_municipality, "山田 花子", date_of_birth=datetime.date(1970, 1, 1), sex="2")
    card = BasicFour(name="山田 花子", date_of_birth=datetime.date(1970, 1, 1), sex="2", address=ADDRESS)
    assert match_resident(municipality, card).result == "none"
