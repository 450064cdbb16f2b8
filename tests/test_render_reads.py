"""What one rendering reads: rows the checks and the content share are read once, and the legal
checks (外字, 発行停止, 支援措置) are read again on every rendering, whatever was remembered before."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from madoguchi.catalog.models import CertificateType
from madoguchi.documents.kinds._memo import one_render, remembered
from madoguchi.documents.services import PersonSelectionError, render_certificate
from madoguchi.registry.models import IssuanceStop, Resident, SupportMeasure, UnmappedCharacter

from .test_certificates import replica, sample_requests  # noqa: F401 (fixture)

ISSUED_ON = datetime.date(2026, 11, 23)


def render(request):
    return render_certificate(request, "1399981234567890", "ABCDEFGHJKMN", ISSUED_ON)


def test_remembered_only_inside_one_rendering():
    reads = []

    def read():
        reads.append(1)
        return len(reads)

    assert remembered("k", read) == 1 and remembered("k", read) == 2  # outside: read every time
    with one_render():
        assert remembered("k", read) == 3 and remembered("k", read) == 3
        with one_render():  # nested: the same memory
            assert remembered("k", read) == 3
    with one_render():  # a new rendering reads again
        assert remembered("k", read) == 4


def test_a_koseki_certificate_reads_its_koseki_once(municipality, replica):  # noqa: F811
    request = sample_requests(municipality, replica)[CertificateType.KOSEKI_FULL]
    with CaptureQueriesContext(connection) as queries:
        render(request)
    koseki_reads = [q for q in queries if 'FROM "registry_koseki"' in q["sql"]]
    assert len(koseki_reads) == 1


@pytest.mark.parametrize("certificate_type", list(CertificateType.values))
def test_a_stop_or_unmapped_character_recorded_between_renderings_stops_the_next(
        municipality, replica, certificate_type):  # noqa: F811
    """The same request object rendered again after the replica changed: nothing of the first
    rendering is remembered (住民基本台帳法 第12条第6項; 住民基本台帳法施行令 第30条の2)."""
    request = sample_requests(municipality, replica).get(certificate_type)
    if request is None:
        pytest.skip("no kind renders this type")
    render(request)
    stop = IssuanceStop.objects.create(municipality=municipality, resident=request.resident, stop_number="S1",
                                       reason="本人申出", starts_on=datetime.date(2020, 1, 1))
    with pytest.raises(PersonSelectionError):
        render(request)
    stop.delete()
    render(request)
    UnmappedCharacter.objects.create(municipality=municipality, record="resident", record_key=["x"], field="name",
                                     vendor_code="F040", character="\ue000",
                                     person_number=request.resident.person_number)
    with pytest.raises(PersonSelectionError, match="F040"):
        render(request)


def test_a_support_measure_against_the_requester_recorded_between_renderings_refuses(
        municipality, replica):  # noqa: F811
    """A 支援措置 naming the requester as 相手方, on a person the certificate shows (住民基本台帳事務処理要領
    第6-10; 住民基本台帳法 第12条第6項): read on the next rendering of the same request object."""
    request = sample_requests(municipality, replica)[CertificateType.RESIDENCE]
    render(request)
    shown = Resident.objects.filter(household=request.resident.household_id).exclude(pk=request.resident.pk).first()
    SupportMeasure.objects.create(municipality=municipality, resident=shown, measure_number="M1", kind="dv",
                                  starts_on=datetime.date(2020, 1, 1),
                                  perpetrators=[{"person_number": request.resident.person_number}])
    with pytest.raises(PersonSelectionError):
        render(request)
