"""Campaign effect: for a fee campaign (a `Fee` row with a name and a period), the volumes and the
share of each channel before, during and after it, for the campaign's certificate kind; and the
real volumes, annualised per fee channel, to feed the revenue simulation."""

import datetime
from dataclasses import dataclass

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.catalog.models import Fee, FeeChannel

from .models import DailyStat, Metric

# Request channel (how it was asked) → fee channel (which fee applies).
FEE_CHANNEL = {"web": FeeChannel.ONLINE, "line": FeeChannel.ONLINE, "kiosk": FeeChannel.CONVENIENCE_STORE,
               "counter": FeeChannel.COUNTER, "mail": FeeChannel.MAIL}


@dataclass
class Window:
    label: str
    start: datetime.date
    end: datetime.date
    volumes: dict[str, int]  # fee channel → requests received

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def total(self) -> int:
        return sum(self.volumes.values())

    def share(self, channel: str) -> float:
        return 100 * self.volumes.get(channel, 0) / self.total if self.total else 0.0

    def annual(self, channel: str) -> int:
        return round(self.volumes.get(channel, 0) * 365 / self.days) if self.days > 0 else 0


def campaigns(municipality):
    return (Fee.objects.for_municipality(municipality).exclude(campaign_name="").filter(valid_until__isnull=False)
            .order_by("-valid_from", "id"))


def _volumes(municipality, certificate_type: str, start: datetime.date, end: datetime.date) -> dict[str, int]:
    rows = (DailyStat.objects.for_municipality(municipality)
            .filter(metric=Metric.RECEIVED, certificate_type=certificate_type, day__gte=start, day__lte=end)
            .values_list("channel").annotate(n=Sum("requests")).order_by())
    volumes = {channel: 0 for channel in FeeChannel.values}
    for channel, n in rows:
        volumes[FEE_CHANNEL.get(channel, channel)] = volumes.get(FEE_CHANNEL.get(channel, channel), 0) + n
    return volumes


def effect(municipality, campaign: Fee) -> list[Window]:
    """Before, during and after, each as long as the campaign (after: up to today)."""
    length = campaign.valid_until - campaign.valid_from
    today = timezone.localdate()
    before_end = campaign.valid_from - datetime.timedelta(days=1)
    after_start = campaign.valid_until + datetime.timedelta(days=1)
    windows = [(_("実施前"), before_end - length, before_end),
               (_("実施中"), campaign.valid_from, min(campaign.valid_until, today)),
               (_("実施後"), after_start, min(after_start + length, today))]
    return [Window(label, start, end, _volumes(municipality, campaign.certificate_type, start, end))
            for label, start, end in windows if end >= start]


def simulation_query(municipality, window: Window, campaign: Fee) -> dict[str, str]:
    """Every field of the revenue simulation's form (payments), filled with the real annualised
    volumes of `window`, the regular fees of the campaign's kind and the campaign's fee."""
    regular = dict(Fee.objects.for_municipality(municipality)
                   .filter(certificate_type=campaign.certificate_type, campaign_name="")
                   .order_by("valid_from").values_list("channel", "amount"))
    data = {}
    for channel in FeeChannel.values:
        data[f"{channel}_volume"] = str(window.annual(channel))
        data[f"{channel}_fee"] = str(regular.get(channel, 0))
        if channel != FeeChannel.COUNTER:
            data[f"{channel}_shift"] = "0"
        data[f"{channel}_campaign_fee"] = str(campaign.amount) if channel == campaign.channel else ""
        data[f"{channel}_unit_cost"] = "0"
        data[f"{channel}_rate"] = "0"
    return data
