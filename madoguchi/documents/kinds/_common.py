"""What several kinds print the same way."""

from django.utils.translation import gettext as _

from madoguchi.applications.models import CertificateRequest
from madoguchi.core.dates import to_wareki
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
