"""Approving renders every certificate type; a replica record that is missing stops approval with a
message for the clerk and leaves the request as it was."""

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from madoguchi.applications import actions
from madoguchi.applications.models import State
from madoguchi.catalog.models import CertificateType
from madoguchi.demo.synthetic import generate_replica
from madoguchi.documents.models import IssuedDocument
from madoguchi.registry.models import Koseki, Resident, SealRegistration, TaxRecord

from .flow import received
from .test_backoffice import make_staff, signed_in

pytestmark = pytest.mark.django_db(transaction=True)

TITLES = {
    CertificateType.RESIDENCE: "住民票の写し",
    CertificateType.RESIDENCE_ENTRY: "住民票記載事項証明書",
    CertificateType.SEAL: "印鑑登録証明書",
    CertificateType.KOSEKI_FULL: "全部事項証明",
    CertificateType.KOSEKI_INDIVIDUAL: "個人事項証明",
    CertificateType.KOSEKI_FUHYO: "戸籍の附票の写し",
    CertificateType.TAX: "証明書",
}


@pytest.fixture
def clerk(municipality):
    return make_staff(municipality, "clerk")


def adult_in_koseki(municipality) -> tuple[Resident, Koseki]:
    for koseki in Koseki.objects.for_municipality(municipality).order_by("id"):
        member = koseki.members.filter(resident__isnull=False, resident__support_measure=False).first()
        if member and member.resident.date_of_birth.year < 2000:
            return member.resident, koseki
    raise AssertionError("no adult in a 戸籍")


def request_for(municipality, certificate_type: str):
    resident, koseki = adult_in_koseki(municipality)
    options: dict = {"scope": "self", "members": "", "show_relationship": False, "show_honseki": False}
    if certificate_type in (CertificateType.KOSEKI_FULL, CertificateType.KOSEKI_INDIVIDUAL,
                            CertificateType.KOSEKI_FUHYO):
        options = {"honseki": koseki.honseki, "koseki_head": koseki.head_name}
    elif certificate_type == CertificateType.SEAL:
        resident = SealRegistration.objects.for_municipality(municipality).filter(
            resident__support_measure=False, resident__nationality="").order_by("id").first().resident
        options = {}
    elif certificate_type == CertificateType.TAX:
        resident = TaxRecord.objects.for_municipality(municipality).filter(
            resident__support_measure=False, resident__nationality="").order_by("id").first().resident
        options = {"fiscal_year": "2026"}
    return received(municipality, resident, certificate_type=certificate_type, options=options)


@pytest.mark.parametrize("certificate_type", CertificateType.values)
def test_approve_renders_every_type(municipality, clerk, certificate_type):
    generate_replica(municipality, count=60)
    request = request_for(municipality, certificate_type)
    actions.approve(request, clerk, flags_acknowledged=True)
    request.refresh_from_db()
    assert request.state == State.APPROVED
    document = IssuedDocument.objects.get(request=request)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(bytes(document.pdf))).pages)
    assert TITLES[certificate_type] in "".join(text.split())
    assert document.issue_number in text and document.verification_code in text


def test_the_clerk_sees_why_a_koseki_request_cannot_be_issued(municipality, clerk):
    """The 戸籍 left the replica after the resident paid (e.g. 転籍): approval stops and holds it."""
    generate_replica(municipality, count=60)
    resident, koseki = adult_in_koseki(municipality)
    request = received(municipality, resident, certificate_type=CertificateType.KOSEKI_FULL,
                       options={"honseki": koseki.honseki, "koseki_head": koseki.head_name})
    koseki.members.all().delete()
    koseki.delete()
    response = signed_in(clerk).post(reverse("backoffice:approve", args=[request.public_id]),
                                     {"flags_acknowledged": "1"}, follow=True)
    page = response.content.decode()
    assert f"本籍「{koseki.honseki}」・筆頭者「{koseki.head_name}」の戸籍が副本にありません" in page
    request.refresh_from_db()
    assert request.state == State.RECEIVED and request.held
    assert request.events.get(kind="held").data["codes"] == ["koseki_not_found"]
    assert not IssuedDocument.objects.filter(request=request).exists()
    assert not request.events.filter(to_state=State.APPROVED).exists()
