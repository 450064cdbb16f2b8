"""Revocation sources for JPKI signing certificates: CRLs and OCSP (RFC 5280 §6.3, RFC 6960).

Every source fails closed: a CRL that its CA did not sign, a CRL past its nextUpdate, an OCSP
responder that is down, slow or answers with anything we cannot verify, all refuse the certificate
with their own reason code, never "good".

A JPKI CRL lists every revoked signing certificate of its CA, hundreds of thousands of serials. Its
signature is checked once, when it is loaded, and its serials become a set (`CrlIndex`, for files)
or rows keyed by (CRL, serial) (`StoredCrls`, for the database), so a lookup costs the same whatever
the size of the CRL.
"""

import base64
import datetime
import hashlib
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from .jpki import Reason, RevocationStatus
from .models import RevocationList, RevokedSerial

# Clocks of a responder and of ours differ a little; RFC 5019 §4 suggests tolerating minutes.
CLOCK_SKEW = datetime.timedelta(minutes=5)


class CrlRefused(Exception):
    """A CRL that cannot be used at all (not a CRL, or signed by none of the anchors)."""


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data.lstrip())
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise CrlRefused("not a CRL (DER or PEM)") from exc


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def crl_signer(crl: x509.CertificateRevocationList, anchors: Iterable[x509.Certificate]) -> x509.Certificate | None:
    """The anchor whose key signed this CRL (same name, valid signature), if any."""
    for anchor in anchors:
        if anchor.subject == crl.issuer:
            try:
                if crl.is_signature_valid(anchor.public_key()):
                    return anchor
            except (TypeError, ValueError, InvalidSignature):
                continue
    return None


@dataclass(frozen=True)
class CrlIndex:
    """One CRL version, checked once: who signed it, when it is fresh until, the revoked serials."""

    issuer_fingerprint: str | None  # None: signed by no anchor we know (forged, or a foreign CA)
    issuer_name: x509.Name
    this_update: datetime.datetime
    next_update: datetime.datetime | None
    number: int | None
    sha256: str
    revoked: frozenset[int]

    @classmethod
    def build(cls, data: bytes, anchors: Iterable[x509.Certificate]) -> "CrlIndex":
        crl = load_crl(data)
        signer = crl_signer(crl, anchors)
        try:
            number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        except x509.ExtensionNotFound:
            number = None
        return cls(
            issuer_fingerprint=fingerprint(signer) if signer else None, issuer_name=crl.issuer,
            this_update=crl.last_update_utc, next_update=crl.next_update_utc, number=number,
            sha256=hashlib.sha256(crl.public_bytes(serialization.Encoding.DER)).hexdigest(),
            revoked=frozenset(entry.serial_number for entry in crl) if signer else frozenset(),
        )

    def used(self) -> dict:
        return {"kind": "crl", "sha256": self.sha256, "number": self.number,
                "this_update": self.this_update.isoformat(),
                "next_update": self.next_update.isoformat() if self.next_update else None}


class CrlSet:
    """CRLs given as files (the command, the benchmark). Each is indexed once, when built."""

    def __init__(self, crls: Iterable[bytes], anchors: Iterable[x509.Certificate]):
        anchors = list(anchors)
        self.indexes = [CrlIndex.build(data, anchors) for data in crls]

    def status(self, cert: x509.Certificate, issuer: x509.Certificate,
               now: datetime.datetime) -> RevocationStatus | None:
        # A CRL naming the issuer counts even when forged, so that it is refused as forged.
        mine = [index for index in self.indexes if index.issuer_name == issuer.subject]
        if not mine:
            return None
        authentic = [index for index in mine if index.issuer_fingerprint == fingerprint(issuer)]
        if not authentic:
            forged = mine[0]
            return RevocationStatus(Reason.CRL_INVALID, forged.used())
        latest = max(authentic, key=lambda index: index.this_update)
        return _judge(latest.used(), latest.next_update, now, cert.serial_number in latest.revoked)


def _judge(used: dict, next_update: datetime.datetime | None, now: datetime.datetime,
           revoked: bool) -> RevocationStatus:
    """A CRL without nextUpdate never counts as fresh (RFC 5280 §5.1.2.5 requires the field)."""
    if next_update is None or next_update < now:
        return RevocationStatus(Reason.CRL_STALE, used)
    return RevocationStatus(Reason.REVOKED if revoked else None, used)


class StoredCrls:
    """CRLs loaded into the database (`manage.py jpki load-crl`, the refresh task).

    Two small queries: the newest CRL of the CA (without its DER, megabytes), then one probe of the
    (CRL, serial) index. (One query with an EXISTS subquery costs more to build than both together.)
    """

    def status(self, cert: x509.Certificate, issuer: x509.Certificate,
               now: datetime.datetime) -> RevocationStatus | None:
        latest = self.latest(issuer)
        if latest is None:
            return None
        revoked = RevokedSerial.objects.filter(revocation_list_id=latest.pk,
                                               serial=format(cert.serial_number, "x")).exists()
        return _judge(latest.used(), latest.next_update, now, revoked)

    @staticmethod
    def latest(issuer: x509.Certificate) -> RevocationList | None:
        """The newest CRL's metadata, as an unsaved-looking instance without its DER (megabytes).
        Built from `values()`: a deferred-field queryset costs several times more per verification."""
        row = (RevocationList.objects.filter(anchor_fingerprint=fingerprint(issuer)).order_by("-this_update", "-pk")
               .values("pk", "issuer", "sha256", "number", "this_update", "next_update", "revoked_count").first())
        return None if row is None else RevocationList(id=row.pop("pk"), **row)


