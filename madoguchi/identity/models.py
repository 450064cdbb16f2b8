"""Identity evidence: what the resident signed, with which certificate, and what we concluded."""

from django.db import models

from madoguchi.applications.models import CertificateRequest
from madoguchi.tenancy.models import Municipality, TenantQuerySet


class TrustAnchor(models.Model):
    """A JPKI signing CA root we accept. Several may be active at once (root rollover)."""

    name = models.CharField(max_length=100)
    certificate_der = models.BinaryField()
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class SigningChallenge(models.Model):
    """A one-time nonce bound to one request: a signature counts for that request only, once."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE)
    request = models.ForeignKey(CertificateRequest, on_delete=models.CASCADE, related_name="challenges")
    nonce = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()


class SignatureEvidence(models.Model):
    """Kept per request so the verification can be repeated later (audit, disclosure)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    request = models.OneToOneField(CertificateRequest, on_delete=models.PROTECT, related_name="evidence")
    provider = models.CharField(max_length=30)
    certificate_der = models.BinaryField()
    signature = models.BinaryField()
    signed_bytes = models.BinaryField()
    subject = models.CharField(max_length=300)
    issuer = models.CharField(max_length=300)
    serial = models.CharField(max_length=64)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    result = models.JSONField()
    verified_at = models.DateTimeField()

    objects = TenantQuerySet.as_manager()
