"""Access logs: who saw whose personal data."""

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

