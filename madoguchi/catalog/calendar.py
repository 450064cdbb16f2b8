"""Business days of a city office: not weekends, national holidays, 12/29–1/3, or local closures."""

import datetime

import jpholiday


def is_business_day(day: datetime.date, closed_dates: list[str] | None = None) -> bool:
    if day.weekday() >= 5 or jpholiday.is_holiday(day):
        return False
    if (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3):
        return False
    return day.isoformat() not in (closed_dates or [])


def add_business_days(start: datetime.date, days: int, closed_dates: list[str] | None = None) -> datetime.date:
    """The `days`-th business day after `start` (start itself does not count)."""
    day = start
    remaining = days
    while remaining > 0:
        day += datetime.timedelta(days=1)
        if is_business_day(day, closed_dates):
            remaining -= 1
    return day
