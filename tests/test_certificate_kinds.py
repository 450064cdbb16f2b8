"""The certificate kind registry: one kind per catalog type, each with its reviewed reference image;
a registry refuses unknown and duplicate codes; the eligibility hook stops approval with a message
for the clerk and leaves the request as it was; both channels ask the kind's options form."""

import datetime

import pytest
from django.core.exceptions import ImproperlyConfigured

from madoguchi.applications import actions
from madoguchi.applications.forms import CertificateTypeForm
from madoguchi.applications.models import State
from madoguchi.catalog.models import CertificateType
from madoguchi.demo.synthetic import generate_replica
from madoguchi.documents import kinds as kinds_module
from madoguchi.documents.kinds import (
    CertificateKind,
    KindRegistry,
    NotEligible,
    all_kinds,
    get_kind,
)
from madoguchi.documents.kinds.residence_certificate import ResidenceCertificate, ResidenceOptionsForm
from madoguchi.documents.models import IssuedDocument
from madoguchi.documents.services import can_render
from madoguchi.registry.models import SealRegistration

from .flow import received
from .test_backoffice import make_staff


def test_every_catalog_type_has_one_kind_with_its_reference_image():
    assert [k.code for k in all_kinds()] == CertificateType.values
    for kind in all_kinds():
        assert get_kind(kind.code) is kind and can_render(kind.code)
        assert kind.title and kind.attestation
        assert kind.reference_image.is_file(), kind.reference_image


def test_an_unknown_type_has_no_kind():
    assert not can_render("passport")
    with pytest.raises(LookupError):
        get_kind("passport")


def test_a_fresh_registry_refuses_unknown_and_duplicate_codes():
    registry = KindRegistry()

    class Residence(CertificateKind):
        code = CertificateType.RESIDENCE

    class Unknown(CertificateKind):
        code = "passport"

    assert registry.register(Residence) is Residence
    assert [type(k) for k in registry.all()] == [Residence]
    with pytest.raises(ImproperlyConfigured, match="Two certificate kinds"):
        registry.register(Residence)
    with pytest.raises(ImproperlyConfigured, match="unknown code"):
        registry.register(Unknown)
    with pytest.raises(LookupError):
        registry.get(CertificateType.SEAL)


def test_the_web_offers_exactly_the_types_a_kind_renders():
    choices = CertificateTypeForm().fields["certificate_type"].choices
    assert [code for code, _label in choices] == [k.code for k in all_kinds()]
    assert not CertificateTypeForm({"certificate_type": "passport"}).is_valid()


def test_options_forms_come_from_the_kind():
    assert isinstance(get_kind(CertificateType.RESIDENCE_ENTRY).options_form(), ResidenceOptionsForm)
    assert list(get_kind(CertificateType.SEAL).options_form().fields) == []
    assert list(get_kind(CertificateType.KOSEKI_FUHYO).options_form().fields) == ["honseki", "koseki_head",
                                                                               "show_honseki"]
    # Tax certificates of a fiscal year become available in June.
    may = get_kind(CertificateType.TAX).options_form(today=datetime.date(2026, 5, 31))
    june = get_kind(CertificateType.TAX).options_form(today=datetime.date(2026, 6, 1))
    assert may.fields["fiscal_year"].choices[0][0] == "2025"
    assert june.fields["fiscal_year"].choices[0][0] == "2026"
    assert not june.__class__({"fiscal_year": "2020"}, current_fiscal_year=2026).is_valid()


@pytest.mark.django_db
def test_persons_follow_the_requests_scope(municipality):
    residents = generate_replica(municipality, count=40)
    resident = next(r for r in residents if r.household.members.count() >= 2)
    household = get_kind(CertificateType.RESIDENCE).persons(
        received(municipality, resident, options={"scope": "household", "members": ""}))
    assert household[0].pk == resident.household.head_id
    assert {p.pk for p in household} == set(resident.household.members.values_list("pk", flat=True))
    registrant = SealRegistration.objects.filter(municipality=municipality, resident__support_measure=False).first()
    seal = received(municipality, registrant.resident, certificate_type=CertificateType.SEAL, options={})
    assert get_kind(CertificateType.SEAL).persons(seal) == [registrant.resident]


class _Restricted(ResidenceCertificate):
    def check_eligibility(self, request):
        raise NotEligible("この住民には発行できません(テスト)。")


@pytest.mark.django_db(transaction=True)
def test_an_ineligible_request_is_not_issued(municipality, monkeypatch):
    resident = generate_replica(municipality, count=10)[0]
    clerk = make_staff(municipality, "clerk")
    request = received(municipality, resident)
    monkeypatch.setitem(kinds_module.kinds._kinds, CertificateType.RESIDENCE, _Restricted())
    with pytest.raises(actions.ActionError, match="この住民には発行できません"):
        actions.approve(request, clerk, flags_acknowledged=True)
    request.refresh_from_db()
    assert request.state == State.RECEIVED
    assert not IssuedDocument.objects.filter(request=request).exists()