def _cert_id(cert: x509.Certificate, issuer: x509.Certificate, nonce: bytes | None) -> ocsp.OCSPRequest:
    # CertID hashes: SHA-1 is what RFC 5019 responders are required to accept; it names, not signs.
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build()


def judge_ocsp_response(body: bytes, cert: x509.Certificate, issuer: x509.Certificate, now: datetime.datetime,
                        nonce: bytes | None, used: dict) -> RevocationStatus:
    """Check an OCSP answer for `cert`; `nonce` None when replaying a kept answer (its nonce was checked then)."""
    try:
        answer = ocsp.load_der_ocsp_response(body)
    except ValueError:
        return RevocationStatus(Reason.OCSP_INVALID, used)
    if answer.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        used["response_status"] = answer.response_status.name
        return RevocationStatus(Reason.OCSP_UNAVAILABLE, used)
    # The answer itself is kept (a few kB) so that the evidence can be re-verified later.
    used.update(produced_at=answer.produced_at_utc.isoformat(), sha256=hashlib.sha256(body).hexdigest(),
                response=base64.b64encode(body).decode())
    if not OcspSource.authentic(answer, issuer, now):
        return RevocationStatus(Reason.OCSP_INVALID, used)
    if nonce is not None:
        try:
            echoed = answer.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            echoed = nonce  # responders may answer from a pre-signed cache without the nonce (RFC 5019)
        if echoed != nonce:
            return RevocationStatus(Reason.OCSP_INVALID, used)
    cert_id = _cert_id(cert, issuer, None)
    single = next((r for r in answer.responses if r.serial_number == cert.serial_number
                   and r.issuer_key_hash == cert_id.issuer_key_hash
                   and r.issuer_name_hash == cert_id.issuer_name_hash), None)
    if single is None or single.this_update_utc > now + CLOCK_SKEW:
        return RevocationStatus(Reason.OCSP_INVALID, used)
    if single.next_update_utc is not None and single.next_update_utc < now - CLOCK_SKEW:
        return RevocationStatus(Reason.OCSP_INVALID, used)
    used["cert_status"] = single.certificate_status.name.lower()
    if single.certificate_status == ocsp.OCSPCertStatus.REVOKED:
        return RevocationStatus(Reason.REVOKED, used)
    if single.certificate_status != ocsp.OCSPCertStatus.GOOD:
        return RevocationStatus(Reason.OCSP_INVALID, used)
    return RevocationStatus(None, used)


class OcspSource:
    """An OCSP responder for certificates of one CA (RFC 6960), asked over HTTP POST."""

    def __init__(self, url: str, issuer: x509.Certificate, timeout: float = 5.0):
        self.url, self.issuer_fingerprint, self.timeout = url, fingerprint(issuer), timeout

    def status(self, cert: x509.Certificate, issuer: x509.Certificate,
               now: datetime.datetime) -> RevocationStatus | None:
        if fingerprint(issuer) != self.issuer_fingerprint:
            return None
        nonce = secrets.token_bytes(16)
        used = {"kind": "ocsp", "url": self.url}
        http_request = urllib.request.Request(
            self.url, data=_cert_id(cert, issuer, nonce).public_bytes(serialization.Encoding.DER),
            headers={"Content-Type": "application/ocsp-request", "Accept": "application/ocsp-response"})
        try:
            with urllib.request.urlopen(http_request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read(1024 * 1024)
        except (urllib.error.URLError, OSError, ValueError):
            return RevocationStatus(Reason.OCSP_UNAVAILABLE, used)
        return judge_ocsp_response(body, cert, issuer, now, nonce, used)

    @staticmethod
    def authentic(answer: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime.datetime) -> bool:
        """Signed by the CA itself, or by a responder certificate the CA issued for OCSP signing."""
        signer = issuer
        if answer.certificates:
            delegate = answer.certificates[0]
            try:
                delegate.verify_directly_issued_by(issuer)
                purposes = delegate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
                return False
            if ExtendedKeyUsageOID.OCSP_SIGNING not in purposes:
                return False
            if not delegate.not_valid_before_utc <= now <= delegate.not_valid_after_utc:
                return False
            signer = delegate
        try:
            signer.public_key().verify(answer.signature, answer.tbs_response_bytes, padding.PKCS1v15(),
                                       answer.signature_hash_algorithm)
        except (InvalidSignature, TypeError, ValueError):
            return False
        return True


class KeptOcspResponses:
    """OCSP answers kept with the evidence, replayed when the request is re-verified later."""

    def __init__(self, responses: Iterable[bytes]):
        self.responses = list(responses)

    def status(self, cert: x509.Certificate, issuer: x509.Certificate,
               now: datetime.datetime) -> RevocationStatus | None:
        for body in self.responses:
            status = judge_ocsp_response(body, cert, issuer, now, None, {"kind": "ocsp", "url": "kept"})
            if status.reason != Reason.OCSP_INVALID:  # an answer about another certificate is not ours
                return status
        return None
