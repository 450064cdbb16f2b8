"""What several kinds print the same way."""

import datetime

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from madoguchi.applications.models import CertificateRequest
from madoguchi.core.dates import to_wareki
from madoguchi.core.forms import Form
from madoguchi.core.text import normalize_width
from madoguchi.registry.matching import normalize_name
from madoguchi.registry.models import Resident

from . import PersonSelectionError


def applicant(request: CertificateRequest) -> Resident:
    """The resident the request was matched to at signing."""
    if request.resident is None:
        raise PersonSelectionError(_("申請者が住民記録と照合されていません。"))
    return request.resident


def birth_date_text(person: Resident) -> str:
    # Foreign residents' dates of birth are recorded in the Western calendar (住民基本台帳事務処理要領).
    if person.is_foreign:
        return f"{person.date_of_birth.year}年{person.date_of_birth.month}月{person.date_of_birth.day}日"
    return to_wareki(person.date_of_birth)


def parse_birth_date(value: str) -> datetime.date | None:
    """1980-04-01, 1980/4/1 or the same in full-width digits."""
    parts = normalize_width(value).strip().replace("/", "-").split("-")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() and len(p) <= 4 for p in parts):
        return None
    try:
        return datetime.date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None


class SubjectFields(Form):
    """The person a resident names when the certificate is about someone other than themselves: name
    and date of birth, matched to the replica exactly as the register writes them (width and spaces
    aside). Whether the requester may have it is the kind's entitlement table."""

    subject_name = forms.CharField(label=gettext_lazy("証明が必要な人の氏名"), required=False, max_length=100)
    subject_birth_date = forms.CharField(
        label=gettext_lazy("証明が必要な人の生年月日"), required=False, max_length=10,
        help_text=gettext_lazy("例: 1980-04-01"))

    def clean_subject_birth_date(self) -> str:
        value = self.cleaned_data.get("subject_birth_date") or ""
        if not value.strip():
            return ""
        born = parse_birth_date(value)
        if born is None:
            raise forms.ValidationError(gettext_lazy("生年月日は 1980-04-01 の形で入力してください。"))
        return born.isoformat()

    def require_subject(self, data: dict) -> None:
        if not (data.get("subject_name") or "").strip():
            self.add_error("subject_name", gettext_lazy("証明が必要な人の氏名を入力してください。"))
        if not data.get("subject_birth_date") and "subject_birth_date" not in self.errors:
            self.add_error("subject_birth_date", gettext_lazy("証明が必要な人の生年月日を入力してください。"))

    @staticmethod
    def blank_subject(data: dict) -> None:
        data["subject_name"] = data["subject_birth_date"] = ""


def named_subject(request: CertificateRequest) -> Resident:
    """The resident the request names by `subject_name` and `subject_birth_date`."""
    name = request.options.get("subject_name") or ""
    born = parse_birth_date(str(request.options.get("subject_birth_date") or ""))
    if born is None:
        raise PersonSelectionError(_("証明が必要な人の生年月日が正しくありません。"))
    wanted = normalize_name(name)
    found = [r for r in Resident.objects.filter(municipality=request.municipality_id, date_of_birth=born)
             .select_related("household") if normalize_name(r.name) == wanted]
    if len(found) != 1:
        raise PersonSelectionError(_("「{name}」({born})という人が住民記録に見つかりません。").format(
            name=name, born=born.isoformat()))
    return found[0]
