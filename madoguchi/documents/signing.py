"""PAdES signatures with the municipality's document-signing key (pyhanko).

Each municipality has one active key (ECDSA P-256) with a self-issued certificate naming the
municipality; `ensure_signing_key` creates it at onboarding or on first use, `rotate_signing_key`
replaces it. Verification trusts exactly the certificates a municipality has held, so a PDF signed
by anyone else, or changed after signing, fails. Signing costs tens of milliseconds per PDF, so paper
is signed once per print batch and a single document is signed when it is downloaded.
"""

import asyncio
import concurrent.futures
import datetime
import functools
import io
from dataclasses import dataclass

from asn1crypto import keys as asn1_keys
from asn1crypto import tsp as asn1_tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import attributes, fields, signers
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from madoguchi.tenancy.models import DocumentSigningKey, Municipality

SIGNATURE_FIELD = "MadoguchiDocumentSignature"
# Room for the CMS signature (an ECDSA P-256 signature with its certificate needs about 1.5 kB).
# Given up front, pyhanko signs once instead of signing a dummy first to measure the size.
SIGNATURE_BYTES = 8192
VALIDITY = datetime.timedelta(days=10 * 365)


def _secret() -> bytes:
    if not settings.DOCUMENT_SIGNING_SECRET:
        raise ImproperlyConfigured("MADOGUCHI_DOCUMENT_SIGNING_SECRET must be set to sign documents.")
    return settings.DOCUMENT_SIGNING_SECRET.encode()


def _new_key(municipality: Municipality) -> DocumentSigningKey:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, municipality.full_name),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, municipality.code),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{municipality.full_name} 証明書署名"),
    ])
    now = timezone.now()
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256()))
    return DocumentSigningKey(
        municipality=municipality, certificate_der=certificate.public_bytes(serialization.Encoding.DER),
        encrypted_key_pem=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(_secret())))


def active_key(municipality: Municipality) -> DocumentSigningKey | None:
    return DocumentSigningKey.objects.for_municipality(municipality).filter(retired_at__isnull=True).first()


def ensure_signing_key(municipality: Municipality) -> DocumentSigningKey:
    """The active key, created if the municipality has none yet."""
    existing = active_key(municipality)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            new = _new_key(municipality)
            new.save()
            return new
    except IntegrityError:  # another process created it first
        return active_key(municipality)


@transaction.atomic
def rotate_signing_key(municipality: Municipality) -> DocumentSigningKey:
    DocumentSigningKey.objects.for_municipality(municipality).filter(retired_at__isnull=True).update(
        retired_at=timezone.now())
    new = _new_key(municipality)
    new.save()
    return new


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
def _signer(key_id: int, certificate_der: bytes, encrypted_key_pem: bytes) -> signers.SimpleSigner:
    """Decrypting the key is deliberately slow (a KDF); done once per process and key."""
    private_key = serialization.load_pem_private_key(encrypted_key_pem, password=_secret())
    pkcs8 = private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
    certificate = asn1_x509.Certificate.load(certificate_der)
    signer = signers.SimpleSigner(signing_cert=certificate, signing_key=asn1_keys.PrivateKeyInfo.load(pkcs8),
                                  cert_registry=None)
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


def sign_pdf(pdf: bytes, municipality: Municipality) -> bytes:
    """The PDF with a PAdES-B-B signature over the whole file by the municipality's active key."""
    key = ensure_signing_key(municipality)
    signer = _signer(key.pk, bytes(key.certificate_der), bytes(key.encrypted_key_pem))
    metadata = signers.PdfSignatureMetadata(field_name=SIGNATURE_FIELD, md_algorithm="sha256",
                                            subfilter=fields.SigSeedSubFilter.PADES,
                                            name=municipality.full_name, location=municipality.full_name)
    output = _run(signers.PdfSigner(metadata, signer=signer).async_sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)), bytes_reserved=SIGNATURE_BYTES))
    return output.getvalue()


@dataclass(frozen=True)
class SignatureCheck:
    valid: bool
    municipality: Municipality | None
    signed_at: datetime.datetime | None
    problem: str  # Japanese, for the page and the command; empty when valid


def verify_pdf(pdf: bytes) -> SignatureCheck:
    """Is `pdf` signed, unaltered since, by a key some municipality here holds or held?"""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except (PdfReadError, ValueError, KeyError, TypeError):
        return SignatureCheck(False, None, None, _("PDFとして読み取れません。"))
    if len(signatures) != 1:
        return SignatureCheck(False, None, None,
                              _("電子署名がありません。") if not signatures else _("電子署名が複数あります。"))
    signature = signatures[0]
    try:
        signer_der = signature.signer_cert.dump()
    except (ValueError, KeyError, TypeError, AttributeError):
        return SignatureCheck(False, None, None, _("電子署名の形式が正しくありません。"))
    key = DocumentSigningKey.objects.select_related("municipality").filter(certificate_der=signer_der).first()
    if key is None:
        return SignatureCheck(False, None, None,
                              _("この電子署名は、当システムの団体の署名鍵によるものではありません。"))
    context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(bytes(key.certificate_der))])
    try:
        status = _run(async_validate_pdf_signature(signature, context))
    except Exception:  # pyhanko raises many types for malformed CMS; all mean "not valid"
        return SignatureCheck(False, key.municipality, None, _("電子署名を検証できません。"))
    if not (status.intact and status.valid):
        return SignatureCheck(False, key.municipality, None, _("署名の後に内容が変更されています。"))
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return SignatureCheck(False, key.municipality, None, _("署名の後に内容が追加されています。"))
    if not status.trusted:
        return SignatureCheck(False, key.municipality, None, _("署名鍵の証明書を確認できません。"))
    return SignatureCheck(True, key.municipality, status.signer_reported_dt, "")
