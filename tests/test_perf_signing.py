"""The PAdES signature built with the signing-certificate attribute encoded once per signer carries
the same signed attributes as pyhanko's default: content type, message digest and the
signing-certificate-v2 naming the municipality's certificate, and no signing time."""

import hashlib
import io

import pytest
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from madoguchi.documents.signing import active_key, rotate_signing_key, sign_pdf, verify_pdf

from .test_document_verification import clerk, printed  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


def _signed_attributes(pdf: bytes):
    signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    attrs = signature.signer_info["signed_attrs"]
    return signature, {attr["type"].native: attr["values"] for attr in attrs}


def test_signed_attributes_are_pyhankos_pades_set(printed, municipality):  # noqa: F811
    _request, document, _batch = printed
    pdf = sign_pdf(bytes(document.pdf), municipality)
    signature, attrs = _signed_attributes(pdf)
    assert sorted(attrs) == ["content_type", "message_digest", "signing_certificate_v2"]
    certificate = asn1_x509.Certificate.load(bytes(active_key(municipality).certificate_der))
    assert attrs["signing_certificate_v2"][0].dump() == as_signing_certificate_v2(certificate).dump()
    ess = attrs["signing_certificate_v2"][0]["certs"][0]
    assert ess["cert_hash"].native == hashlib.sha256(certificate.dump()).digest()
    status = validate_pdf_signature(signature, ValidationContext(trust_roots=[certificate]))
    assert status.intact and status.valid and status.trusted


def test_each_key_signs_with_its_own_certificate_attribute(printed, municipality):  # noqa: F811
    _request, document, _batch = printed
    before = sign_pdf(bytes(document.pdf), municipality)
    rotate_signing_key(municipality)
    after = sign_pdf(bytes(document.pdf), municipality)
    new_certificate = asn1_x509.Certificate.load(bytes(active_key(municipality).certificate_der))
    old_hash = _signed_attributes(before)[1]["signing_certificate_v2"][0]["certs"][0]["cert_hash"].native
    new_hash = _signed_attributes(after)[1]["signing_certificate_v2"][0]["certs"][0]["cert_hash"].native
    assert new_hash == hashlib.sha256(new_certificate.dump()).digest() != old_hash
    assert verify_pdf(before).valid and verify_pdf(after).valid
