"""Statistics: aggregate tables maintained from the request events, and the queries of the pages.

Each counted event adds to the aggregate tables (`HourlyStat`: received and issued by hour and office
hours; `DailyStat`: every metric by reason, with money; `AreaMonthStat`: received by 町丁目 and
month), so a page reads thousands of aggregate rows in three queries instead of millions of requests.
What counts:

    received   受付 (payment captured): requests, copies, fee and postage charged
    issued     交付 (printed): requests and copies
    rejected   却下, with the reason code
    refunded   返金 after a refusal: the amounts given back
    cancelled  取消 after 受付

Requests registered by staff (窓口, 郵送) and convenience-store issuances imported from the
証明書交付センター's report count as received and issued at once. `rebuild` recomputes one
municipality's tables from those sources (`manage.py stats rebuild`).
"""

import datetime
import re
from collections import defaultdict
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.db.models.functions import ExtractIsoWeekDay, TruncMonth
from django.utils import timezone

from madoguchi.applications.models import EventKind, RequestEvent, State
from madoguchi.catalog.calendar import is_business_day

from .channels import KIOSK
from .models import AreaMonthStat, CounterRecord, DailyStat, HourlyStat, KioskIssuance, Metric

# Office hours of a city office (most open 8:30–17:15 on business days); a municipality's own hours
# replace this when the business calendar carries them.
OFFICE_OPEN = datetime.time(8, 30)
OFFICE_CLOSE = datetime.time(17, 15)
OUTSIDE = "市外"
_CHOME = re.compile(r"^(.+?[一二三四五六七八九十〇]+丁目)")
_TOWN = re.compile(r"^(.+?)[0-9０-９一二三四五六七八九十〇]+(?:番|-|－)")


def area_of(address: str, municipality) -> str:
    """The 町丁目 of an address in the municipality (or 大字 and town before the 番地), 市外 outside."""
    if not address:
        return ""
    for prefix in (municipality.full_name, municipality.name):
        if address.startswith(prefix):
            rest = address[len(prefix):]
            break
    else:
        return OUTSIDE
    match = _CHOME.match(rest) or _TOWN.match(rest)
    return (match.group(1) if match else rest).strip()[:60]


class OfficeHours:
    """In office hours: a business day (catalog.calendar) between opening and closing time."""

    def __init__(self, closed_dates: list[str] | None):
        self.closed_dates = closed_dates or []
        self.days: dict[datetime.date, bool] = {}

    def __call__(self, local: datetime.datetime) -> bool:
        day = local.date()
        business = self.days.get(day)
        if business is None:
            business = self.days[day] = is_business_day(day, self.closed_dates)
        return business and OFFICE_OPEN <= local.time() < OFFICE_CLOSE


@dataclass(frozen=True)
class Fact:
    at: datetime.datetime
    metric: str
    certificate_type: str
    channel: str
    area: str
    reason: str
    copies: int
    fee: int
    postage: int


def event_fact(kind: str, from_state: str, at, certificate_type: str, channel: str, copies: int,
               fee_per_copy: int, postage: int, area: str, data: dict | None = None) -> Fact | None:
    """The fact an event of `kind` (RequestEvent.kind) adds to the statistics, if any."""
    data = data or {}
    if kind == EventKind.RECEIVED:
        return Fact(at, Metric.RECEIVED, certificate_type, channel, area, "", copies, fee_per_copy * copies, postage)
    if kind == EventKind.ISSUED:
        return Fact(at, Metric.ISSUED, certificate_type, channel, area, "", copies, 0, 0)
    if kind == EventKind.REJECTED:
        reason = str(data.get("reason_code") or "")[:40]
        return Fact(at, Metric.REJECTED, certificate_type, channel, area, reason, copies, 0, 0)
    if kind == EventKind.REFUNDED:  # the amount the provider gave back
        return Fact(at, Metric.REFUNDED, certificate_type, channel, area, "", copies, int(data.get("amount") or 0), 0)
    # A paid request given up (refunded): before review, in review, while sent back for correction,
    # or after its envelope came back (返戻).
    if kind == EventKind.CANCELLED and from_state in (State.RECEIVED, State.IN_REVIEW, State.RETURNED,
                                                      State.UNDELIVERED):
        return Fact(at, Metric.CANCELLED, certificate_type, channel, area, "", copies, fee_per_copy * copies, postage)
    if kind in (EventKind.REFUSED, EventKind.HELD):  # restriction findings, by their reason codes
        metric = Metric.REFUSED if kind == EventKind.REFUSED else Metric.HELD
        codes = ",".join(str(code) for code in data.get("codes") or [])[:40]
        return Fact(at, metric, certificate_type, channel, area, codes, copies, 0, 0)
    return None


