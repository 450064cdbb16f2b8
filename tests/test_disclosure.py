"""開示請求: the issuance history of a person, its review (第78条) and its export."""

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from madoguchi.applications import actions
from madoguchi.operations.models import AccessLog, AuditAction, AuditEvent, DisclosureCase, IssuedSubject
from madoguchi.tenancy.models import Role

from .boundary import answered, refused_kindly
from .conftest import make_municipality, make_resident
from .flow import received
from .test_backoffice import make_staff, signed_in

pytestmark = pytest.mark.django_db(transaction=True)
SEARCH = "/office/operations/disclosure/"
HOUSEHOLD = {"scope": "household", "members": "", "show_relationship": True, "show_honseki": False}


@pytest.fixture
def family(municipality):
    head = make_resident(municipality, "山田 太郎")
    child = make_resident(municipality, "山田 花子", household=head.household, relationship="子",
                          date_of_birth=__import__("datetime").date(1990, 5, 5))
    return head, child


@pytest.fixture
def manager(municipality):
    return make_staff(municipality, "manager", Role.MANAGER)


def _issue(request, staff):
    actions.approve(request, staff)
    actions.record_printed([request], staff)
    request.refresh_from_db()
    return request


def test_the_history_finds_certificates_naming_the_person_not_only_their_own(municipality, family, manager):
    head, child = family
    by_child = _issue(received(municipality, child, options=HOUSEHOLD), manager)  # names the head too
    own = _issue(received(municipality, head), manager)
    not_issued = received(municipality, head)  # received, never issued
    assert set(IssuedSubject.objects.filter(request=by_child).values_list("resident_id", flat=True)) == {
        head.pk, child.pk}
    page = signed_in(manager).get(SEARCH, {"person_number": head.person_number}).content.decode()
    assert by_child.formatted_reception_number in page and own.formatted_reception_number in page
    assert not_issued.formatted_reception_number not in page
    assert "山田 花子" in page  # who obtained it, for the reviewer
    event = AuditEvent.objects.get(action=AuditAction.DISCLOSURE_SEARCHED)
    assert event.resident == head and '"found":2' in event.after
    assert AccessLog.objects.filter(action="view_disclosure", resident=head).exists()


def test_filters_by_kind_channel_and_period(municipality, family, manager):
    head, _child = family
    request = _issue(received(municipality, head), manager)
    client = signed_in(manager)
    issued_on = request.events.get(to_state="issued").at.astimezone().date()
    assert request.formatted_reception_number in client.get(SEARCH, {
        "person_number": head.person_number, "certificate_type": "residence_certificate", "channel": "web",
        "date_from": issued_on.isoformat(), "date_to": issued_on.isoformat()}).content.decode()
    for params in [{"certificate_type": "koseki_full"}, {"channel": "line"},
                   {"date_to": "2020-01-01"}]:
        page = client.get(SEARCH, dict(params, person_number=head.person_number)).content.decode()
        assert request.formatted_reception_number not in page


