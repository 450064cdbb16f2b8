"""Statistics from the aggregate tables: maintained by the events, rebuilt, shown, exported."""

import datetime
import io
import zipfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from madoguchi.applications import actions
from madoguchi.operations import stats
from madoguchi.operations.models import AreaMonthStat, AuditAction, AuditEvent, DailyStat, HourlyStat, Metric
from madoguchi.tenancy.models import Role

from .boundary import answered, refused_kindly
from .conftest import make_municipality, make_resident
from .flow import received
from .test_backoffice import make_staff, signed_in

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/office/operations/statistics/"


@pytest.fixture
def manager(municipality):
    return make_staff(municipality, "manager", Role.MANAGER)


def _snapshot(municipality):
    hourly = sorted(HourlyStat.objects.filter(municipality=municipality).values_list(
        "day", "hour", "office_hours", "metric", "certificate_type", "channel", "requests", "copies"))
    daily = sorted(DailyStat.objects.filter(municipality=municipality).values_list(
        "day", "metric", "certificate_type", "channel", "reason", "requests", "copies", "fee", "postage"))
    areas = sorted(AreaMonthStat.objects.filter(municipality=municipality).values_list(
        "month", "certificate_type", "channel", "area", "requests", "copies"))
    return hourly, daily, areas


def test_area_of_an_address():
    m = make_municipality()
    assert stats.area_of("東京都窓口市本町一丁目2番3号", m) == "本町一丁目"
    assert stats.area_of("窓口市大字上野12番地", m) == "大字上野"
    assert stats.area_of("東京都窓口市緑が丘3-4-5", m) == "緑が丘"
    assert stats.area_of("神奈川県横浜市中区1-1", m) == "市外"
    assert stats.area_of("", m) == ""


def test_office_hours_follow_the_calendar():
    hours = stats.OfficeHours([])
    tz = timezone.get_current_timezone()
    assert hours(datetime.datetime(2026, 11, 27, 8, 30, tzinfo=tz))  # Friday
    assert not hours(datetime.datetime(2026, 11, 27, 8, 29, tzinfo=tz))
    assert not hours(datetime.datetime(2026, 11, 27, 17, 15, tzinfo=tz))
    assert not hours(datetime.datetime(2026, 11, 28, 10, 0, tzinfo=tz))  # Saturday
    assert not hours(datetime.datetime(2026, 11, 23, 10, 0, tzinfo=tz))  # 勤労感謝の日
    assert not stats.OfficeHours(["2026-11-27"])(datetime.datetime(2026, 11, 27, 10, 0, tzinfo=tz))


def test_events_maintain_the_aggregates_and_rebuild_gives_the_same(municipality, resident, manager):
    first = received(municipality, resident, copies=2)
    second = received(municipality, resident)
    actions.approve(first, manager)
    actions.record_printed([first], manager)
    actions.reject(second, manager, "本人確認できないため")
    received_row = DailyStat.objects.get(metric=Metric.RECEIVED)
    assert (received_row.requests, received_row.copies) == (2, 3)
    assert received_row.fee == 300 * 3 and received_row.postage == 220
    assert received_row.channel == "web"
    assert AreaMonthStat.objects.get().area == "本町一丁目" and AreaMonthStat.objects.get().requests == 2
    assert DailyStat.objects.get(metric=Metric.ISSUED).copies == 2
    assert DailyStat.objects.get(metric=Metric.REJECTED).requests == 1
    assert HourlyStat.objects.filter(metric=Metric.RECEIVED).aggregate(n=__import__(
        "django.db.models", fromlist=["Sum"]).Sum("requests"))["n"] == 2
    before = _snapshot(municipality)
    assert stats.rebuild(municipality) > 0
    assert _snapshot(municipality) == before
    DailyStat.objects.all().delete()
    AreaMonthStat.objects.all().delete()
    call_command("stats", "rebuild", "--municipality", municipality.code)
    assert _snapshot(municipality) == before
    with pytest.raises(CommandError):
        call_command("stats", "rebuild", "--municipality", "000000\x00")


def test_the_page_shows_charts_and_tables_and_exports(municipality, resident, manager):
    request = received(municipality, resident)
    actions.approve(request, manager)
    client = signed_in(manager)
    response = client.get(URL)
    page = response.content.decode()
    assert response.status_code == 200
    # No inline script (office.js is a static file) and no inline style.
    assert "<svg" in page and "<script>" not in page and "style=" not in page
    assert "時間帯別の受付件数" in page and "本町一丁目" in page and "住民票の写し" in page
    today = timezone.localdate().isoformat()
    query = {"date_from": today, "date_to": today}
    csv_text = client.get(URL, dict(query, export="csv")).content.decode("utf-8")
    assert "時間帯別の受付件数" in csv_text and "本町一丁目,1" in csv_text
    xlsx = client.get(URL, dict(query, export="xlsx"))
    assert zipfile.is_zipfile(io.BytesIO(xlsx.content))
    book = load_workbook(io.BytesIO(xlsx.content))
    assert len(book.sheetnames) == 8 and book.worksheets[4]["B3"].value == 1
    opendata = client.get(URL, dict(query, export="opendata")).content.decode("utf-8")
    assert "本町" not in opendata and "residence_certificate,web,received,1,1" in opendata
    assert AuditEvent.objects.filter(action=AuditAction.STATISTICS_EXPORTED).count() == 3


def test_filters_and_other_municipalities(municipality, resident, manager):
    received(municipality, resident)
    other = make_municipality(code="082082", name="龍ケ崎市", prefecture="茨城県")
    received(other, make_resident(other, "鈴木 一郎", address="茨城県龍ケ崎市米町二丁目1番1号"))
    client = signed_in(manager)
    page = client.get(URL).content.decode()
    assert "米町二丁目" not in page and "本町一丁目" in page
    page = client.get(URL, {"channel": "line"}).content.decode()
    assert "本町一丁目" not in page


@pytest.mark.parametrize("params", [
    {"date_from": "2026-05-01", "date_to": "2026-01-01"}, {"date_from": "\x00"}, {"date_to": "99999-01-01"},
    {"certificate_type": "x" * 10_000}, {"channel": "fax"}, {"date_from": "1000-01-01", "date_to": "2026-01-01"},
])
def test_bad_filters_are_form_errors(municipality, manager, params):
    client = signed_in(manager)
    response = client.get(URL, params)
    assert refused_kindly(response)
    response = client.get(URL, dict(params, export="xlsx"))
    assert answered(response) and response["Content-Type"].startswith("text/html")


def test_raw_bad_bytes_in_the_query(municipality, manager):
    client = signed_in(manager)
    for query in ["date_from=%ED%A0%80", "channel=%00", "certificate_type=%ff%fe&export=csv"]:
        assert answered(client.get(URL + "?" + query))


def test_clerks_do_not_see_statistics(municipality):
    assert signed_in(make_staff(municipality, "clerk")).get(URL).status_code == 403


def test_url_name():
    assert reverse("operations_office:statistics") == URL
