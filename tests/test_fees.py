"""Fee rules: fee per certificate × channel × period, campaigns, postage, 条例 exemptions; the
amount shown is the amount charged. Property-based tests for totals and period boundaries."""

import datetime

import pytest
from django.db import IntegrityError
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.applications import actions
from madoguchi.applications.models import CertificateRequest
from madoguchi.catalog import services as catalog
from madoguchi.catalog.models import CertificateType, Fee, FeeChannel, FeeExemption, PostageClass

from .flow import RESIDENCE_OPTIONS, draft, sign, start_payment

pytestmark = pytest.mark.django_db
RESIDENCE = CertificateType.RESIDENCE
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
DAYS = st.dates(min_value=datetime.date(2025, 1, 1), max_value=datetime.date(2027, 12, 31))


def only_fees(municipality, *rows):
    Fee.objects.filter(municipality=municipality).delete()
    for row in rows:
        Fee.objects.create(municipality=municipality, certificate_type=RESIDENCE, channel=FeeChannel.ONLINE, **row)


@PROPERTY
@given(start=DAYS, length=st.integers(0, 400), day=DAYS, campaign=st.integers(0, 299))
def test_campaign_applies_exactly_from_its_first_to_its_last_day(municipality, start, length, day, campaign):
    end = start + datetime.timedelta(days=length)
    only_fees(municipality, dict(amount=300),
              dict(amount=campaign, valid_from=start, valid_until=end, campaign_name="10円キャンペーン"))
    expected = campaign if start <= day <= end else 300
    assert catalog.fee_for(municipality, RESIDENCE, FeeChannel.ONLINE, day) == expected
    for edge, inside in ((start - datetime.timedelta(days=1), False), (start, True), (end, True),
                         (end + datetime.timedelta(days=1), False)):
        assert catalog.fee_for(municipality, RESIDENCE, FeeChannel.ONLINE, edge) == (campaign if inside else 300)


@PROPERTY
@given(change=DAYS, day=DAYS)
def test_a_fee_revision_takes_over_on_its_first_day(municipality, change, day):
    """A standing fee ends the day before the revised one starts (both rows without campaign)."""
    only_fees(municipality, dict(amount=300, valid_until=change - datetime.timedelta(days=1)),
              dict(amount=350, valid_from=change))
    assert catalog.fee_for(municipality, RESIDENCE, FeeChannel.ONLINE, day) == (350 if day >= change else 300)


@PROPERTY
@given(fee=st.integers(0, 5000), copies=st.integers(1, catalog.MAX_COPIES), postage=st.integers(0, 2000))
def test_the_total_is_fee_times_copies_plus_postage_and_is_what_is_charged(municipality, resident, fee, copies,
                                                                          postage):
    only_fees(municipality, dict(amount=fee))
    PostageClass.objects.filter(municipality=municipality, code="regular").update(amount=postage)
    q = catalog.quote(municipality, RESIDENCE, copies, "regular", datetime.date.today(), purpose="bank")
    assert q.total == fee * copies + postage == q.fee_total + q.postage_amount
    request = draft(municipality, copies=copies, shown_total=q.total)
    assert (request.fee_per_copy, request.postage_amount, request.total_amount) == (fee, postage, q.total)


def test_payment_amount_is_the_amount_shown_even_if_the_campaign_ends_before_paying(municipality, resident):
    today = datetime.date.today()
    only_fees(municipality, dict(amount=300), dict(amount=10, valid_from=today, valid_until=today))
    request = sign(draft(municipality), resident)
    assert request.total_amount == 10 + 110
    Fee.objects.filter(amount=10).update(valid_until=today - datetime.timedelta(days=1), valid_from=today
                                         - datetime.timedelta(days=2))  # the campaign is over
    start_payment(request)
    assert request.payments.get().amount == 120


@pytest.mark.parametrize("copies", [0, -1, catalog.MAX_COPIES + 1])
def test_copies_outside_1_to_10_are_refused(municipality, copies):
    with pytest.raises(catalog.CatalogError, match="1通から10通"):
        catalog.quote(municipality, RESIDENCE, copies, "regular", datetime.date.today(), purpose="bank")


def test_unknown_postage_class_and_missing_fee_are_refused(municipality):
    with pytest.raises(catalog.CatalogError, match="郵送方法"):
        catalog.quote(municipality, RESIDENCE, 1, "drone", datetime.date.today(), purpose="bank")
    only_fees(municipality)
    with pytest.raises(catalog.CatalogError, match="オンラインで申請できません"):
        catalog.quote(municipality, RESIDENCE, 1, "regular", datetime.date.today(), purpose="bank")


