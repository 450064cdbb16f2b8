"""PAdES B-LT certification signatures with the municipality's document-signing key (pyhanko).

Each municipality has one active key (ECDSA P-256) with a certificate from the document CA
(`pki`) naming the municipality; `ensure_signing_key` creates it at onboarding or on first use,
`rotate_signing_key` retires it (the CRL revokes it as superseded) and makes a new one. A signature
carries an RFC 3161 timestamp (B-T) and the certificates and CRL to check it later (B-LT), and
certifies the document (DocMDP, no changes). Verification trusts exactly the certificates a
municipality has held, and a retired key only for signatures timestamped before it retired; a PDF
signed by anyone else, or changed after signing, fails. Signing costs tens of milliseconds per PDF,
so paper is signed once per print batch and a single document is signed when it is downloaded.
"""

import asyncio
import concurrent.futures
import datetime
import functools
import io
from dataclasses import dataclass

from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp as asn1_tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import attributes, fields, signers, timestamps
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from madoguchi.tenancy.models import DocumentSigningKey, Municipality

from . import pki

SIGNATURE_FIELD = "MadoguchiDocumentSignature"
# Room for the CMS signature (an ECDSA P-256 signature with its certificate needs about 1.5 kB).
# Given up front, pyhanko signs once instead of signing a dummy first to measure the size.
SIGNATURE_BYTES = 8192
VALIDITY = datetime.timedelta(days=10 * 365)


def _secret() -> bytes:
    if not settings.DOCUMENT_SIGNING_SECRET:
        raise ImproperlyConfigured("MADOGUCHI_DOCUMENT_SIGNING_SECRET must be set to sign documents.")
    return settings.DOCUMENT_SIGNING_SECRET.encode()


class RetiredKey(Exception):
    """A retired key was asked to sign: only the active key signs."""


class TimestampUnavailable(Exception):
    """The timestamp authority did not answer: nothing is signed without a trusted time."""

    message = _("タイムスタンプ局から時刻証明を受け取れませんでした。しばらくしてからもう一度お試しください。")


def _new_key(municipality: Municipality) -> DocumentSigningKey:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, municipality.full_name),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, municipality.code),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{municipality.full_name} 証明書署名"),
    ])
    certificate = pki.issue_signing_certificate(name, key.public_key(), VALIDITY)
    return DocumentSigningKey(
        municipality=municipality, certificate_der=certificate.public_bytes(serialization.Encoding.DER),
        encrypted_key_pem=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(_secret())))


def active_key(municipality: Municipality) -> DocumentSigningKey | None:
    return DocumentSigningKey.objects.for_municipality(municipality).filter(retired_at__isnull=True).first()