def test_review_marks_what_is_not_disclosed_before_export(municipality, family, manager):
    head, child = family
    by_child = _issue(received(municipality, child, options=HOUSEHOLD), manager)
    own = _issue(received(municipality, head), manager)
    client = signed_in(manager)
    response = client.post(SEARCH, {"person_number": head.person_number, "reference": "R8-開示-12"})
    case = DisclosureCase.objects.get()
    assert response.status_code == 302 and case.reference == "R8-開示-12"
    items = {i.request_id: i for i in case.items.all()}
    assert items[by_child.pk].requester_withheld and items[by_child.pk].reason == "78-1-2"
    assert not items[own.pk].requester_withheld
    export = reverse("operations_office:disclosure_export", args=[case.pk, "csv"])
    assert client.get(export).status_code == 302  # not reviewed yet
    assert not AuditEvent.objects.filter(action=AuditAction.DISCLOSURE_EXPORTED).exists()
    page = reverse("operations_office:disclosure_case", args=[case.pk])
    # Withholding without naming the article is refused.
    response = client.post(page, {f"withheld_{items[own.pk].pk}": "1", f"reason_{items[own.pk].pk}": ""})
    assert "根拠" in response.content.decode()
    case.refresh_from_db()
    assert case.reviewed_at is None
    client.post(page, {f"requester_{items[by_child.pk].pk}": "1", f"reason_{items[by_child.pk].pk}": "78-1-2"})
    case.refresh_from_db()
    assert case.reviewed_by == manager
    text = client.get(export).content.decode("utf-8")
    assert "山田 花子" not in text and "不開示 第78条第1項第2号" in text and "本人" in text
    assert by_child.formatted_reception_number in text
    pdf = client.get(reverse("operations_office:disclosure_export", args=[case.pk, "pdf"]))
    assert pdf["Content-Type"] == "application/pdf" and "no-store" in pdf["Cache-Control"]
    reader = PdfReader(io.BytesIO(pdf.content))
    assert len(reader.pages) >= 1
    assert [e.action for e in AuditEvent.objects.filter(action__startswith="disclosure").order_by("seq")] == [
        "disclosure_searched", "disclosure_reviewed", "disclosure_exported", "disclosure_exported"]


def test_another_municipalitys_person_and_cases_are_out_of_reach(municipality, family, manager):
    other = make_municipality(code="082082", name="龍ケ崎市", prefecture="茨城県")
    stranger = make_resident(other, "鈴木 一郎")
    other_manager = make_staff(other, "other-manager", Role.MANAGER)
    client = signed_in(other_manager)
    client.post(SEARCH, {"person_number": stranger.person_number})
    case = DisclosureCase.objects.get()
    mine = signed_in(manager)
    page = mine.get(SEARCH, {"person_number": stranger.person_number}).content.decode()
    assert "見つかりません" in page
    assert mine.get(reverse("operations_office:disclosure_case", args=[case.pk])).status_code == 404
    assert mine.post(reverse("operations_office:disclosure_case", args=[case.pk]), {}).status_code == 404
    assert mine.get(reverse("operations_office:disclosure_export", args=[case.pk, "csv"])).status_code == 404
    assert mine.get(reverse("operations_office:disclosure_export", args=[case.pk, "xls"])).status_code == 404


@pytest.mark.parametrize("params", [
    {"person_number": "\x00"}, {"person_number": "abc"}, {"person_number": "1" * 5000},
    {"person_number": "1", "date_from": "2026-05-01", "date_to": "2026-01-01"},
    {"person_number": "1", "date_from": "0000-01-01"}, {"person_number": "1", "certificate_type": "passport"},
    {"person_number": "1", "channel": "fax"}, {"person_number": "1", "reference": "x" * 500},
])
def test_bad_search_input_is_a_form_error(municipality, manager, params):
    response = signed_in(manager).get(SEARCH, params)
    assert refused_kindly(response)


@pytest.mark.parametrize("query", ["person_number=%ED%A0%80", "person_number=1&reference=%ED%BF%BF",
                                   "person_number=%00%00", "date_from=%ff"])
def test_lone_surrogates_and_nul_in_the_raw_query(municipality, manager, query):
    assert answered(signed_in(manager).get(SEARCH + "?" + query))


def test_forged_review_fields_are_ignored_or_refused(municipality, family, manager):
    head, _child = family
    own = _issue(received(municipality, head), manager)
    client = signed_in(manager)
    client.post(SEARCH, {"person_number": head.person_number})
    case = DisclosureCase.objects.get()
    item = case.items.get(request=own)
    page = reverse("operations_office:disclosure_case", args=[case.pk])
    response = client.post(page, {f"withheld_{item.pk}": "1", f"reason_{item.pk}": "\x00DROP",
                                  "withheld_999999": "1", "reason_999999": "78-1-2"})
    assert refused_kindly(response, "根拠")
    item.refresh_from_db()
    assert not item.withheld


def test_clerks_cannot_use_the_disclosure_pages(municipality, manager):
    clerk = make_staff(municipality, "clerk")
    assert signed_in(clerk).get(SEARCH).status_code == 403
