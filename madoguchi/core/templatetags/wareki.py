"""`{{ date|wareki }}`: a date as residents read it on their papers (令和8年12月6日), from the one era table."""

import datetime

from django import template
from django.utils import timezone

from madoguchi.core.dates import to_wareki

register = template.Library()


@register.filter
def wareki(value) -> str:
    if isinstance(value, datetime.datetime):
        value = (timezone.localtime(value) if timezone.is_aware(value) else value).date()
    if not isinstance(value, datetime.date):
        return ""
    try:
        return to_wareki(value)
    except ValueError:  # before 1873: no 和暦 from a Gregorian date, show it as it is
        return f"{value.year}年{value.month}月{value.day}日"
