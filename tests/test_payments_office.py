"""The finance pages (managers) and the clerk's partial refund, through the back office."""

import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from madoguchi.catalog.models import FeeChannel
from madoguchi.payments import services
from madoguchi.payments.contrib.sandbox.models import SandboxCharge
from madoguchi.payments.models import Refund
from madoguchi.payments.office import SimulationForm
from madoguchi.payments.simulation import ChannelLine, SimulationError, man_yen, ryugasaki_10yen, simulate
from madoguchi.tenancy.models import Role

from .flow import received
from .test_backoffice import make_staff, signed_in

pytestmark = pytest.mark.django_db(transaction=True)


# --- simulation ------------------------------------------------------------------------------------

def test_ryugasaki_10yen_campaign_is_reproduced_exactly():
    result = ryugasaki_10yen()
    assert (result.revenue_before, result.revenue_after) == (17_000_000, 9_300_000)
    assert result.revenue_change == -7_700_000  # 770万円 less
    assert (result.cost_before, result.cost_after) == (1_170_000, 3_510_000)
    assert result.cost_change == 2_340_000  # 234万円 more
    assert result.net_loss == 10_040_000  # 減収額 1,004万円
    assert man_yen(result.net_loss) == "1,004.0万円"
    assert [(line.channel, line.volume, line.fee) for line in result.after] == [
        (FeeChannel.COUNTER, 30_000, 300), (FeeChannel.CONVENIENCE_STORE, 30_000, 10)]


def test_provider_percentage_fee_is_a_cost_rounded_to_the_yen():
    result = simulate([ChannelLine(FeeChannel.COUNTER, 1000, 300),
                       ChannelLine(FeeChannel.ONLINE, 0, 300, rate_percent=Decimal("3.24"))],
                      shift={FeeChannel.ONLINE: 333}, campaign_fee={})
    assert result.after[1].cost == round(333 * 300 * 0.0324)  # 3236.76 → 3237
    assert result.revenue_change == 0


@pytest.mark.parametrize("shift", [{FeeChannel.ONLINE: 1001}, {FeeChannel.ONLINE: -1}, {FeeChannel.COUNTER: 1}])
def test_simulation_refuses_impossible_shifts(shift):
    with pytest.raises(SimulationError):
        simulate([ChannelLine(FeeChannel.COUNTER, 1000, 300)], shift=shift, campaign_fee={})


def test_simulate_command_prints_the_ryugasaki_numbers():
    out = io.StringIO()
    call_command("payments", "simulate", "--line", "counter=50000@300", "--line",
                 "convenience_store=10000@200/117", "--shift", "convenience_store=20000",
                 "--campaign-fee", "convenience_store=10", stdout=out)
    text = out.getvalue()
    assert "(-770.0万円)" in text and "(234.0万円)" in text and "減収額  1,004.0万円" in text


@pytest.mark.parametrize("args", [["--line", "counter=50000"], ["--line", "shop=1@1"],
                                  ["--line", "counter=1@300", "--shift", "online=2"],
                                  ["--line", "counter=1@300", "--shift", "online"]])
def test_simulate_command_refuses_malformed_input(args):
    with pytest.raises(CommandError):
        call_command("payments", "simulate", *args, stdout=io.StringIO())


# --- manager pages -------------------------------------------------------------------------------------

@pytest.fixture
def manager(municipality):
    return make_staff(municipality, "manager", role=Role.MANAGER)


def test_simulation_page_shows_the_ryugasaki_case_by_default(manager):
    response = signed_in(manager).get(reverse("payments_office:simulation"))
    text = response.content.decode()
    assert response.status_code == 200
    assert "1,004.0万円" in text and "-770.0万円" in text and "234.0万円" in text


def test_simulation_page_refuses_garbage_with_japanese_errors(manager):
    client = signed_in(manager)
    data = {"counter_volume": "abc", "counter_fee": "-5"}
    response = client.get(reverse("payments_office:simulation"), data)
    assert response.status_code == 200
    assert "減収額" not in response.content.decode().split("</form>")[1]
    too_many = SimulationForm.default_data()
    too_many["online_shift"] = "40000"
    response = client.get(reverse("payments_office:simulation"), too_many)
    assert "窓口から移る件数の合計が" in response.content.decode()


def test_mismatch_page_lists_the_municipalitys_mismatches_for_managers_only(municipality, other_municipality,
                                                                             manager, resident):
    payment = received(municipality, resident).payments.get()
    SandboxCharge.objects.filter(merchant_order_id=payment.order_id).update(amount=1)
    services.reconcile(municipality, timezone.localdate())
    response = signed_in(manager).get(reverse("payments_office:mismatches"))
    text = response.content.decode()
    assert payment.order_id in text and "金額の不一致" in text and "要確認" in text
    clerk = signed_in(make_staff(municipality, "clerk"))
    assert clerk.get(reverse("payments_office:mismatches")).status_code == 403
    assert clerk.get(reverse("payments_office:simulation")).status_code == 403
    outsider = make_staff(other_municipality, "outsider", role=Role.MANAGER)
    assert payment.order_id not in signed_in(outsider).get(reverse("payments_office:mismatches")).content.decode()


def test_mismatch_page_needs_sign_in():
    response = Client().get(reverse("payments_office:mismatches"))
    assert response.status_code == 302


# --- the clerk's partial refund ----------------------------------------------------------------------

@pytest.mark.parametrize("value, message", [("abc", "数字で"), ("", "数字で"), ("0", "通数"), ("3", "通数"),
                                            ("1" * 30, "通数")])
def test_partial_refund_form_refuses_bad_counts_in_japanese(municipality, resident, value, message):
    request = received(municipality, resident, copies=3)
    client = signed_in(make_staff(municipality, "clerk"))
    url = reverse("backoffice:refund_copies", args=[request.public_id])
    response = client.post(url, {"issuable_copies": value}, follow=True)
    assert message in response.content.decode()
    assert not Refund.objects.exists()


def test_partial_refund_form_refunds_the_difference(municipality, resident):
    request = received(municipality, resident, copies=3)
    client = signed_in(make_staff(municipality, "clerk"))
    detail = client.get(reverse("backoffice:detail", args=[request.public_id])).content.decode()
    assert "通数を減らして一部返金" in detail
    response = client.post(reverse("backoffice:refund_copies", args=[request.public_id]),
                           {"issuable_copies": "2"}, follow=True)
    assert "300円の返金を手続きしました" in response.content.decode()
    assert Refund.objects.get().amount == 300


def test_partial_refund_of_another_municipalitys_request_is_not_found(municipality, other_municipality, resident):
    request = received(municipality, resident, copies=3)
    client = signed_in(make_staff(other_municipality, "outsider"))
    response = client.post(reverse("backoffice:refund_copies", args=[request.public_id]),
                           {"issuable_copies": "1"})
    assert response.status_code == 404 and not Refund.objects.exists()