COUNTED_KINDS = [EventKind.RECEIVED, EventKind.ISSUED, EventKind.REJECTED, EventKind.REFUNDED, EventKind.CANCELLED,
                 EventKind.REFUSED, EventKind.HELD]


HOURLY_METRICS = {Metric.RECEIVED, Metric.ISSUED}


class Totals:
    """Facts summed per aggregate key, then written as increments or as new rows."""

    def __init__(self, municipality):
        self.municipality = municipality
        self.office = OfficeHours(municipality.closed_dates)
        self.hourly: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
        self.daily: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        self.areas: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
        self.tz = timezone.get_current_timezone()

    def add(self, fact: Fact) -> None:
        local = fact.at.astimezone(self.tz)
        day = local.date()
        if fact.metric in HOURLY_METRICS:
            h = self.hourly[(day, local.hour, self.office(local), fact.metric, fact.certificate_type, fact.channel)]
            h[0] += 1
            h[1] += fact.copies
        d = self.daily[(day, fact.metric, fact.certificate_type, fact.channel, fact.reason)]
        d[0] += 1
        d[1] += fact.copies
        d[2] += fact.fee
        d[3] += fact.postage
        if fact.metric == Metric.RECEIVED:
            a = self.areas[(day.replace(day=1), fact.certificate_type, fact.channel, fact.area)]
            a[0] += 1
            a[1] += fact.copies

    def _rows(self):
        m = self.municipality.pk
        for (day, hour, office, metric, kind, channel), (n, copies) in self.hourly.items():
            yield HourlyStat, dict(municipality_id=m, day=day, hour=hour, office_hours=office, metric=metric,
                                   certificate_type=kind, channel=channel), dict(requests=n, copies=copies)
        for (day, metric, kind, channel, reason), (n, copies, fee, postage) in self.daily.items():
            yield DailyStat, dict(municipality_id=m, day=day, metric=metric, certificate_type=kind, channel=channel,
                                  reason=reason), dict(requests=n, copies=copies, fee=fee, postage=postage)
        for (month, kind, channel, area), (n, copies) in self.areas.items():
            yield AreaMonthStat, dict(municipality_id=m, month=month, certificate_type=kind, channel=channel,
                                      area=area), dict(requests=n, copies=copies)

    def increment(self) -> None:
        """Add to the existing rows (creating missing ones); safe against concurrent writers."""
        for model, key, amounts in self._rows():
            _bump(model, key, **amounts)

    def create(self) -> int:
        """Insert every row (the tables are empty for this municipality): COPY on PostgreSQL, one
        executemany elsewhere, since a rebuild of a large city writes hundreds of thousands."""
        batches: dict[type, list] = defaultdict(list)
        columns: dict[type, list[str]] = {}
        for model, key, amounts in self._rows():
            fields = {**key, **amounts}
            columns.setdefault(model, list(fields))
            batches[model].append(tuple(fields.values()))
        for model, rows in batches.items():
            _insert(model, columns[model], rows)
        return sum(len(rows) for rows in batches.values())


