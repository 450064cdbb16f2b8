"""One quote for every channel: the web confirmation page, the LINE summary and the amount charged
are the same for every certificate kind, purpose (条例 exemptions included), postage class, number
of copies and day (inside and outside a campaign)."""

import datetime
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.applications.models import RequestChannel
from madoguchi.catalog.models import CertificateType, Fee, FeeChannel, FeeExemption, PostageClass
from madoguchi.catalog.services import PURPOSES
from madoguchi.documents.kinds import all_kinds
from madoguchi.line.conversation import CONFIRM, Engine
from madoguchi.line.models import Conversation, LineUser

from .flow import draft, sign, start_payment
from .line_helpers import make_channel

CAMPAIGN = (datetime.date(2026, 4, 1), datetime.date(2026, 6, 30))
EXEMPT_FROM = datetime.date(2026, 5, 1)
DAYS = st.dates(min_value=datetime.date(2026, 3, 1), max_value=datetime.date(2026, 8, 31))


@pytest.fixture
def catalog_with_campaign_and_exemption(municipality):
    Fee.objects.create(municipality=municipality, certificate_type=CertificateType.RESIDENCE,
                       channel=FeeChannel.ONLINE, amount=10, valid_from=CAMPAIGN[0], valid_until=CAMPAIGN[1],
                       campaign_name="オンライン申請10円キャンペーン")
    FeeExemption.objects.create(municipality=municipality, purpose="pension", reason="手数料条例第5条第2号",
                                valid_from=EXEMPT_FROM)
    FeeExemption.objects.create(municipality=municipality, purpose="employment", reason="手数料条例第5条第3号",
                                certificate_type=CertificateType.TAX)
    PostageClass.objects.create(municipality=municipality, code="express", name="速達", amount=410)
    return municipality


@pytest.fixture
def frozen_today(monkeypatch):
    """The municipality's calendar day seen by every channel (Django's clock, not our code)."""
    day = {"value": timezone.localdate()}
    real = timezone.localdate

    def localdate(value=None, timezone=None):
        return day["value"] if value is None else real(value, timezone)

    monkeypatch.setattr("django.utils.timezone.localdate", localdate)
    return day


def web_total(municipality, terms: dict) -> int:
    client = Client()
    session = client.session
    session[f"apply:{municipality.code}"] = terms
    session.save()
    page = client.get(reverse("web:apply_confirm", args=[municipality.code])).content.decode()
    return int(re.search(r'name="shown_total" value="(\d+)"', page).group(1))


def line_total(account, user, terms: dict) -> int:
    answers = {"certificate_type": terms["certificate_type"], "copies": terms["copies"], "purpose": terms["purpose"],
               "purpose_detail": terms["purpose_detail"], "postage_class": terms["postage_class"]}
    Conversation.objects.update_or_create(line_user=user, defaults=dict(
        municipality=account.municipality, procedure="certificate_request", step=CONFIRM, answers=answers,
        updated_at=timezone.now()))
    summary = Engine(account, user).summary().text
    return int(re.search(r"合計 (\d+)円", summary).group(1))


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from([k.code for k in all_kinds()]), purpose=st.sampled_from([p for p, _ in PURPOSES]),
       postage=st.sampled_from(["regular", "express"]), copies=st.integers(1, 10), day=DAYS)
def test_web_line_and_the_charge_agree(catalog_with_campaign_and_exemption, resident, frozen_today,
                                       kind, purpose, postage, copies, day):
    municipality = catalog_with_campaign_and_exemption
    frozen_today["value"] = day
    account = municipality.line_account if hasattr(municipality, "line_account") else make_channel(municipality)
    user, _ = LineUser.objects.get_or_create(municipality=municipality, user_id="U" + "c" * 32)
    terms = {"certificate_type": kind, "options": {}, "copies": copies, "purpose": purpose,
             "purpose_detail": "転職先への提出" if purpose == "other" else "", "postage_class": postage}
    on_web = web_total(municipality, terms)
    in_line = line_total(account, user, terms)
    request = draft(municipality, channel=RequestChannel.LINE, shown_total=in_line,
                    **{k: v for k, v in terms.items()})
    start_payment(sign(request, resident))
    charged = request.payments.get().amount
    assert on_web == in_line == charged == request.total_amount
    # And the amount is the catalog's rule, not merely the same mistake everywhere.
    exempt = (purpose == "pension" and day >= EXEMPT_FROM) or (purpose == "employment" and kind == "tax_certificate")
    campaign = kind == CertificateType.RESIDENCE and CAMPAIGN[0] <= day <= CAMPAIGN[1]
    fee = 0 if exempt else 10 if campaign else 300
    assert charged == fee * copies + (110 if postage == "regular" else 410)
