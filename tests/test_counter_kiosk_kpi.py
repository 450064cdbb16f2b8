"""Every channel counted (窓口/郵送 registered by staff, コンビニ imported) and the KPI dashboard."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from madoguchi.applications.models import SatisfactionAnswer
from madoguchi.line.models import FriendDaily, LineUser
from madoguchi.operations import stats
from madoguchi.operations.models import (
    AreaMonthStat,
    AuditAction,
    AuditEvent,
    CounterRecord,
    DailyStat,
    KioskIssuance,
    KioskReport,
    KpiTarget,
    Metric,
)
from madoguchi.tenancy.models import Role

from .boundary import refused_kindly
from .conftest import make_municipality
from .flow import received
from .test_backoffice import make_staff, signed_in

pytestmark = pytest.mark.django_db(transaction=True)
COUNTER, KIOSK, KPI = "/office/operations/counter/", "/office/operations/kiosk/", "/office/operations/kpi/"


@pytest.fixture
def manager(municipality):
    return make_staff(municipality, "manager", Role.MANAGER)


def _now_field():
    return timezone.localtime().strftime("%Y-%m-%dT%H:%M")


def test_staff_register_counter_and_mail_requests_without_personal_data(municipality, manager):
    client = signed_in(make_staff(municipality, "clerk"))
    response = client.post(COUNTER, {"at": _now_field(), "channel": "counter", "certificate_type": "seal_certificate",
                                     "copies": 2, "fee": 600, "postage": 0, "area": "本町一丁目"})
    assert response.status_code == 302
    record = CounterRecord.objects.get()
    assert record.copies == 2 and record.area == "本町一丁目"
    issued = DailyStat.objects.get(metric=Metric.ISSUED, channel="counter")
    assert issued.copies == 2 and DailyStat.objects.get(metric=Metric.RECEIVED, channel="counter").fee == 600
    assert AuditEvent.objects.filter(action=AuditAction.COUNTER_REQUEST_REGISTERED).exists()


@pytest.mark.parametrize("data", [
    {"copies": 0}, {"copies": 101}, {"fee": -1}, {"fee": 10_000_001}, {"channel": "kiosk"},
    {"certificate_type": "passport"}, {"at": "2099-01-01T00:00"}, {"at": "2000-01-01T00:00"}, {"at": "\x00"},
    {"area": "x" * 61}, {"area": "本町\x00"}, {"copies": "1e9"},
])
def test_bad_counter_input_is_refused(municipality, manager, data):
    form = {"at": _now_field(), "channel": "counter", "certificate_type": "seal_certificate", "copies": 1,
            "fee": 300, "postage": 0}
    form.update(data)
    response = signed_in(manager).post(COUNTER, form)
    assert refused_kindly(response)
    assert not CounterRecord.objects.exists() and not DailyStat.objects.exists()


def _report(municipality, day="20261120", lines=None):
    lines = lines or [f"{day},091500,{municipality.code},01,1,200,1",
                      f"{day},181000,{municipality.code},04,2,900,2"]
    header = "交付年月日,交付時刻,団体コード,種別,通数,手数料,住登区分\r\n"
    return (header + "\r\n".join(lines) + "\r\n").encode("cp932")


def test_kiosk_report_is_imported_once_and_counted(municipality, manager):
    client = signed_in(manager)
    response = client.post(KIOSK, {"report": SimpleUploadedFile("r.csv", _report(municipality))})
    assert response.status_code == 302
    report = KioskReport.objects.get()
    assert report.rows == 2 and report.report_day == datetime.date(2026, 11, 20)
    assert KioskIssuance.objects.filter(outside=True).count() == 1
    assert AreaMonthStat.objects.get(certificate_type="koseki_full").area == "市外"
    assert DailyStat.objects.filter(channel="kiosk", metric=Metric.RECEIVED).count() == 2
    # The same file again, or another file for the same day: refused, nothing counted twice.
    same_day = _report(municipality, lines=[f"20261120,100000,{municipality.code},03,1,200,1"])
    for data in [_report(municipality), same_day]:
        page = client.post(KIOSK, {"report": SimpleUploadedFile("r.csv", data)}).content.decode()
        assert "すでに取り込まれています" in page
    assert KioskIssuance.objects.count() == 2
    before = sorted(DailyStat.objects.values_list("metric", "certificate_type", "requests", "copies", "fee"))
    areas = sorted(AreaMonthStat.objects.values_list("certificate_type", "area", "requests"))
    stats.rebuild(municipality)
    assert sorted(DailyStat.objects.values_list("metric", "certificate_type", "requests", "copies", "fee")) == before
    assert sorted(AreaMonthStat.objects.values_list("certificate_type", "area", "requests")) == areas


@pytest.mark.parametrize("data,message", [
    (b"", "ファイル"),
    (b"\x00\x01\x02", "NUL"),
    (b"\xff\xfe\xfa", "文字コード"),
    (b"20261120,091500,139998,99,1,200,1\n", "種別コード"),
    (b"20261120,091500,082082,01,1,200,1\n", "他の団体"),
    (b"20261120,251500,139998,01,1,200,1\n", "時刻"),
    (b"20261120,091500,139998,01,0,200,1\n", "通数"),
    (b"20261120,091500,139998,01,1,-5,1\n", "手数料"),
    (b"20261120,091500,139998,01,1,200,3\n", "住登区分"),
    (b"20261120,091500,139998,01,1,200\n", "項目の数"),
    (b"20261120,091500,139998,01,1,200,1\n20261121,091500,139998,01,1,200,1\n", "1日分"),
    (b"20991120,091500,139998,01,1,200,1\n", "未来"),
    ("20261120,091500,139998,01,１,200,1\n".encode(), "通数"),
    (b'"unterminated\n', ""),
])
def test_bad_kiosk_reports_are_refused_whole(municipality, manager, data, message):
    response = signed_in(manager).post(KIOSK, {"report": SimpleUploadedFile("r.csv", data)})
    assert refused_kindly(response)
    assert message in response.content.decode()
    assert not KioskReport.objects.exists() and not DailyStat.objects.exists()


def test_kiosk_import_is_for_managers(municipality):
    assert signed_in(make_staff(municipality, "clerk")).get(KIOSK).status_code == 403


def test_kpi_dashboard_against_targets(municipality, resident, manager):
    for i in range(3):
        LineUser.objects.create(municipality=municipality, user_id=f"U{i}", following=i < 2)
    FriendDaily.objects.create(municipality=municipality, day=timezone.localdate(), follows=3, unfollows=1)
    request = received(municipality, resident)
    SatisfactionAnswer.objects.create(municipality=municipality, request=request, score=4, channel="line")
    client = signed_in(manager)
    response = client.post(KPI, {"line_friends_baseline": "530", "line_friends_target": "1100",
                                 "satisfaction_baseline": "3.6", "satisfaction_target": "4.7"})
    assert response.status_code == 302
    assert KpiTarget.objects.get(kpi="line_friends").target == 1100
    changed = AuditEvent.objects.filter(action=AuditAction.SETTING_CHANGED)
    assert changed.count() == 2 and '"target":"1100.00"' in changed.get(target_id="line_friends").after
    page = client.get(KPI).content.decode()
    assert "LINE友だち数" in page and "1100" in page and "4.00" in page
    assert "<svg" in page and "<script>" not in page  # no inline script (office.js is a static file)
    # Online requests this month: the one received on the web.
    assert '<th scope="row">オンライン申請件数(月)</th><td>1</td>' in page
    # Saving the same values again writes no new audit event.
    client.post(KPI, {"line_friends_baseline": "530", "line_friends_target": "1100",
                      "satisfaction_baseline": "3.6", "satisfaction_target": "4.7"})
    assert AuditEvent.objects.filter(action=AuditAction.SETTING_CHANGED).count() == 2


@pytest.mark.parametrize("data", [{"satisfaction_target": "6"}, {"line_friends_target": "-1"},
                                  {"line_friends_target": "1e99"}, {"line_friends_target": "\x00"},
                                  {"online_requests_date": "2026-02-30", "online_requests_target": "5"}])
def test_bad_targets_are_refused(municipality, manager, data):
    response = signed_in(manager).post(KPI, data)
    assert refused_kindly(response)
    assert not KpiTarget.objects.exists()


def test_auditors_read_kpis_but_do_not_set_targets(municipality):
    client = signed_in(make_staff(municipality, "auditor", Role.AUDITOR))
    assert client.get(KPI).status_code == 200
    assert client.post(KPI, {"line_friends_target": "1"}).status_code == 403


def test_another_municipality_sees_its_own_kpis(municipality, manager):
    other = make_municipality(code="082082", name="龍ケ崎市", prefecture="茨城県")
    LineUser.objects.create(municipality=other, user_id="U1")
    page = signed_in(manager).get(KPI).content.decode()
    assert '<th scope="row">LINE友だち数</th><td>0</td>' in page