def _insert(model, columns: list[str], rows: list[tuple]) -> None:
    quote = connection.ops.quote_name
    table, names = quote(model._meta.db_table), ", ".join(quote(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})", rows)


def _bump(model, key: dict, **amounts) -> None:
    changes = {name: F(name) + value for name, value in amounts.items()}
    if model.objects.filter(**key).update(**changes):
        return
    try:
        with transaction.atomic():
            model.objects.create(**key, **amounts)
    except IntegrityError:  # created meanwhile by another writer
        model.objects.filter(**key).update(**changes)


def _request_area(request) -> str:
    resident = request.resident
    return area_of(resident.household.address, request.municipality) if resident else ""


def on_request_event(event: RequestEvent) -> None:
    """Count the event (called in the transaction that writes it)."""
    request = event.request
    if event.kind not in COUNTED_KINDS:
        return
    fact = event_fact(event.kind, event.from_state, event.at, request.certificate_type, request.channel,
                      request.copies, request.fee_per_copy, request.postage_amount, _request_area(request), event.data)
    if fact is not None:
        totals = Totals(request.municipality)
        totals.add(fact)
        totals.increment()


def counter_facts(record: CounterRecord) -> list[Fact]:
    return [Fact(record.at, Metric.RECEIVED, record.certificate_type, record.channel, record.area, "",
                 record.copies, record.fee, record.postage),
            Fact(record.at, Metric.ISSUED, record.certificate_type, record.channel, record.area, "",
                 record.copies, 0, 0)]


def kiosk_facts(issuance: KioskIssuance) -> list[Fact]:
    area = OUTSIDE if issuance.outside else ""
    return [Fact(issuance.at, Metric.RECEIVED, issuance.certificate_type, KIOSK, area, "", issuance.copies,
                 issuance.fee, 0),
            Fact(issuance.at, Metric.ISSUED, issuance.certificate_type, KIOSK, area, "", issuance.copies, 0, 0)]


def count(municipality, facts) -> None:
    totals = Totals(municipality)
    for fact in facts:
        totals.add(fact)
    totals.increment()


@transaction.atomic
def rebuild(municipality) -> int:
    """Recompute the municipality's aggregate rows from its events and registered issuances."""
    for model in (HourlyStat, DailyStat, AreaMonthStat):
        model.objects.for_municipality(municipality).delete()
    totals = Totals(municipality)
    areas: dict[str, str] = {}
    events = (RequestEvent.objects.for_municipality(municipality).filter(kind__in=COUNTED_KINDS)
              .values_list("kind", "from_state", "at", "request__certificate_type", "request__channel",
                           "request__copies", "request__fee_per_copy", "request__postage_amount",
                           "request__resident__household__address", "data")
              .iterator(chunk_size=10_000))
    for kind, from_state, at, certificate_type, channel, copies, fee_per_copy, postage, address, data in events:
        area = areas.get(address)
        if area is None:
            area = areas[address] = area_of(address or "", municipality)
        fact = event_fact(kind, from_state, at, certificate_type, channel, copies, fee_per_copy, postage, area, data)
        if fact is not None:
            totals.add(fact)
    for record in CounterRecord.objects.for_municipality(municipality).iterator(chunk_size=10_000):
        for fact in counter_facts(record):
            totals.add(fact)
    for issuance in KioskIssuance.objects.for_municipality(municipality).iterator(chunk_size=10_000):
        for fact in kiosk_facts(issuance):
            totals.add(fact)
    return totals.create()


# --- reading ---------------------------------------------------------------------------------------

WEEKDAYS = ["月", "火", "水", "木", "金", "土", "日"]


