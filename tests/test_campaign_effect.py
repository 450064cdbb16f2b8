"""Campaign effect: channel volumes and shares before, during and after a fee campaign."""

import datetime
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone

from madoguchi.catalog.models import Fee
from madoguchi.operations import campaign
from madoguchi.operations.models import DailyStat, Metric
from madoguchi.payments.office import SimulationForm
from madoguchi.tenancy.models import Role

from .boundary import refused_kindly
from .conftest import make_municipality
from .test_backoffice import make_staff, signed_in

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/office/operations/campaign/"


def _received(municipality, day, channel, n):
    DailyStat.objects.create(municipality=municipality, day=day, metric=Metric.RECEIVED,
                             certificate_type="residence_certificate", channel=channel, requests=n, copies=n)


@pytest.fixture
def ten_yen(municipality):
    today = timezone.localdate()
    start, end = today - datetime.timedelta(days=40), today - datetime.timedelta(days=11)
    fee = Fee.objects.create(municipality=municipality, certificate_type="residence_certificate",
                             channel="convenience_store", amount=10, valid_from=start, valid_until=end,
                             campaign_name="コンビニ交付10円キャンペーン")
    _received(municipality, start - datetime.timedelta(days=5), "counter", 90)
    _received(municipality, start - datetime.timedelta(days=5), "kiosk", 10)
    _received(municipality, start + datetime.timedelta(days=3), "counter", 60)
    _received(municipality, start + datetime.timedelta(days=3), "kiosk", 40)
    _received(municipality, end + datetime.timedelta(days=3), "counter", 70)
    _received(municipality, end + datetime.timedelta(days=3), "kiosk", 30)
    _received(municipality, start + datetime.timedelta(days=3), "web", 5)
    return fee


def test_volumes_and_shares_before_during_after(municipality, ten_yen):
    before, during, after = campaign.effect(municipality, ten_yen)
    assert before.volumes["convenience_store"] == 10 and round(before.share("convenience_store")) == 10
    assert during.volumes["convenience_store"] == 40 and during.volumes["online"] == 5
    assert round(during.share("convenience_store")) == 38  # 40 of 105
    assert after.volumes["counter"] == 70 and after.end == timezone.localdate()


def test_the_page_and_the_simulation_link(municipality, ten_yen):
    client = signed_in(make_staff(municipality, "manager", Role.MANAGER))
    page = client.get(URL).content.decode()
    assert "コンビニ交付10円キャンペーン" in page and "<svg" in page and "40(38.1%)" in page
    link = page.split('href="/office/payments/simulation/?')[1].split('"')[0].replace("&amp;", "&")
    data = {k: v[0] if v else "" for k, v in parse_qs(link, keep_blank_values=True).items()}
    form = SimulationForm(data)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["convenience_store_campaign_fee"] == 10
    assert form.cleaned_data["convenience_store_volume"] == round(40 * 365 / 30)


@pytest.mark.parametrize("value", ["999999", "abc", "\x00", "1" * 40, "-1"])
def test_unknown_or_bad_campaign_ids(municipality, ten_yen, value):
    other = make_municipality(code="082082", name="龍ケ崎市", prefecture="茨城県")
    theirs = Fee.objects.create(municipality=other, certificate_type="residence_certificate", channel="online",
                                amount=10, valid_from=datetime.date(2026, 1, 1), valid_until=datetime.date(2026, 2, 1),
                                campaign_name="他市")
    client = signed_in(make_staff(municipality, "manager", Role.MANAGER))
    for candidate in (value, str(theirs.pk)):
        response = client.get(URL, {"campaign": candidate})
        assert refused_kindly(response, "見つかりません")
        assert "他市" not in response.content.decode()
    assert urlparse(URL).path == URL


def test_clerks_cannot_open_it(municipality):
    assert signed_in(make_staff(municipality, "clerk")).get(URL).status_code == 403
