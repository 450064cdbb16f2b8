"""Revenue simulation for the finance section: fee revenue and per-transaction cost, before and
after moving residents from the counter to online or the convenience store (often with a campaign fee).

龍ケ崎市's own calculation for its 10円 campaign is the reference case (tests assert it):
窓口 50,000件 × 300円 and コンビニ 10,000件 × 200円 before; 30,000件 each after, the コンビニ fee
10円; 117円 per convenience-store issuance ⇒ revenue −770万円, cost +234万円, 減収額 ≈ 1,004万円.
"""

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from madoguchi.catalog.models import FeeChannel as Channel  # the fee channel (docs/glossary.md)


@dataclass(frozen=True)
class ChannelLine:
    channel: str
    volume: int  # issuances per year
    fee: int  # 円 per issuance
    unit_cost: int = 0  # 円 per issuance (e.g. 117円 to the convenience-store network)
    rate_percent: Decimal = Decimal(0)  # provider's fee as % of the amount (card, PayPay)

    @property
    def revenue(self) -> int:
        return self.volume * self.fee

    @property
    def cost(self) -> int:
        variable = (Decimal(self.revenue) * self.rate_percent / 100).quantize(Decimal(1), ROUND_HALF_UP)
        return self.volume * self.unit_cost + int(variable)

    @property
    def label(self) -> str:
        return str(Channel(self.channel).label)


@dataclass(frozen=True)
class Result:
    before: list[ChannelLine]
    after: list[ChannelLine]

    @property
    def revenue_before(self) -> int:
        return sum(line.revenue for line in self.before)

    @property
    def revenue_after(self) -> int:
        return sum(line.revenue for line in self.after)

    @property
    def cost_before(self) -> int:
        return sum(line.cost for line in self.before)

    @property
    def cost_after(self) -> int:
        return sum(line.cost for line in self.after)

    @property
    def revenue_change(self) -> int:
        return self.revenue_after - self.revenue_before

    @property
    def cost_change(self) -> int:
        return self.cost_after - self.cost_before

    @property
    def net_loss(self) -> int:
        """減収額: revenue lost plus cost added (negative when the change pays for itself)."""
        return -self.revenue_change + self.cost_change


class SimulationError(ValueError):
    pass


def simulate(before: list[ChannelLine], *, shift: dict[str, int], campaign_fee: dict[str, int],
             source: str = Channel.COUNTER) -> Result:
    """Move `shift[channel]` issuances a year from `source` to each channel, and charge the
    campaign fee (if any) on a channel after the change; volumes never go negative."""
    lines = {line.channel: line for line in before}
    if len(lines) != len(before):
        raise SimulationError("each channel once")
    moved = sum(shift.values())
    if any(v < 0 for v in shift.values()) or any(v < 0 for v in campaign_fee.values()):
        raise SimulationError("shifts and fees are not negative")
    if source not in lines or moved > lines[source].volume:
        raise SimulationError(f"cannot move {moved} issuances out of {source}")
    after = dict(lines)
    after[source] = replace(lines[source], volume=lines[source].volume - moved)
    for channel, count in shift.items():
        if channel == source:
            raise SimulationError("a shift goes to another channel")
        current = after.get(channel) or ChannelLine(channel, 0, lines[source].fee)
        after[channel] = replace(current, volume=current.volume + count)
    for channel, fee in campaign_fee.items():
        if channel not in after:
            raise SimulationError(f"no volume for {channel}")
        after[channel] = replace(after[channel], fee=fee)
    order = [c for c in Channel.values if c in after]
    return Result(before=[lines[c] for c in order if c in lines], after=[after[c] for c in order])


def ryugasaki_10yen() -> Result:
    """龍ケ崎市's 10円 campaign as the city calculated it."""
    return simulate([ChannelLine(Channel.COUNTER, 50_000, 300),
                     ChannelLine(Channel.CONVENIENCE_STORE, 10_000, 200, unit_cost=117)],
                    shift={Channel.CONVENIENCE_STORE: 20_000}, campaign_fee={Channel.CONVENIENCE_STORE: 10})


def man_yen(amount: int) -> str:
    """An amount in 万円 with one decimal, as finance sections write it (1,004.0万円)."""
    return f"{Decimal(amount) / 10_000:,.1f}万円"
