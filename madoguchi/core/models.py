"""The kernel's one table: throttle counters shared by every web process."""

from django.db import models


class Throttle(models.Model):
    """A fixed-window counter in the database, so limits hold across web processes."""

    key = models.CharField(max_length=200, unique=True)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)
