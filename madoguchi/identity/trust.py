"""Trust material in the database: JPKI CA roots (signing and user authentication) and their CRLs.

Loaded by `manage.py jpki load-trust` / `load-crl`, refreshed by `refresh_revocation_data` (the
housekeeping sweep), read by `revocation_sources()` whenever a request's signature is verified.
"""

import datetime
import urllib.error
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.db import transaction
from django.utils import timezone

from . import jpki
from .models import RevocationList, RevokedSerial, TrustAnchor
from .revocation import CrlIndex, CrlRefused, OcspSource, StoredCrls, load_crl

# A CRL bigger than this is not a JPKI CRL (they are a few MB at most).
MAX_CRL_BYTES = 64 * 1024 * 1024
# Warn the back office a little before the CRL actually goes stale, so there is time to act.
STALE_WARNING = datetime.timedelta(hours=6)


class TrustError(Exception):
    """Trust material refused; the message says why (operators read it)."""


def active_anchors(purpose: str | None = jpki.CertificatePurpose.SIGNING) -> list[tuple[TrustAnchor, x509.Certificate]]:
    """The active roots for one kind of certificate (`jpki.CertificatePurpose`), or all with None:
    a signing CA never vouches for a sign-in, nor the other way round."""
    anchors = TrustAnchor.objects.filter(active=True).order_by("pk")
    if purpose is not None:
        anchors = anchors.filter(purpose=purpose)
    return [(anchor, jpki.load_certificate(bytes(anchor.certificate_der))) for anchor in anchors]


def load_anchor(data: bytes, name: str = "", crl_url: str = "", ocsp_url: str = "",
                purpose: str = jpki.CertificatePurpose.SIGNING) -> tuple[TrustAnchor, bool]:
    """Register a root (DER or PEM) once; returns (anchor, created)."""
    try:
        cert = jpki.load_certificate(data)
    except ValueError as exc:
        raise TrustError("not an X.509 certificate (DER or PEM)") from exc
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise TrustError("not a CA certificate")
    der = cert.public_bytes(serialization.Encoding.DER)
    for anchor in TrustAnchor.objects.all():
        if bytes(anchor.certificate_der) == der:
            return anchor, False
    anchor = TrustAnchor.objects.create(name=name or cert.subject.rfc4514_string()[:100], certificate_der=der,
                                        crl_url=crl_url, ocsp_url=ocsp_url, purpose=purpose)
    return anchor, True


def store_crl(data: bytes) -> tuple[RevocationList, bool]:
    """Check a CRL's signature against the active anchors, then keep it with its serials indexed.

    Returns (revocation list, created); the same CRL loaded twice is kept once.
    """
    if len(data) > MAX_CRL_BYTES:
        raise TrustError("CRL too large")
    try:
        crl = load_crl(data)
    except CrlRefused as exc:
        raise TrustError(str(exc)) from exc
    anchors = [cert for _anchor, cert in active_anchors(None)]
    index = CrlIndex.build(data, anchors)
    if index.issuer_fingerprint is None:
        raise TrustError("CRL not signed by any active trust anchor")
    existing = RevocationList.objects.filter(sha256=index.sha256).first()
    if existing:
        return existing, False
    latest = (RevocationList.objects.filter(anchor_fingerprint=index.issuer_fingerprint).defer("der")
              .order_by("-this_update", "-pk").first())
    if latest and latest.this_update > index.this_update:
        raise TrustError("a newer CRL of this CA is already loaded")
    with transaction.atomic():
        stored = RevocationList.objects.create(
            anchor_fingerprint=index.issuer_fingerprint, issuer=crl.issuer.rfc4514_string()[:300],
            der=crl.public_bytes(serialization.Encoding.DER), sha256=index.sha256, number=index.number,
            this_update=index.this_update, next_update=index.next_update, revoked_count=len(index.revoked))
        RevokedSerial.objects.bulk_create(
            (RevokedSerial(revocation_list=stored, serial=format(serial, "x")) for serial in index.revoked),
            batch_size=5000)
        # Older versions are superseded; their serials are no longer looked up (the DER stays for audit).
        RevokedSerial.objects.filter(revocation_list__anchor_fingerprint=index.issuer_fingerprint).exclude(
            revocation_list=stored).delete()
    return stored, True


def revocation_sources(anchors: list[tuple[TrustAnchor, x509.Certificate]]) -> list[jpki.RevocationSource]:
    """For one verification: the stored CRLs, plus the OCSP responders configured on `anchors`."""
    sources: list[jpki.RevocationSource] = [StoredCrls()]
    sources += [OcspSource(anchor.ocsp_url, cert) for anchor, cert in anchors if anchor.ocsp_url]
    return sources


def refresh_revocation_data(timeout: float = 30.0) -> list[str]:
    """Fetch each anchor's CRL from its published URL; returns one line per anchor for the log."""
    lines = []
    for anchor in TrustAnchor.objects.filter(active=True).exclude(crl_url=""):
        try:
            with urllib.request.urlopen(anchor.crl_url, timeout=timeout) as response:  # noqa: S310
                data = response.read(MAX_CRL_BYTES + 1)
            stored, created = store_crl(data)
        except (urllib.error.URLError, OSError, ValueError, TrustError) as exc:
            lines.append(f"{anchor.name}: failed: {exc}")
        else:
            lines.append(f"{anchor.name}: {'loaded' if created else 'unchanged'} CRL {stored.sha256[:12]}")
    return lines


def stale_anchors(now: datetime.datetime | None = None) -> list[TrustAnchor]:
    """Active anchors whose newest CRL is missing or goes stale within STALE_WARNING."""
    limit = (now or timezone.now()) + STALE_WARNING
    stale = []
    for anchor, cert in active_anchors(None):
        latest = StoredCrls.latest(cert)
        if latest is None or latest.next_update is None or latest.next_update < limit:
            stale.append(anchor)
    return stale


def recheck_signature(evidence, now: datetime.datetime | None = None) -> jpki.VerificationResult:
    """Verify a request's kept signature again with today's revocation data (fresh CRL, OCSP): a card
    revoked since the resident signed fails here with `Reason.REVOKED`."""
    now = now or timezone.now()
    anchors = active_anchors()
    return jpki.verify_signature(bytes(evidence.certificate_der), bytes(evidence.signature),
                                 bytes(evidence.signed_bytes), [cert for _anchor, cert in anchors],
                                 at=evidence.verified_at, now=now, revocation=revocation_sources(anchors))