def _filtered(model, municipality, criteria: dict, day: str = "day"):
    qs = model.objects.filter(municipality=municipality)
    if criteria.get("date_from"):
        start = criteria["date_from"]
        qs = qs.filter(**{f"{day}__gte": start.replace(day=1) if day == "month" else start})
    if criteria.get("date_to"):
        qs = qs.filter(**{f"{day}__lte": criteria["date_to"]})
    if criteria.get("certificate_type"):
        qs = qs.filter(certificate_type=criteria["certificate_type"])
    if criteria.get("channel"):
        qs = qs.filter(channel=criteria["channel"])
    return qs


def report(municipality, criteria: dict) -> dict:
    """Every table of the statistics page for the filtered period, from three grouped queries."""
    by_hour, by_weekday, by_office = defaultdict(int), defaultdict(int), defaultdict(int)
    hourly = (_filtered(HourlyStat, municipality, criteria).filter(metric=Metric.RECEIVED)
              .annotate(w=ExtractIsoWeekDay("day")).values_list("hour", "w", "office_hours")
              .annotate(n=Sum("requests")).order_by())
    for hour, weekday, office, n in hourly:
        by_hour[hour] += n
        by_weekday[weekday] += n
        by_office[office] += n
    outcomes, kinds, channels = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0, 0]), \
        defaultdict(lambda: [0, 0, 0])
    money = defaultdict(lambda: [0, 0, 0])
    daily = (_filtered(DailyStat, municipality, criteria).annotate(month=TruncMonth("day"))
             .values_list("month", "metric", "reason", "certificate_type", "channel")
             .annotate(n=Sum("requests"), c=Sum("copies"), fee=Sum("fee"), postage=Sum("postage")).order_by())
    for month, metric, reason, kind, channel, n, copies, fee, postage in daily:
        outcome = outcomes[(metric, reason)]
        outcome[0] += n
        outcome[1] += copies
        for table, key in ((kinds, kind), (channels, channel)):
            if metric == Metric.RECEIVED:
                table[key][0] += n
            elif metric == Metric.ISSUED:
                table[key][1] += n
                table[key][2] += copies
        label = month.strftime("%Y-%m") if hasattr(month, "strftime") else str(month)[:7]
        if metric == Metric.RECEIVED:
            money[label][0] += fee
            money[label][1] += postage
        elif metric in (Metric.REFUNDED, Metric.CANCELLED):
            money[label][2] += fee + postage
    areas = (_filtered(AreaMonthStat, municipality, criteria, day="month").values_list("area")
             .annotate(n=Sum("requests")).order_by("-n", "area")[:50])
    order = list(Metric.values)
    return {"by_hour": [(h, by_hour.get(h, 0)) for h in range(24)],
            "by_weekday": [(WEEKDAYS[i - 1], by_weekday.get(i, 0)) for i in range(1, 8)],
            "office_hours": [(True, by_office.get(True, 0)), (False, by_office.get(False, 0))],
            "outcomes": [(m, r, n, c) for (m, r), (n, c) in sorted(outcomes.items(),
                                                                    key=lambda i: (order.index(i[0][0]), i[0][1]))],
            "by_kind": sorted(((k, *v) for k, v in kinds.items()), key=lambda row: -row[1]),
            "by_channel": sorted(((k, *v) for k, v in channels.items()), key=lambda row: -row[1]),
            "by_area": list(areas),
            "money": [(k, fee, postage, refunded, fee + postage - refunded)
                      for k, (fee, postage, refunded) in sorted(money.items())]}


def open_data_rows(municipality, criteria: dict) -> list[list]:
    """Counts by month, kind, channel and metric only: nothing below that (no area, no hour)."""
    rows = (_filtered(DailyStat, municipality, criteria).filter(metric__in=[Metric.RECEIVED, Metric.ISSUED])
            .annotate(month=TruncMonth("day")).values_list("month", "certificate_type", "channel", "metric")
            .annotate(n=Sum("requests"), c=Sum("copies")).order_by("month", "certificate_type", "channel", "metric"))
    return [[municipality.code, str(month)[:7], kind, channel, metric, n, c]
            for month, kind, channel, metric, n, c in rows]
