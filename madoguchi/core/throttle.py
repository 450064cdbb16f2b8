"""Rate limits shared by all processes (a fixed window per key, counted in the database)."""

import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .models import Throttle


def hit(key: str, limit: int, window: datetime.timedelta) -> bool:
    """Count one attempt for `key`; False when the limit for the current window is exhausted."""
    now = timezone.now()
    with transaction.atomic():
        row = Throttle.objects.select_for_update().filter(key=key).first()
        if row is None:
            try:
                with transaction.atomic():
                    Throttle.objects.create(key=key, window_start=now, count=1)
                return True
            except IntegrityError:
                row = Throttle.objects.select_for_update().get(key=key)
        if row.window_start + window <= now:
            row.window_start, row.count = now, 1
            row.save(update_fields=["window_start", "count"])
            return True
        if row.count >= limit:
            return False
        Throttle.objects.filter(pk=row.pk).update(count=F("count") + 1)
        return True


def hit_each(keys: list[str], limit: int, window: datetime.timedelta) -> bool:
    """Count an attempt under several keys (e.g. the client, then the number asked about), stopping
    at the first exhausted one: a refused attempt adds no row for the keys after it, so a flood of
    random numbers from one client cannot fill the table."""
    return all(hit(key, limit, window) for key in keys)  # all() stops at the first False


TALLY_WINDOW = datetime.timedelta(days=1)


def tally(key: str) -> None:
    """Count an event that is not worth a row of its own (one row per key and day, read by metrics)."""
    hit(f"tally:{key}", 2**31 - 1, TALLY_WINDOW)


def tallies(prefix: str = "") -> dict[str, int]:
    """The current day's counts of `tally` keys starting with `prefix`."""
    since = timezone.now() - TALLY_WINDOW
    rows = Throttle.objects.filter(key__startswith=f"tally:{prefix}", window_start__gt=since)
    return {key.removeprefix("tally:"): count for key, count in rows.values_list("key", "count")}


# Progressive delays (sign-in): a key's failures since its last quiet hour set how long the next
# attempt must wait; refused attempts are not counted, so a flood writes nothing.
BASE_DELAY = 15  # seconds after the first counted failure over the free allowance
MAX_DELAY = 15 * 60
QUIET_RESET = datetime.timedelta(hours=1)  # failures are forgotten an hour after the last one
# Every row is older than this only when its key is idle: housekeeping deletes it.
RETENTION = datetime.timedelta(days=1)


def _delay(failures: int, free: int) -> int:
    if failures < free:
        return 0
    return min(BASE_DELAY * 2 ** min(failures - free, 16), MAX_DELAY)


def retry_after(key: str, free: int) -> datetime.datetime | None:
    """When the next attempt for `key` is allowed, or None if it is allowed now. For these keys the
    row's `window_start` is the time of the last failure and `count` the failures since a quiet hour."""
    row = Throttle.objects.filter(key=key).values_list("window_start", "count").first()
    if row is None:
        return None
    last, failures = row
    now = timezone.now()
    if now - last >= QUIET_RESET:
        return None
    allowed_at = last + datetime.timedelta(seconds=_delay(failures, free))
    return allowed_at if allowed_at > now else None


def record_failure(key: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        row = Throttle.objects.select_for_update().filter(key=key).first()
        if row is None:
            try:
                with transaction.atomic():
                    Throttle.objects.create(key=key, window_start=now, count=1)
                return
            except IntegrityError:
                row = Throttle.objects.select_for_update().get(key=key)
        row.count = 1 if now - row.window_start >= QUIET_RESET else row.count + 1
        row.window_start = now
        row.save(update_fields=["window_start", "count"])


def clear(*keys: str) -> None:
    Throttle.objects.filter(key__in=keys).delete()


def expire() -> int:
    """Delete the counters of idle keys (housekeeping)."""
    return Throttle.objects.filter(window_start__lt=timezone.now() - RETENTION).delete()[0]
