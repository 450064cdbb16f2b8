"""Japanese dates: the one era table, 和暦 as printed on certificates, and the era digits of JPKI.

Each era starts on the day its 改元 took effect: 明治 from 1868-01-25 (慶応4年1月1日; the 改元詔書 of
明治元年9月8日 applied the new era from the start of that year), 大正 from 1912-07-30, 昭和 from
1926-12-25, 平成 from 1989-01-08 (元号法, 平成改元政令) and 令和 from 2019-05-01 (令和改元政令). The first
year of an era is written 元年. Only dates from 1873-01-01 (明治6年), when Japan adopted the Gregorian
calendar (明治5年太政官布告第337号), can be written in 和暦 from a Gregorian date: earlier ones were
lunisolar.
"""

import datetime
from dataclasses import dataclass


@dataclass(frozen=True)
class Era:
    name: str
    first_day: datetime.date
    # The era digit of a date of birth in the JPKI signing certificate (1 明治 … 5 令和).
    jpki_digit: str


# Newest first.
ERAS: tuple[Era, ...] = (
    Era("令和", datetime.date(2019, 5, 1), "5"),
    Era("平成", datetime.date(1989, 1, 8), "4"),
    Era("昭和", datetime.date(1926, 12, 25), "3"),
    Era("大正", datetime.date(1912, 7, 30), "2"),
    Era("明治", datetime.date(1868, 1, 25), "1"),
)
GREGORIAN_SINCE = datetime.date(1873, 1, 1)


def era_of(d: datetime.date) -> Era:
    for era in ERAS:
        if d >= era.first_day:
            return era
    raise ValueError(f"{d.isoformat()} is before 明治.")


def era_year(d: datetime.date) -> tuple[str, int]:
    """The era name and the year within it, e.g. (平成, 1) for 1989-01-08."""
    if d < GREGORIAN_SINCE:
        raise ValueError(f"{d.isoformat()} predates the Gregorian calendar in Japan (1873-01-01).")
    era = era_of(d)
    return era.name, d.year - era.first_day.year + 1


def to_wareki(d: datetime.date) -> str:
    """`令和8年11月23日`, `平成元年1月8日` (certificates, 戸籍's 記録事項証明書 included, use Arabic numerals)."""
    era, year = era_year(d)
    return f"{era}{'元' if year == 1 else year}年{d.month}月{d.day}日"


def era_year_text(d: datetime.date) -> str:
    """`令和8年`, `平成元年`."""
    era, year = era_year(d)
    return f"{era}{'元' if year == 1 else year}年"


class NotADate(ValueError):
    """A 和暦 date that never existed (平成31年5月1日, 令和元年4月30日, 昭和65年) or an impossible day."""


def era_named(name: str) -> Era:
    for era in ERAS:
        if era.name == name:
            return era
    raise NotADate(f"Unknown era {name!r}.")


def from_wareki(era_name: str, year: int, month: int, day: int) -> datetime.date:
    """The Gregorian date of `令和{year}年{month}月{day}日`; year 1 is 元年.

    The date must fall within the era: 平成31年5月1日 is 令和元年5月1日 and was never written, and
    令和元年4月30日 is still 平成. Dates before 1873 are refused (lunisolar, see GREGORIAN_SINCE).
    """
    era = era_named(era_name)
    if year < 1:
        raise NotADate("An era year starts at 1 (元年).")
    try:
        d = datetime.date(era.first_day.year + year - 1, month, day)
    except (ValueError, OverflowError) as exc:
        raise NotADate(str(exc)) from None
    if d < GREGORIAN_SINCE or era_of(d) != era:
        raise NotADate(f"{era_name}{year}年{month}月{day}日 is not a date of that era.")
    return d
