"""Issued certificate documents and the print batches that produced paper."""

from django.conf import settings
from django.db import models

from madoguchi.applications.models import CertificateRequest
from madoguchi.tenancy.models import Municipality, TenantOneToOneField, TenantQuerySet


class IssuedDocument(models.Model):
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    request = TenantOneToOneField(CertificateRequest, on_delete=models.PROTECT, related_name="document")
    # The municipality code and 10 random digits; the verification page finds the town by the code.
    issue_number = models.CharField(max_length=20)
    verification_code = models.CharField(max_length=16)
    pdf = models.BinaryField()
    pages = models.PositiveSmallIntegerField()
    # What the verification page shows to compare with the paper (no personal data beyond the
    # initial): the SHA-256 of the content (`layout.content_digest`, printed as 内容確認値) and the
    # first character of the first name on the certificate, with its variation selector if any.
    content_digest = models.CharField(max_length=64, blank=True)
    name_initial = models.CharField(max_length=4, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["municipality", "request"], name="one_document_per_request"),
            models.UniqueConstraint(fields=["municipality", "issue_number"], name="issue_number_unique"),
        ]


class PrintBatch(models.Model):
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    documents = models.ManyToManyField(IssuedDocument, related_name="batches")
    # Signed with the municipality's document-signing key (PAdES), once for the whole batch.
    pdf = models.BinaryField()
    # A reprint (paper jam, spoiled sheets) names the batch it replaces and why (recorded for audit).
    reprint_of = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="reprints")
    reason = models.CharField(max_length=500, blank=True)

    objects = TenantQuerySet.as_manager()


class SealVersion(models.Model):
    """One 公印 image with its physical size. It prints from `effective_from` once a second person
    holding the 公印管理者 permission approved it (the municipality's 公印規則: the uploader cannot
    approve their own seal); the latest approved version in force on the issue date is used."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="seal_versions")
    png = models.BinaryField()
    width_mm = models.DecimalField(max_digits=4, decimal_places=1)
    height_mm = models.DecimalField(max_digits=4, decimal_places=1)
    effective_from = models.DateField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)  # a pending version dropped before approval

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.CheckConstraint(condition=~models.Q(approved_by=models.F("uploaded_by")),
                                              name="seal_second_person")]
