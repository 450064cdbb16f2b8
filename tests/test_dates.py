"""The one era table, at every era boundary (the day before is the previous era)."""

import datetime

import pytest

from madoguchi.core.dates import ERAS, era_of, era_year, era_year_text, to_wareki
from madoguchi.identity.jpki import decode_date_of_birth, encode_date_of_birth

BOUNDARIES = [
    (datetime.date(1912, 7, 30), "大正元年7月30日", "明治45年7月29日", "2"),
    (datetime.date(1926, 12, 25), "昭和元年12月25日", "大正15年12月24日", "3"),
    (datetime.date(1989, 1, 8), "平成元年1月8日", "昭和64年1月7日", "4"),
    (datetime.date(2019, 5, 1), "令和元年5月1日", "平成31年4月30日", "5"),
]


@pytest.mark.parametrize(("first_day", "first", "day_before", "digit"), BOUNDARIES)
def test_each_era_starts_on_its_first_day(first_day, first, day_before, digit):
    assert to_wareki(first_day) == first
    assert to_wareki(first_day - datetime.timedelta(days=1)) == day_before
    assert encode_date_of_birth(first_day)[0] == digit
    assert encode_date_of_birth(first_day - datetime.timedelta(days=1))[0] == str(int(digit) - 1)
    assert decode_date_of_birth(encode_date_of_birth(first_day)) == first_day


def test_meiji_starts_1868_01_25_for_the_jpki_digit():
    assert era_of(datetime.date(1868, 1, 25)).name == "明治"
    assert encode_date_of_birth(datetime.date(1868, 1, 25)) == "118680125"
    with pytest.raises(ValueError):
        era_of(datetime.date(1868, 1, 24))


def test_wareki_only_from_the_gregorian_calendar():
    assert to_wareki(datetime.date(1873, 1, 1)) == "明治6年1月1日"
    with pytest.raises(ValueError):
        era_year(datetime.date(1872, 12, 31))


def test_one_table_newest_first():
    assert [e.name for e in ERAS] == ["令和", "平成", "昭和", "大正", "明治"]
    assert era_year_text(datetime.date(2019, 5, 1)) == "令和元年"
    assert era_year_text(datetime.date(2026, 1, 1)) == "令和8年"