def test_database_refuses_a_period_that_ends_before_it_starts(municipality):
    with pytest.raises(IntegrityError):
        Fee.objects.create(municipality=municipality, certificate_type=RESIDENCE, channel=FeeChannel.ONLINE,
                           amount=10, valid_from=datetime.date(2026, 5, 1), valid_until=datetime.date(2026, 4, 30))


def test_postage_classes_change_the_total(municipality):
    for code, name, amount in (("express", "速達", 110 + 300), ("simple_registered", "簡易書留", 110 + 350)):
        PostageClass.objects.create(municipality=municipality, code=code, name=name, amount=amount)
        quote = catalog.quote(municipality, RESIDENCE, 2, code, datetime.date.today(), purpose="bank")
        assert quote.total == 600 + amount


# --- exemptions ---------------------------------------------------------------------------------------

REASON = "窓口市手数料条例第5条第1項第2号(公的年金の請求)"


def test_exempt_purpose_waives_the_fee_and_keeps_the_reason_on_the_request(municipality):
    FeeExemption.objects.create(municipality=municipality, purpose="pension", reason=REASON)
    q = catalog.quote(municipality, RESIDENCE, 2, "regular", datetime.date.today(), purpose="pension")
    assert (q.fee_per_copy, q.total, q.exemption_reason) == (0, 110, REASON)
    request = draft(municipality, purpose="pension", copies=2)
    assert (request.total_amount, request.fee_exemption_reason) == (110, REASON)
    other = draft(municipality, purpose="bank")
    assert (other.total_amount, other.fee_exemption_reason) == (410, "")


def test_exemption_limited_to_a_type_and_a_period(municipality):
    today = datetime.date.today()
    FeeExemption.objects.create(municipality=municipality, purpose="pension", reason=REASON,
                                certificate_type=CertificateType.TAX, valid_until=today)
    assert catalog.exemption_for(municipality, RESIDENCE, "pension", today) == ""
    assert catalog.exemption_for(municipality, CertificateType.TAX, "pension", today) == REASON
    assert catalog.exemption_for(municipality, CertificateType.TAX, "pension",
                                 today + datetime.timedelta(days=1)) == ""


def test_exemptions_of_another_municipality_do_not_apply(municipality, other_municipality):
    FeeExemption.objects.create(municipality=other_municipality, purpose="pension", reason=REASON)
    assert catalog.quote(municipality, RESIDENCE, 1, "regular", datetime.date.today(),
                         purpose="pension").total == 410


# --- what the resident sees ------------------------------------------------------------------------

def _wizard_to_confirm(client, municipality, purpose="bank"):
    session = client.session
    session[f"apply:{municipality.code}"] = {
        "certificate_type": RESIDENCE, "options": RESIDENCE_OPTIONS, "copies": 1, "purpose": purpose,
        "postage_class": "regular", "notice_email": ""}
    session.save()


def test_confirmation_shows_the_campaign_and_refuses_a_changed_total(municipality):
    today = datetime.date.today()
    only_fees(municipality, dict(amount=300), dict(amount=10, valid_from=today, valid_until=today,
                                                   campaign_name="オンライン申請10円キャンペーン"))
    client = Client()
    _wizard_to_confirm(client, municipality)
    page = client.get(reverse("web:apply_confirm", args=[municipality.code]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "オンライン申請10円キャンペーン" in text and 'name="shown_total" value="120"' in text
    for shown in ("410", "abc", "-1", "9" * 20):
        response = client.post(reverse("web:apply_confirm", args=[municipality.code]), {"shown_total": shown},
                               follow=True)
        assert "料金が変更されました" in response.content.decode()
    assert not CertificateRequest.objects.exists()
    client.post(reverse("web:apply_confirm", args=[municipality.code]), {"shown_total": "120"})
    assert CertificateRequest.objects.get().total_amount == 120


def test_create_draft_refuses_a_total_other_than_the_one_shown(municipality):
    with pytest.raises(actions.ActionError, match="料金が変更されました"):
        actions.create_draft(municipality, certificate_type=RESIDENCE, options=RESIDENCE_OPTIONS, copies=1,
                             purpose="bank", purpose_detail="", postage_class="regular", shown_total=409)
    assert not CertificateRequest.objects.exists()
