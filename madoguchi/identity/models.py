"""Identity evidence: what the resident signed, with which certificate, and what we concluded."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.applications.models import CertificateRequest
from madoguchi.registry.models import Resident
from madoguchi.tenancy.models import Municipality, TenantQuerySet

from .jpki import CertificatePurpose


class AnchorPurpose(models.TextChoices):
    SIGNING = CertificatePurpose.SIGNING, _("署名用電子証明書")
    AUTHENTICATION = CertificatePurpose.AUTHENTICATION, _("利用者証明用電子証明書")


class TrustAnchor(models.Model):
    """A JPKI CA root we accept, for signing certificates or for user-authentication certificates
    (JPKI runs a CA for each). Several may be active at once (root rollover)."""

    name = models.CharField(max_length=100)
    certificate_der = models.BinaryField()
    active = models.BooleanField(default=True)
    purpose = models.CharField(max_length=16, choices=AnchorPurpose.choices, default=AnchorPurpose.SIGNING)
    # Where this CA's CRL is published (fetched by the refresh task) and its OCSP responder, if any.
    crl_url = models.URLField(blank=True)
    ocsp_url = models.URLField(blank=True)

    def __str__(self) -> str:
        return self.name


class SigningPurpose(models.TextChoices):
    """What the card's signature is for; part of the signed bytes (`signing_terms.canonical_bytes`)."""

    REQUEST = "request", _("申請")
    CORRECTION = "correction", _("補正後の申請")
    CANCEL = "cancel", _("申請の取消")


class SigningChallenge(models.Model):
    """A one-time nonce bound to one request: a signature counts for that request only, once."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE)
    request = models.ForeignKey(CertificateRequest, on_delete=models.CASCADE, related_name="challenges")
    nonce = models.CharField(max_length=64)
    purpose = models.CharField(max_length=12, choices=SigningPurpose.choices, default=SigningPurpose.REQUEST)
    # Set by the channel that started signing; the provider sends the resident to one of them and
    # never names a channel's page: `return_url` once the signature is recorded, `retry_url` after
    # a refusal. A path on this site or an absolute URL.
    return_url = models.CharField(max_length=2000)
    retry_url = models.CharField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "nonce"], name="signing_nonce_unique")]


class AuthenticationChallenge(models.Model):
    """A one-time nonce for signing in with the 利用者証明用電子証明書: bound to the browser session that
    asked for it (`identity.authentication`), answered once, taken once by the channel, short-lived."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE)
    nonce = models.CharField(max_length=64)
    return_url = models.CharField(max_length=2000)
    retry_url = models.CharField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    # When the card's answer came back (one try per nonce), what it was, and when the channel took it.
    answered_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=40, blank=True)  # "ok" or the refusal's reason code
    provider = models.CharField(max_length=30, blank=True)
    serial = models.CharField(max_length=64, blank=True)
    resident = models.ForeignKey(Resident, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    claimed_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "nonce"], name="authentication_nonce_unique")]


class SignatureEvidence(models.Model):
    """Kept per signature so the verification can be repeated later (audit, disclosure): the
    request's signature, and those of its corrections and of a cancellation confirmed with the card."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    request = models.ForeignKey(CertificateRequest, on_delete=models.PROTECT, related_name="evidences")
    purpose = models.CharField(max_length=12, choices=SigningPurpose.choices, default=SigningPurpose.REQUEST)
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

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "request"],
                                               condition=models.Q(purpose="request"), name="one_evidence_per_request")]


class RevocationList(models.Model):
    """A CRL of one trust anchor, kept whole (re-verification, audit) and indexed by serial.

    Trust material is national, like `TrustAnchor`: JPKI has one set of CAs for every municipality.
    Its signature by the anchor was checked when it was loaded (`identity.trust.store_crl`).
    """

    anchor_fingerprint = models.CharField(max_length=64, db_index=True)  # SHA-256 of the anchor's DER
    issuer = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64, unique=True)
    number = models.DecimalField(max_digits=50, decimal_places=0, null=True)  # CRLNumber: up to 20 octets
    this_update = models.DateTimeField()
    next_update = models.DateTimeField(null=True)
    revoked_count = models.PositiveIntegerField()
    loaded_at = models.DateTimeField(auto_now_add=True)
    # Last column on purpose: SQLite keeps a multi-megabyte value in overflow pages it would walk to
    # reach any column stored after it, on every lookup of the newest CRL.
    der = models.BinaryField()

    def used(self) -> dict:
        return {"kind": "crl", "sha256": self.sha256, "number": None if self.number is None else int(self.number),
                "this_update": self.this_update.isoformat(),
                "next_update": self.next_update.isoformat() if self.next_update else None}


class RevokedSerial(models.Model):
    """One revoked serial of one CRL version: the lookup is an index probe, whatever the CRL's size."""

    revocation_list = models.ForeignKey(RevocationList, on_delete=models.CASCADE, related_name="serials")
    serial = models.CharField(max_length=40)  # lower-case hex, as in SignatureEvidence.serial

    class Meta:
        constraints = [models.UniqueConstraint(fields=["revocation_list", "serial"], name="unique_revoked_serial")]
