"""The KPI dashboard: LINE friends, procedures offered online, online requests per month and
resident satisfaction, each against the target the municipality entered.

Figures that live in a channel (LINE friends and the satisfaction survey answered in LINE) are
contributed by that channel through `register`, as the LINE app registers its notice channel: the
operations layer never imports a channel.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from madoguchi.applications.models import SatisfactionAnswer
from madoguchi.catalog.models import Fee, FeeChannel

from .models import DailyStat, KpiTarget, Metric

ONLINE_CHANNELS = ["web", "line"]


@dataclass
class KpiValue:
    value: Decimal | int | None
    rows: list[tuple[str, int]] = field(default_factory=list)  # a distribution or a series
    note: str = ""


_sources: dict[str, Callable] = {}


def register(kpi: str):
    """Decorator: `fn(municipality) -> KpiValue` contributes (or adds to) a KPI's figure."""

    def decorator(fn):
        _sources[kpi] = fn
        return fn

    return decorator


@register(KpiTarget.Kpi.SATISFACTION)
def satisfaction(municipality) -> KpiValue:
    """The 1–5 survey after 完了, answered on the web, in LINE or by e-mail link: first answer per request."""
    answers = SatisfactionAnswer.objects.for_municipality(municipality)
    distribution = dict(answers.values_list("score").annotate(n=Count("id")).order_by())
    total = sum(distribution.values())
    score_sum = answers.aggregate(s=Sum("score"))["s"] or 0
    average = (Decimal(score_sum) / total).quantize(Decimal("0.01")) if total else None
    return KpiValue(average, [(f"{score}", distribution.get(score, 0)) for score in range(5, 0, -1)])


def procedures_online(municipality) -> KpiValue:
    today = timezone.localdate()
    in_force = Q(valid_from__lte=today) & (Q(valid_until__isnull=True) | Q(valid_until__gte=today))
    kinds = (Fee.objects.for_municipality(municipality).filter(in_force, channel=FeeChannel.ONLINE)
             .values_list("certificate_type", flat=True).distinct())
    return KpiValue(len(set(kinds)))


def online_requests(municipality, months: int = 12) -> KpiValue:
    today = timezone.localdate()
    start = (today.replace(day=1) - datetime.timedelta(days=31 * (months - 1))).replace(day=1)
    rows = (DailyStat.objects.for_municipality(municipality)
            .filter(metric=Metric.RECEIVED, channel__in=ONLINE_CHANNELS, day__gte=start)
            .annotate(month=TruncMonth("day")).values_list("month").annotate(n=Sum("requests")).order_by("month"))
    series = [(str(month)[:7], n) for month, n in rows]
    this_month = today.strftime("%Y-%m")
    last = next((n for m, n in series if m == this_month), 0)
    return KpiValue(last, series)


def dashboard(municipality) -> list[dict]:
    targets = {t.kpi: t for t in KpiTarget.objects.for_municipality(municipality)}
    values = {KpiTarget.Kpi.PROCEDURES_ONLINE: procedures_online(municipality),
              KpiTarget.Kpi.ONLINE_REQUESTS: online_requests(municipality)}
    for kpi, source in _sources.items():
        values[kpi] = source(municipality)
    cards = []
    for kpi, label in KpiTarget.Kpi.choices:
        value = values.get(kpi, KpiValue(None, note="no source"))
        target = targets.get(kpi)
        progress = None
        if target is not None and value.value is not None:
            base = target.baseline or Decimal(0)
            span = target.target - base
            progress = int(round(100 * (Decimal(value.value) - base) / span)) if span else None
        cards.append({"kpi": kpi, "label": label, "value": value, "target": target, "progress": progress})
    return cards
