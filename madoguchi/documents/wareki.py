"""Japanese era dates (和暦) as printed on certificates.

Each era starts on the day of its 改元 and its first year is written 元年: 明治 counts its years from
1868, but only dates from 1873-01-01 (明治6年), when Japan adopted the Gregorian calendar
(明治5年太政官布告第337号), can be converted: earlier ones were lunisolar. 大正 from 1912-07-30,
昭和 from 1926-12-25, 平成 from 1989-01-08 (元号法, 平成改元政令) and 令和 from 2019-05-01
(令和改元政令).
"""

import datetime

# (first day, era name), newest first.
ERAS: tuple[tuple[datetime.date, str], ...] = (
    (datetime.date(2019, 5, 1), "令和"),
    (datetime.date(1989, 1, 8), "平成"),
    (datetime.date(1926, 12, 25), "昭和"),
    (datetime.date(1912, 7, 30), "大正"),
    (datetime.date(1868, 1, 1), "明治"),
)
GREGORIAN_SINCE = datetime.date(1873, 1, 1)

_KANJI_DIGITS = "〇一二三四五六七八九"


def _kanji_number(n: int) -> str:
    """1–99 in the positional style of formal documents: 十, 十一, 二十三."""
    tens, ones = divmod(n, 10)
    prefix = "" if tens == 0 else ("十" if tens == 1 else _KANJI_DIGITS[tens] + "十")
    return prefix + (_KANJI_DIGITS[ones] if ones else "")


def era_year(d: datetime.date) -> tuple[str, int]:
    """The era name and the year within it, e.g. (平成, 1) for 1989-01-08."""
    if d < GREGORIAN_SINCE:
        raise ValueError(f"{d.isoformat()} predates the Gregorian calendar in Japan (1873-01-01).")
    for start, name in ERAS:
        if d >= start:
            return name, d.year - start.year + 1
    raise AssertionError("unreachable: 明治 covers every Gregorian date")


def to_wareki(d: datetime.date, *, kanji_numerals: bool = False) -> str:
    """`令和8年11月23日`, `平成元年1月8日`; with kanji_numerals `令和八年十一月二十三日`."""
    era, year = era_year(d)
    number = _kanji_number if kanji_numerals else str
    year_text = "元" if year == 1 else number(year)
    return f"{era}{year_text}年{number(d.month)}月{number(d.day)}日"
