"""`python manage.py payments reconcile --date YYYY-MM-DD` and `python manage.py payments simulate ...`.

reconcile: compares every municipality's payments of that day (default yesterday) with the
provider's records, repairs missing captures through the actions, prints every mismatch; exits 1
if any mismatch remains unrepaired (so cron mails it).

simulate: revenue and cost before and after a shift of issuances between channels, e.g.
龍ケ崎市's 10円 campaign:
    payments simulate --line counter=50000@300 --line convenience_store=10000@200/117 \\
        --shift convenience_store=20000 --campaign-fee convenience_store=10
A line is CHANNEL=VOLUME@FEE[/UNIT_COST][%RATE].
"""

import datetime
import re
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from madoguchi.catalog.models import FeeChannel
from madoguchi.payments import services
from madoguchi.payments.simulation import ChannelLine, SimulationError, man_yen, simulate

LINE = re.compile(r"(?P<channel>[a-z_]+)=(?P<volume>\d{1,9})@(?P<fee>\d{1,6})"
                  r"(?:/(?P<unit_cost>\d{1,6}))?(?:%(?P<rate>\d{1,2}(?:\.\d{1,3})?))?")
PAIR = re.compile(r"(?P<channel>[a-z_]+)=(?P<value>\d{1,9})")


def _channel(name: str) -> str:
    if name not in FeeChannel.values:
        raise CommandError(f"unknown channel {name!r}; one of {', '.join(FeeChannel.values)}")
    return name


def _pairs(values: list[str], what: str) -> dict[str, int]:
    out = {}
    for value in values:
        m = PAIR.fullmatch(value)
        if not m:
            raise CommandError(f"{what} must look like CHANNEL=NUMBER, got {value!r}")
        out[_channel(m["channel"])] = int(m["value"])
    return out


class Command(BaseCommand):
    help = "Payment reconciliation and revenue simulation."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="command", required=True)
        rec = sub.add_parser("reconcile", help="compare a day's payments with the provider's records")
        rec.add_argument("--date", help="YYYY-MM-DD (default: yesterday)")
        sim = sub.add_parser("simulate", help="revenue and cost before and after a channel shift")
        sim.add_argument("--line", action="append", default=[], required=True,
                         help="CHANNEL=VOLUME@FEE[/UNIT_COST][%%RATE]")
        sim.add_argument("--shift", action="append", default=[], help="CHANNEL=N moved from the counter")
        sim.add_argument("--campaign-fee", action="append", default=[], help="CHANNEL=FEE after the change")

    def handle(self, *args, **options):
        if options["command"] == "reconcile":
            return self.reconcile(options["date"])
        return self.simulate(options)

    def reconcile(self, date: str | None):
        if date is None:
            day = timezone.localdate() - datetime.timedelta(days=1)
        else:
            try:
                day = datetime.date.fromisoformat(date)
            except ValueError:
                raise CommandError(f"--date must be YYYY-MM-DD, got {date!r}") from None
        found = services.reconcile_all(day)
        open_count = 0
        for code, mismatches in found.items():
            for m in mismatches:
                state = "repaired" if m.repaired else "OPEN"
                open_count += not m.repaired
                self.stdout.write(f"{day} {code} {m.order_id} {m.kind} {state} ours=[{m.ours}] theirs=[{m.theirs}]")
        total = sum(len(m) for m in found.values())
        self.stdout.write(f"reconciled {day}: {total} mismatches, {open_count} open")
        if open_count:
            raise SystemExit(1)

    def simulate(self, options):
        lines = []
        for value in options["line"]:
            m = LINE.fullmatch(value)
            if not m:
                raise CommandError(f"--line must look like CHANNEL=VOLUME@FEE[/UNIT_COST][%RATE], got {value!r}")
            lines.append(ChannelLine(_channel(m["channel"]), int(m["volume"]), int(m["fee"]),
                                     int(m["unit_cost"] or 0), Decimal(m["rate"] or 0)))
        try:
            result = simulate(lines, shift=_pairs(options["shift"], "--shift"),
                              campaign_fee=_pairs(options["campaign_fee"], "--campaign-fee"))
        except SimulationError as exc:
            raise CommandError(str(exc)) from None
        for title, rows in (("before", result.before), ("after", result.after)):
            for line in rows:
                self.stdout.write(f"{title:6} {line.channel:18} {line.volume:>9,}件 × {line.fee:>4}円 "
                                  f"revenue {line.revenue:>12,}円 cost {line.cost:>11,}円")
        self.stdout.write(f"revenue {result.revenue_before:,}円 -> {result.revenue_after:,}円 "
                          f"({man_yen(result.revenue_change)})")
        self.stdout.write(f"cost    {result.cost_before:,}円 -> {result.cost_after:,}円 "
                          f"({man_yen(result.cost_change)})")
        self.stdout.write(f"減収額  {man_yen(result.net_loss)}")
