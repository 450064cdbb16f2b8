"""A date of birth as people write it: 和暦 (元号・年・月・日) or 西暦, typed, not picked.

A native date picker makes an elderly resident scroll back seventy years, and knows no 元号. This
field asks the 元号 from a short list and the year, month and day as numbers (full-width digits
accepted). A four-digit year is read as 西暦 whatever the 元号 list says, so the browser's autofill
(`autocomplete="bday-year"` etc., WCAG 2.2 1.3.5 Identify Input Purpose) works too. Dates that never
existed are refused with a message that says why: 平成31年5月1日 (that day was 令和元年5月1日), 令和元年4月30日
(still 平成), 2月30日. The era table is `core.dates`, the one source for every era boundary.
"""

import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .dates import ERAS, GREGORIAN_SINCE, NotADate, era_named, from_wareki, to_wareki
from .text import digits_only

SEIREKI = "seireki"
PARTS = ("era", "year", "month", "day")


def era_choices() -> list[tuple[str, str]]:
    # 明治 births are still possible in the replica; newest first as people expect.
    return [("", gettext_lazy("選んでください")), (SEIREKI, gettext_lazy("西暦"))] + [(e.name, e.name) for e in ERAS]


class BirthDateWidget(forms.Widget):
    template_name = "core/widgets/birth_date.html"
    use_fieldset = True

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        values = value if isinstance(value, dict) else _initial_parts(value)
        base_id = context["widget"]["attrs"].get("id") or f"id_{name}"
        shared = {k: v for k, v in context["widget"]["attrs"].items() if k.startswith("aria-")}
        context["parts"] = {
            part: {"name": f"{name}_{part}", "id": f"{base_id}_{part}", "value": values.get(part, "")}
            for part in PARTS}
        context["era_choices"] = era_choices()
        context["shared_attrs"] = shared
        return context

    def value_from_datadict(self, data, files, name):
        if not any(f"{name}_{part}" in data for part in PARTS) and name in data:
            # One ISO date (2024-05-01) from a client that posts the date whole.
            return _initial_parts(str(data.get(name, ""))[:10]) or {"year": str(data.get(name, ""))[:20]}
        return {part: data.get(f"{name}_{part}", "") for part in PARTS}

    def value_omitted_from_data(self, data, files, name):
        return name not in data and not any(f"{name}_{part}" in data for part in PARTS)

    def id_for_label(self, id_):
        # The error summary links to the first control of the group.
        return f"{id_}_era" if id_ else id_


def _initial_parts(value) -> dict:
    if isinstance(value, str):
        try:
            value = datetime.date.fromisoformat(value)
        except ValueError:
            return {}
    if not isinstance(value, datetime.date):
        return {}
    return {"era": SEIREKI, "year": str(value.year), "month": str(value.month), "day": str(value.day)}


def _number(text: str, max_digits: int) -> int | None:
    text = (text or "").strip().rstrip("年月日")
    if text == "元":  # 元年, the first year of an era
        return 1
    if not text or len(text) > 12:
        return None
    digits = digits_only(text)
    if not digits or len(digits) > max_digits or len(digits) != len(text.replace(" ", "").replace("\u3000", "")):
        return None
    return int(digits)


class BirthDateField(forms.Field):
    """Cleans to a `datetime.date`; every message names the part to fix."""

    widget = BirthDateWidget

    def __init__(self, *, today=None, **kwargs):
        kwargs.setdefault("help_text", gettext_lazy(
            "例: 昭和55年4月1日なら「昭和」「55」「4」「1」。西暦(1980など4桁)でも入力できます。"))
        super().__init__(**kwargs)
        self._today = today

    def to_python(self, value):
        if not isinstance(value, dict):
            value = _initial_parts(value) if value else {}
        raw = {part: str(value.get(part, "") or "") for part in PARTS}
        if not any(raw[p].strip() for p in ("year", "month", "day")):
            return None
        if "\x00" in "".join(raw.values()):
            raise forms.ValidationError(_("生年月日に使えない文字が含まれています。"), code="invalid")
        year, month, day = _number(raw["year"], 4), _number(raw["month"], 2), _number(raw["day"], 2)
        if year is None:
            raise forms.ValidationError(_("生年月日の「年」を数字で入力してください。"), code="invalid")
        if month is None or not 1 <= month <= 12:
            raise forms.ValidationError(_("生年月日の「月」を1から12の数字で入力してください。"), code="invalid")
        if day is None or not 1 <= day <= 31:
            raise forms.ValidationError(_("生年月日の「日」を1から31の数字で入力してください。"), code="invalid")
        era = raw["era"].strip()
        if year >= 1000:
            return self._western(year, month, day)
        if era in ("", SEIREKI):
            raise forms.ValidationError(
                _("元号(昭和・平成など)を選ぶか、年を西暦4桁(例: 1980)で入力してください。"), code="era")
        try:
            era_named(era)
        except NotADate:
            raise forms.ValidationError(_("元号は、表示されている選択肢から選んでください。"), code="era") from None
        try:
            return from_wareki(era, year, month, day)
        except NotADate:
            raise forms.ValidationError(self._why_not(era, year, month, day), code="no_such_date") from None

    def _western(self, year: int, month: int, day: int) -> datetime.date:
        try:
            d = datetime.date(year, month, day)
        except ValueError:
            raise forms.ValidationError(
                _("{year}年{month}月{day}日という日はありません。日付を確かめてください。").format(
                    year=year, month=month, day=day), code="no_such_date") from None
        if d < GREGORIAN_SINCE:
            raise forms.ValidationError(_("生年月日の年を確かめてください。"), code="no_such_date")
        return d

    def _why_not(self, era: str, year: int, month: int, day: int) -> str:
        text = _("{era}{year}年{month}月{day}日").format(era=era, year="元" if year == 1 else year,
                                                      month=month, day=day)
        first_day = era_named(era).first_day
        try:
            # The same day counted from the era's first year, to say which era it belongs to.
            d = datetime.date(first_day.year + year - 1, month, day)
        except ValueError:
            return _("{date}という日はありません。日付を確かめてください。").format(date=text)
        if d >= GREGORIAN_SINCE:
            return _("{date}という日はありません。{right}のことではありませんか。").format(
                date=text, right=to_wareki(d))
        return _("{date}という日はありません。日付を確かめてください。").format(date=text)

    def validate(self, value):
        super().validate(value)
        today = self._today or timezone.localdate()
        if value and value > today:
            raise forms.ValidationError(_("生年月日が今日より後になっています。年を確かめてください。"), code="future")
