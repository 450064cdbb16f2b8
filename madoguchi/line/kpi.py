"""The LINE channel's figures for the KPI dashboard (registered with operations.kpi in ready())."""

from madoguchi.operations.kpi import KpiValue, register
from madoguchi.operations.models import KpiTarget

from .models import FriendDaily, LineUser


@register(KpiTarget.Kpi.LINE_FRIENDS)
def line_friends(municipality) -> KpiValue:
    """Friends now: the users following the account as our webhook saw them, with the follow and
    unfollow counts per month (the Messaging API's own follower statistics may count friends made
    before the webhook was connected)."""
    following = LineUser.objects.for_municipality(municipality).filter(following=True).count()
    months: dict[str, int] = {}
    for day, follows, unfollows in (FriendDaily.objects.for_municipality(municipality).order_by("day")
                                    .values_list("day", "follows", "unfollows")):
        key = day.strftime("%Y-%m")
        months[key] = months.get(key, 0) + follows - unfollows
    return KpiValue(following, list(months.items())[-12:])