def _issued_by_document_ca(key: DocumentSigningKey) -> bool:
    certificate = x509.load_der_x509_certificate(bytes(key.certificate_der))
    try:
        certificate.verify_directly_issued_by(pki.document_ca().certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def ensure_signing_key(municipality: Municipality) -> DocumentSigningKey:
    """The active key, created if the municipality has none yet, replaced if the document CA did
    not issue it (a key from before the CA, or from a CA that was replaced)."""
    existing = active_key(municipality)
    if existing is not None:
        if _issued_by_document_ca(existing):
            return existing
        return rotate_signing_key(municipality)
    try:
        with transaction.atomic():
            new = _new_key(municipality)
            new.save()
            return new
    except IntegrityError:  # another process created it first
        return active_key(municipality)


@transaction.atomic
def rotate_signing_key(municipality: Municipality) -> DocumentSigningKey:
    """Retire the active key (the CRL revokes it from now, as superseded) and create a new one."""
    DocumentSigningKey.objects.for_municipality(municipality).filter(retired_at__isnull=True).update(
        retired_at=timezone.now())
    new = _new_key(municipality)
    new.save()
    return new


def current_crl() -> asn1_crl.CertificateList:
    """The document CA's CRL as of now: every retired key's certificate, revoked when it retired."""
    ca_subject = pki.document_ca().certificate.subject
    revoked = []
    for der, retired_at in DocumentSigningKey.objects.filter(retired_at__isnull=False).values_list(
            "certificate_der", "retired_at"):
        certificate = x509.load_der_x509_certificate(bytes(der))
        if certificate.issuer == ca_subject:
            revoked.append((certificate.serial_number, retired_at))
    return asn1_crl.CertificateList.load(pki.build_crl(revoked).public_bytes(serialization.Encoding.DER))


def _timestamp_trust_roots() -> list[asn1_x509.Certificate]:
    """Whom a timestamp token must chain to: the configured TSA roots, else the sandbox TSA's CA."""
    if settings.DOCUMENT_TSA_TRUST_ROOTS:
        with open(settings.DOCUMENT_TSA_TRUST_ROOTS, "rb") as f:
            return [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
                    for c in x509.load_pem_x509_certificates(f.read())]
    return [asn1_x509.Certificate.load(pki.document_ca().certificate_der)]


def _timestamper() -> timestamps.HTTPTimeStamper:
    if not settings.DOCUMENT_TSA_URL:
        raise ImproperlyConfigured("MADOGUCHI_DOCUMENT_TSA_URL must name an RFC 3161 timestamp authority.")
    auth = ((settings.DOCUMENT_TSA_USERNAME, settings.DOCUMENT_TSA_PASSWORD)
            if settings.DOCUMENT_TSA_USERNAME else None)
    return timestamps.HTTPTimeStamper(settings.DOCUMENT_TSA_URL, timeout=settings.DOCUMENT_TSA_TIMEOUT, auth=auth)


class _SigningCertificateV2(attributes.CMSAttributeProvider):
    """The signing-certificate-v2 attribute (RFC 5035; PAdES requires it) of one certificate.

    Built once per signer and kept as parsed DER: asn1crypto re-encodes a value assembled from
    Python objects every time it is read, which made this attribute most of a signature's cost."""

    attribute_type = "signing_certificate_v2"

    def __init__(self, signing_cert: asn1_x509.Certificate):
        self.value = asn1_tsp.SigningCertificateV2.load(as_signing_certificate_v2(signing_cert).dump())

    async def build_attr_value(self, dry_run: bool = False) -> asn1_tsp.SigningCertificateV2:
        return self.value


class _PadesSignedAttributes(attributes.SignedAttributeProviderSpec):
    """The signed attributes pyhanko gives a PAdES signature without CAdES extras: besides the
    content type and message digest, only signing-certificate-v2 (no signing time in PAdES)."""

    def __init__(self, signing_cert: asn1_x509.Certificate):
        self.signing_certificate = _SigningCertificateV2(signing_cert)

    def signed_attr_providers(self, data_digest: bytes, digest_algorithm: str):
        yield self.signing_certificate


@functools.lru_cache(maxsize=64)
def _signer(key_id: int, certificate_der: bytes, encrypted_key_pem: bytes, ca_der: bytes) -> signers.SimpleSigner:
    """Decrypting the key is deliberately slow (a KDF); done once per process and key."""
    private_key = serialization.load_pem_private_key(encrypted_key_pem, password=_secret())
    pkcs8 = private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
    certificate = asn1_x509.Certificate.load(certificate_der)
    # The CA's certificate travels in the signature, so a verifier can build the chain to the root.
    signer = signers.SimpleSigner(signing_cert=certificate, signing_key=asn1_keys.PrivateKeyInfo.load(pkcs8),
                                  cert_registry=SimpleCertificateStore.from_certs([asn1_x509.Certificate.load(ca_der)]))
    signer.signed_attr_prov_spec = _PadesSignedAttributes(certificate)
    return signer


def _run(coroutine):
    """Run pyhanko's coroutine to completion, also from a thread whose event loop is running
    (an ASGI worker, a browser-test driver), where pyhanko's synchronous wrappers would fail."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def sign_pdf(pdf: bytes, municipality: Municipality, key: DocumentSigningKey | None = None) -> bytes:
    """The PDF certified (DocMDP: no changes allowed) with a PAdES B-LT signature over the whole
    file by the municipality's active key: an RFC 3161 timestamp from the TSA (B-T) and, in the
    document security store, the certificates and the CRL that let it be checked later (B-LT).
    Raises RetiredKey for a key that is not the active one, TimestampUnavailable when the TSA fails."""
    active = ensure_signing_key(municipality)
    if key is not None and (key.pk != active.pk or key.retired_at is not None):
        raise RetiredKey(f"signing key #{key.pk} of {municipality.code} is retired")
    ca_der = pki.document_ca().certificate_der
    signer = _signer(active.pk, bytes(active.certificate_der), bytes(active.encrypted_key_pem), ca_der)
    context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(ca_der), *_timestamp_trust_roots()],
                                crls=[current_crl()], allow_fetching=False, revocation_mode="require")
    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        name=municipality.full_name, location=municipality.full_name,
        # A certification signature: viewers flag any later change but validation data (ISO 32000-2 §12.8.2.2).
        certify=True, docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        embed_validation_info=True, validation_context=context)
    try:
        output = _run(signers.PdfSigner(metadata, signer=signer, timestamper=_timestamper()).async_sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(pdf)), bytes_reserved=SIGNATURE_BYTES))
    except TimestampRequestError as exc:
        raise TimestampUnavailable(str(exc)) from exc
    return output.getvalue()


class Level(models.TextChoices):
    """PAdES baseline levels (ETSI EN 319 142-1 §6)."""

    B_B = "B-B", "PAdES B-B"
    B_T = "B-T", "PAdES B-T"
    B_LT = "B-LT", "PAdES B-LT"


@dataclass(frozen=True)
class SignatureCheck:
    valid: bool
    municipality: Municipality | None
    # The time the timestamp authority certified (not the signer's own claim); None without one.
    timestamp: datetime.datetime | None
    problem: str  # Japanese, for the page and the command; empty when valid
    level: str = ""


def _invalid(problem: str, municipality: Municipality | None = None) -> SignatureCheck:
    return SignatureCheck(False, municipality, None, problem)


def verify_pdf(pdf: bytes) -> SignatureCheck:
    """Is `pdf` signed, unaltered since (validation data and document timestamps aside), by a key
    some municipality here holds or held, at a time the key was active?"""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except (PdfReadError, ValueError, KeyError, TypeError):
        return _invalid(_("PDFとして読み取れません。"))
    if len(signatures) != 1:
        return _invalid(_("電子署名がありません。") if not signatures else _("電子署名が複数あります。"))
    signature = signatures[0]
    try:
        signer_der = signature.signer_cert.dump()
    except (ValueError, KeyError, TypeError, AttributeError):
        return _invalid(_("電子署名の形式が正しくありません。"))
    key = DocumentSigningKey.objects.select_related("municipality").filter(certificate_der=signer_der).first()
    if key is None:
        return _invalid(_("この電子署名は、当システムの団体の署名鍵によるものではありません。"))
    municipality = key.municipality
    # The key's own certificate is the anchor: the database says it is ours. Its retirement is
    # checked against the timestamp below, not through the CRL.
    context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(bytes(key.certificate_der))])
    ts_context = ValidationContext(trust_roots=_timestamp_trust_roots(), allow_fetching=False,
                                   revocation_mode="soft-fail")
    try:
        status = _run(async_validate_pdf_signature(signature, context, ts_validation_context=ts_context))
    except Exception:  # pyhanko raises many types for malformed CMS; all mean "not valid"
        return _invalid(_("電子署名を検証できません。"), municipality)
    if not (status.intact and status.valid):
        return _invalid(_("署名の後に内容が変更されています。"), municipality)
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE and not (
            status.coverage == SignatureCoverageLevel.ENTIRE_REVISION
            and _only_validation_data_after(reader, signature)):
        return _invalid(_("署名の後に内容が追加されています。"), municipality)
    if not status.trusted:
        return _invalid(_("署名鍵の証明書を確認できません。"), municipality)
    timestamp = None
    if status.timestamp_validity is not None:
        if not (status.timestamp_validity.intact and status.timestamp_validity.valid
                and status.timestamp_validity.trusted):
            return _invalid(_("タイムスタンプを確認できません。"), municipality)
        timestamp = status.timestamp_validity.timestamp
    if key.retired_at is not None and (timestamp is None
                                       or timestamp + _timestamp_accuracy(signature) >= key.retired_at):
        # A retired key may be in anyone's hands by now: only a trusted time before its retirement counts.
        return _invalid(_("廃止された署名鍵による署名で、廃止前に署名されたことを確認できません。"), municipality)
    level = Level.B_B if timestamp is None else (Level.B_LT if _long_term(reader, signature, timestamp) else Level.B_T)
    return SignatureCheck(True, municipality, timestamp, "", str(level))


# RFC 3161 §2.4.2: without an accuracy in the token the TSA's time is only known to the second.
DEFAULT_ACCURACY = datetime.timedelta(seconds=1)


def _timestamp_accuracy(signature) -> datetime.timedelta:
    """The accuracy the TSA states in the signature's timestamp token: the time it certifies is
    only known to lie within it, so "before the key retired" must hold for the latest possible time."""
    try:
        for attribute in signature.signer_info["unsigned_attrs"]:
            if attribute["type"].native == "signature_time_stamp_token":
                info = attribute["values"][0]["content"]["encap_content_info"]["content"].parsed
                accuracy = info["accuracy"].native
                if not accuracy:
                    return DEFAULT_ACCURACY
                return datetime.timedelta(seconds=accuracy.get("seconds") or 0,
                                          milliseconds=accuracy.get("millis") or 0,
                                          microseconds=accuracy.get("micros") or 0)
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    return DEFAULT_ACCURACY


# What pyhanko's writer touches in every incremental update besides the DSS: the modification date
# and producer in the document information and the XMP metadata stream.
UPDATE_STAMPS = {"/ModDate", "/Producer"}


def _only_validation_data_after(reader: PdfFileReader, signature) -> bool:
    """Whether every revision after the signed one only adds validation data (PAdES B-LT: the
    document security store). Stricter than pyhanko's diff policy, which lets the document
    information change: after our certification signature only the DSS and the update stamps may."""
    try:
        signed_revision = signature.signed_revision
        signed = reader.get_historical_resolver(signed_revision)
        root_ref = reader.root_ref
        allowed = {root_ref: {"/DSS"}}
        info_ref = signed.trailer_view.raw_get("/Info") if "/Info" in signed.trailer_view else None
        if info_ref is not None:
            allowed[info_ref.reference] = UPDATE_STAMPS
        metadata_ref = signed(root_ref).raw_get("/Metadata") if "/Metadata" in signed(root_ref) else None
        for revision in range(signed_revision + 1, reader.xrefs.total_revisions):
            later = reader.get_historical_resolver(revision)
            for ref in reader.xrefs.explicit_refs_in_revision(revision):
                if reader.xrefs.get_introducing_revision(ref) > signed_revision:
                    continue  # new objects: reachable only through what may change (checked here)
                if metadata_ref is not None and ref == metadata_ref.reference:
                    continue
                if ref not in allowed:
                    return False  # an object the signature covers was replaced
                before, after = signed(ref), later(ref)
                keys = (set(before.keys()) | set(after.keys())) - allowed[ref]
                if any(before.raw_get(k) != after.raw_get(k) for k in keys if k in before and k in after):
                    return False
                if any((k in before) != (k in after) for k in keys):
                    return False
            if later.trailer_view.raw_get("/Info") != (info_ref if info_ref is not None else None):
                return False
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError):
        return False
    return True


def _long_term(reader: PdfFileReader, signature, timestamp: datetime.datetime) -> bool:
    """B-LT: the document's own security store holds every certificate and CRL needed to check the
    signature and its timestamp up to the document CA, with nothing fetched and no revocation
    check skipped, at the time of the timestamp."""
    try:
        store = DocumentSecurityStore.read_dss(reader)
    except (NoDSSFoundError, PdfReadError, ValueError, KeyError, TypeError):
        return False
    roots = [asn1_x509.Certificate.load(pki.document_ca().certificate_der), *_timestamp_trust_roots()]
    try:
        settings_ = {"trust_roots": roots, "allow_fetching": False, "revocation_mode": "require",
                     "moment": timestamp}
        status = _run(async_validate_pdf_signature(
            signature, store.as_validation_context(settings_),
            ts_validation_context=store.as_validation_context(dict(settings_))))
    except Exception:  # anything missing or malformed means the document is not self-contained
        return False
    return bool(status.trusted and status.timestamp_validity is not None and status.timestamp_validity.trusted)
