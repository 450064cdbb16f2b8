"""Access logs (who saw whose personal data) and throttles shared by all processes."""

from django.conf import settings
from django.db import models

from madoguchi.tenancy.models import Municipality, TenantQuerySet


class AccessLog(models.Model):
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    action = models.CharField(max_length=40)  # view_request, download_pdf, print_batch, ...
    request = models.ForeignKey("applications.CertificateRequest", on_delete=models.PROTECT,
                                null=True, blank=True)
    resident = models.ForeignKey("registry.Resident", on_delete=models.PROTECT, null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]


class Throttle(models.Model):
    """A fixed-window counter in the database, so limits hold across web processes."""

    key = models.CharField(max_length=200, unique=True)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)
