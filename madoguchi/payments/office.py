"""Back-office pages of the payments area, contributed to the back office (`register`, found by
`backoffice.pages`): reconciliation mismatches and the revenue simulation, for managers. The back
office signs staff in and checks the permission before these views run."""

from decimal import Decimal

from django import forms
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from madoguchi.catalog.models import FeeChannel
from madoguchi.core.forms import Form

from .models import ReconciliationMismatch
from .simulation import ChannelLine, SimulationError, man_yen, simulate

MISMATCH_PAGE = 500


def mismatches(http_request):
    rows = ReconciliationMismatch.objects.for_municipality(http_request.user.municipality)
    if http_request.GET.get("open") == "1":
        rows = rows.filter(repaired=False)
    return render(http_request, "payments/mismatches.html", {"rows": rows[:MISMATCH_PAGE],
                                                             "open_only": http_request.GET.get("open") == "1"})


# 龍ケ崎市's 10円 campaign prefills the form: the reference case finance sections know.
DEFAULTS = {
    FeeChannel.COUNTER: dict(volume=50_000, fee=300, shift=0, campaign_fee=None, unit_cost=0, rate=0),
    FeeChannel.CONVENIENCE_STORE: dict(volume=10_000, fee=200, shift=20_000, campaign_fee=10, unit_cost=117, rate=0),
    FeeChannel.ONLINE: dict(volume=0, fee=300, shift=0, campaign_fee=None, unit_cost=0, rate=0),
    FeeChannel.MAIL: dict(volume=0, fee=300, shift=0, campaign_fee=None, unit_cost=0, rate=0),
}


class SimulationForm(Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for channel, label in FeeChannel.choices:
            d = DEFAULTS[channel]
            self.fields[f"{channel}_volume"] = forms.IntegerField(
                label=gettext_lazy("{c} 年間件数").format(c=label), min_value=0, max_value=10**8, initial=d["volume"])
            self.fields[f"{channel}_fee"] = forms.IntegerField(
                label=gettext_lazy("{c} 手数料(円)").format(c=label), min_value=0, max_value=100_000, initial=d["fee"])
            if channel != FeeChannel.COUNTER:
                self.fields[f"{channel}_shift"] = forms.IntegerField(
                    label=gettext_lazy("{c} へ窓口から移る件数").format(c=label), min_value=0, max_value=10**8,
                    initial=d["shift"])
            self.fields[f"{channel}_campaign_fee"] = forms.IntegerField(
                label=gettext_lazy("{c} キャンペーン手数料(円)").format(c=label), min_value=0, max_value=100_000,
                required=False, initial=d["campaign_fee"])
            self.fields[f"{channel}_unit_cost"] = forms.IntegerField(
                label=gettext_lazy("{c} 1件あたり費用(円)").format(c=label), min_value=0, max_value=100_000,
                initial=d["unit_cost"])
            self.fields[f"{channel}_rate"] = forms.DecimalField(
                label=gettext_lazy("{c} 決済手数料率(%)").format(c=label), min_value=0, max_value=100,
                decimal_places=3, initial=d["rate"])

    @classmethod
    def default_data(cls) -> dict[str, str]:
        return {name: "" if field.initial is None else str(field.initial) for name, field in cls().fields.items()}

    def channels(self):
        """The fields grouped per channel, for the template."""
        return [(label, [self[name] for name in self.fields if name.startswith(f"{channel}_")])
                for channel, label in FeeChannel.choices]


def simulation(http_request):
    form = SimulationForm(http_request.GET or SimulationForm.default_data())
    result = None
    if form.is_valid():
        c = form.cleaned_data
        lines = [ChannelLine(ch, c[f"{ch}_volume"], c[f"{ch}_fee"], c[f"{ch}_unit_cost"], Decimal(c[f"{ch}_rate"]))
                 for ch in FeeChannel.values]
        try:
            result = simulate(lines,
                              shift={ch: c[f"{ch}_shift"] for ch in FeeChannel.values if ch != FeeChannel.COUNTER},
                              campaign_fee={ch: c[f"{ch}_campaign_fee"] for ch in FeeChannel.values
                                            if c[f"{ch}_campaign_fee"] is not None})
        except SimulationError:
            form.add_error(None, _("窓口から移る件数の合計が、窓口の年間件数を超えています。"))
    return render(http_request, "payments/simulation.html", {
        "form": form, "result": result,
        "summary": result and {"revenue_change": man_yen(result.revenue_change),
                               "cost_change": man_yen(result.cost_change), "net_loss": man_yen(result.net_loss)},
    })


def register(pages) -> None:
    pages.add("mismatches/", mismatches, name="mismatches", permission="manage",
              menu_label=gettext_lazy("決済の突合"))
    pages.add("simulation/", simulation, name="simulation", permission="manage",
              menu_label=gettext_lazy("収入シミュレーション"))
