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
