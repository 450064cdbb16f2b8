"""Searching and exporting the audit trail and the access log; decisions written to the trail."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from madoguchi.operations import audit
from madoguchi.operations.chain import verify_chain
from madoguchi.operations.models import AccessLog, AuditAction, AuditEvent, Log
from madoguchi.tenancy.models import Role

from .boundary import answered, refused_kindly
from .conftest import make_municipality, make_resident
from .flow import received
from .test_backoffice import make_staff, signed_in

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/office/operations/logs/"


@pytest.fixture
def manager(municipality):
    return make_staff(municipality, "manager", Role.MANAGER)


@pytest.fixture
def auditor(municipality):
    return make_staff(municipality, "auditor", Role.AUDITOR)


def test_url_name():
    assert reverse("operations_office:logs") == URL


def test_a_decision_in_the_back_office_is_in_the_audit_trail(municipality, resident, manager):
    request = received(municipality, resident)
    client = signed_in(manager)
    client.post(reverse("backoffice:approve", args=[request.public_id]))
    event = AuditEvent.objects.get(action=AuditAction.APPROVED)
    assert event.actor == manager and event.resident == resident
    assert event.target_label == request.formatted_reception_number and event.ip_address == "127.0.0.1"
    # A refused decision (approving twice) writes nothing more.
    client.post(reverse("backoffice:approve", args=[request.public_id]))
    assert AuditEvent.objects.filter(action=AuditAction.APPROVED).count() == 1
    assert verify_chain(Log.AUDIT, municipality.pk).ok


def test_auditor_searches_by_person_staff_action_and_period_and_the_search_is_recorded(
        municipality, resident, manager, auditor):
    request = received(municipality, resident)
    other_person = make_resident(municipality, "佐藤 次郎")
    audit.record(AuditAction.APPROVED, actor=manager, target=request)
    audit.record(AuditAction.REJECTED, actor=manager, target=("x", 1, "other"), resident=other_person)
    client = signed_in(auditor)
    today = timezone.localdate().isoformat()
    page = client.get(URL, {"log": "audit", "person": "山田", "date_from": today, "date_to": today,
                            "staff": manager.pk, "action": "approved"}).content.decode()
    assert request.formatted_reception_number in page and "other" not in page
    searched = AuditEvent.objects.get(action=AuditAction.LOG_SEARCHED)
    assert searched.actor == auditor
    assert f'"persons":[{resident.pk}]' in searched.after and "山田" not in searched.after
    # By 宛名番号, in the access log.
    client.get(reverse("backoffice:queue"))
    page = client.get(URL, {"log": "access", "person": resident.person_number}).content.decode()
    assert "該当する記録はありません" in page  # the queue view names nobody in particular
    page = client.get(URL, {"log": "access", "action": "view_queue"}).content.decode()
    assert "受付一覧の表示" in page
    # Yesterday's period finds nothing.
    yesterday = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    page = client.get(URL, {"log": "audit", "date_to": yesterday, "action": "approved"}).content.decode()
    assert request.formatted_reception_number not in page


def test_export_is_csv_for_excel_and_recorded(municipality, resident, manager):
    request = received(municipality, resident)
    audit.record(AuditAction.SETTING_CHANGED, actor=manager, target=("catalog.fee", 1, "=HYPERLINK(\"x\")"),
                 before={"amount": 300}, after={"amount": 10})
    audit.record(AuditAction.APPROVED, actor=manager, target=request)
    response = signed_in(manager).get(URL, {"log": "audit", "export": "csv"})
    assert response["Content-Type"].startswith("text/csv") and "no-store" in response["Cache-Control"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff連番,日時,職員,操作")
    assert "'=HYPERLINK" in text and "山田 花子" in text and '{""amount"":300}' in text
    exported = AuditEvent.objects.get(action=AuditAction.LOG_EXPORTED)
    assert '"rows":3' in exported.after  # the manager's sign-in and the two events recorded above


def test_clerks_and_strangers_cannot_read_logs(municipality, manager):
    clerk = make_staff(municipality, "clerk")
    assert signed_in(clerk).get(URL).status_code == 403
    from django.test import Client

    assert Client().get(URL).status_code == 302
    assert not AuditEvent.objects.filter(action=AuditAction.LOG_SEARCHED).exists()


def test_another_municipalitys_rows_and_staff_are_out_of_reach(municipality, manager):
    other = make_municipality(code="082082", name="龍ケ崎市", prefecture="茨城県")
    other_manager = make_staff(other, "other-manager", Role.MANAGER)
    other_resident = make_resident(other, "鈴木 一郎")
    audit.record(AuditAction.SETTING_CHANGED, actor=other_manager, resident=other_resident,
                 target=("catalog.fee", 9, "other-town-fee"))
    client = signed_in(manager)
    page = client.get(URL, {"log": "audit"}).content.decode()
    assert "other-town-fee" not in page
    response = client.get(URL, {"log": "audit", "staff": other_manager.pk})
    assert response.status_code == 200 and "表示されている選択肢から選んでください" in response.content.decode()
    page = client.get(URL, {"log": "audit", "person": "鈴木"}).content.decode()
    assert "other-town-fee" not in page


@pytest.mark.parametrize("params", [
    {"person": "山田\x00"},
    {"person": "あ" * 5000},
    {"date_from": "2026-05-01", "date_to": "2026-04-01"},
    {"date_from": "1900-01-01", "date_to": "2026-01-01"},
    {"date_from": "99999-01-01"},
    {"date_from": "2026-02-30"},
    {"date_to": "\x00"},
    {"staff": "99999999999999999999999"},
    {"staff": "abc"},
    {"staff": "-1"},
    {"action": "drop table"},
    {"log": "secret"},
    {"log": ["audit", "access"], "action": "承認"},
])
def test_bad_search_input_is_a_form_error_never_a_500(municipality, manager, params):
    client = signed_in(manager)
    response = client.get(URL, params)
    assert refused_kindly(response)
    assert not AuditEvent.objects.filter(action=AuditAction.LOG_SEARCHED).exists()


@pytest.mark.parametrize("query", ["person=%ED%A0%80", "staff=%00&date_from=%ff%fe", "action=%ED%BF%BF&log=audit",
                                   "person=%F4%90%80%80", "date_to=%ED%A0%80"])
def test_lone_surrogates_in_the_raw_query_string_do_not_break_the_page(municipality, manager, query):
    client = signed_in(manager)
    response = client.get(URL + "?" + query)
    assert answered(response)


def test_access_log_rows_name_staff_and_person(municipality, resident, manager):
    request = received(municipality, resident)
    client = signed_in(manager)
    client.get(reverse("backoffice:detail", args=[request.public_id]))
    assert AccessLog.objects.filter(action="view_request", resident=resident).exists()
    response = client.get(URL, {"log": "access", "person": "花子", "export": "csv"})
    text = response.content.decode()
    assert "申請の表示" in text and request.formatted_reception_number in text and resident.person_number in text


def test_a_partial_refund_is_in_the_audit_trail(municipality, resident):
    request = received(municipality, resident, copies=3)
    client = signed_in(make_staff(municipality, "clerk"))
    client.post(reverse("backoffice:refund_copies", args=[request.public_id]), {"issuable_copies": "2"})
    event = AuditEvent.objects.get(action=AuditAction.PARTIAL_REFUND)
    assert event.resident == resident and '"copies":3' in event.before and '"refund":300' in event.after
    client.post(reverse("backoffice:refund_copies", args=[request.public_id]), {"issuable_copies": "9"})
    assert AuditEvent.objects.filter(action=AuditAction.PARTIAL_REFUND).count() == 1
