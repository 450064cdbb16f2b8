"""PAdES B-T/B-LT: the sandbox timestamp authority (RFC 3161), retired keys, the CRL, and what
happens when the TSA does not answer."""

import datetime
import hashlib
import io

import pytest
import requests
from asn1crypto import core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from madoguchi.applications import actions
from madoguchi.applications.models import State
from madoguchi.documents import signing
from madoguchi.documents.models import IssuedDocument, PrintBatch
from madoguchi.documents.pki import document_ca
from madoguchi.documents.tsa import POLICY, serve

from .flow import received
from .test_backoffice import make_staff, signed_in

pytestmark = pytest.mark.django_db(transaction=True)


def query(digest: bytes = b"\x01" * 32, algorithm: str = "sha256", **extra) -> bytes:
    return tsp.TimeStampReq({"version": "v1", "message_imprint": {"hash_algorithm": {"algorithm": algorithm},
                                                                  "hashed_message": digest},
                             "cert_req": True, **extra}).dump()


class StatusOnly(core.Sequence):
    """Reads a TimeStampResp's status whether or not a token follows."""

    _fields = [("status", tsp.PKIStatusInfo), ("time_stamp_token", core.Any, {"optional": True})]


def post(url: str, body: bytes, content_type: str = "application/timestamp-query") -> requests.Response:
    return requests.post(url, data=body, headers={"Content-Type": content_type}, timeout=10)


# --- the sandbox TSA ---------------------------------------------------------------------------------


def test_the_sandbox_tsa_grants_a_token_over_http_bound_to_the_hash_and_nonce(timestamp_authority):
    digest = hashlib.sha256(b"certificate").digest()
    response = post(timestamp_authority, query(digest, nonce=123456789))
    assert response.headers["Content-Type"] == "application/timestamp-reply"
    answer = tsp.TimeStampResp.load(response.content)
    assert answer["status"]["status"].native == "granted"
    signed_data = answer["time_stamp_token"]["content"]
    info = signed_data["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == digest
    assert info["nonce"].native == 123456789 and info["policy"].native == POLICY
    assert abs(info["gen_time"].native - datetime.datetime.now(datetime.UTC)) < datetime.timedelta(minutes=1)
    tsa_certificate = x509.load_der_x509_certificate(signed_data["certificates"][0].chosen.dump())
    tsa_certificate.verify_directly_issued_by(document_ca().certificate)
    usage = tsa_certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert usage.critical and [u.dotted_string for u in usage.value] == ["1.3.6.1.5.5.7.3.8"]


@pytest.mark.parametrize("body, failure", [
    (b"", "bad_data_format"),
    (b"\x00" * 40, "bad_data_format"),
    (b"\x30\x03\x02\x01", "bad_data_format"),  # truncated DER
    ("\ud800".encode("utf-8", "surrogatepass"), "bad_data_format"),  # a lone surrogate's bytes
    (query(algorithm="md5", digest=b"\x01" * 16), "bad_alg"),
    (query(digest=b"\x01" * 20), "bad_data_format"),  # a SHA-1-sized hash claimed as SHA-256
    (query(req_policy="1.2.3.4"), "unaccepted_policy"),
    (tsp.TimeStampReq({"version": 2, "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                                                         "hashed_message": b"\x01" * 32}}).dump(), "bad_request"),
])
def test_the_sandbox_tsa_rejects_malformed_requests_with_a_reason_and_no_token(timestamp_authority, body, failure):
    answer = StatusOnly.load(post(timestamp_authority, body).content)
    assert answer["status"]["status"].native == "rejection"
    assert failure in answer["status"]["fail_info"].native
    assert answer["time_stamp_token"].native is None


def test_the_sandbox_tsa_refuses_the_wrong_method_type_and_size(timestamp_authority):
    assert requests.get(timestamp_authority, timeout=10).status_code == 501  # http.server: no do_GET
    assert post(timestamp_authority, query(), content_type="text/plain").status_code == 415
    assert post(timestamp_authority, b"\x30" * (17 * 1024)).status_code == 413


def test_the_demo_mounts_the_same_tsa_under_sandbox(db):
    client = Client()
    response = client.post("/sandbox/document-tsa", query(), content_type="application/timestamp-query")
    assert response.status_code == 200 and response["Content-Type"] == "application/timestamp-reply"
    assert tsp.TimeStampResp.load(response.content)["status"]["status"].native == "granted"
    assert client.get("/sandbox/document-tsa").status_code == 405
    assert client.post("/sandbox/document-tsa", query(), content_type="text/plain").status_code == 415
    assert StatusOnly.load(client.post("/sandbox/document-tsa", b"\x00", content_type="application/timestamp-query")
                           .content)["status"]["status"].native == "rejection"


def stranger_tsa():
    """A TSA nobody here trusts: its own self-issued certificate for time-stamping."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    from madoguchi.documents.pki import Authority

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Stranger TSA")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(7).not_valid_before(now - datetime.timedelta(minutes=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
                   .sign(key, hashes.SHA256()))
    server = serve("127.0.0.1", 0, Authority(certificate, key))
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def test_a_timestamp_from_an_untrusted_authority_is_refused_when_signing_and_verifying(municipality, settings):
    server, url = stranger_tsa()
    try:
        key = signing.ensure_signing_key(municipality)
        blank = _blank_pdf()
        settings.DOCUMENT_TSA_URL = url
        with pytest.raises(Exception):  # noqa: B017 - pyhanko cannot validate the TSA for the DSS
            signing.sign_pdf(blank, municipality)
        pdf = signed_by(key, blank)
    finally:
        server.shutdown()
    check = signing.verify_pdf(pdf)
    assert not check.valid and "タイムスタンプ" in check.problem


def _blank_pdf() -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(100, 100, "blank")
    page.save()
    return buffer.getvalue()


# --- retired keys ------------------------------------------------------------------------------------


@pytest.fixture
def clerk(municipality):
    return make_staff(municipality, "clerk")


@pytest.fixture
def document(municipality, resident, clerk):
    request = received(municipality, resident)
    actions.approve(request, clerk)
    return IssuedDocument.objects.get(request=request)


def signed_by(key, pdf: bytes, *, timestamped: bool = True) -> bytes:
    """Sign with a given key the way an attacker holding it would: whatever our code allows."""
    signer = signing._signer(key.pk, bytes(key.certificate_der), bytes(key.encrypted_key_pem),
                             document_ca().certificate_der)
    metadata = signers.PdfSignatureMetadata(field_name="S", subfilter=fields.SigSeedSubFilter.PADES)
    timestamper = timestamps.HTTPTimeStamper(settings.DOCUMENT_TSA_URL) if timestamped else None
    return signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), metadata, signer=signer,
                            timestamper=timestamper).getvalue()


def test_a_retired_key_cannot_sign(document, municipality):
    old = signing.active_key(municipality) or signing.ensure_signing_key(municipality)
    signing.rotate_signing_key(municipality)
    old.refresh_from_db()
    with pytest.raises(signing.RetiredKey):
        signing.sign_pdf(bytes(document.pdf), municipality, key=old)
    new_pdf = signing.sign_pdf(bytes(document.pdf), municipality)
    assert signing.verify_pdf(new_pdf).valid


def test_a_signature_timestamped_after_the_key_retired_fails_and_one_before_passes(document, municipality):
    old = signing.ensure_signing_key(municipality)
    before = signing.sign_pdf(bytes(document.pdf), municipality)
    signing.rotate_signing_key(municipality)
    assert signing.verify_pdf(before).valid  # signed while the key was active: still valid
    after = signed_by(old, bytes(document.pdf))  # someone still holding the retired key
    check = signing.verify_pdf(after)
    assert not check.valid and "廃止" in check.problem
    untimed = signed_by(old, bytes(document.pdf), timestamped=False)
    check = signing.verify_pdf(untimed)
    assert not check.valid and "廃止" in check.problem


def test_the_crl_revokes_retired_keys_as_superseded_from_their_retirement(municipality):
    old = signing.ensure_signing_key(municipality)
    signing.rotate_signing_key(municipality)
    old.refresh_from_db()
    crl = x509.load_der_x509_crl(signing.current_crl().dump())
    assert crl.is_signature_valid(document_ca().certificate.public_key())
    serial = x509.load_der_x509_certificate(bytes(old.certificate_der)).serial_number
    entry = crl.get_revoked_certificate_by_serial_number(serial)
    assert entry is not None and entry.revocation_date_utc == old.retired_at.replace(microsecond=0)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.superseded
    active = x509.load_der_x509_certificate(bytes(signing.active_key(municipality).certificate_der))
    assert crl.get_revoked_certificate_by_serial_number(active.serial_number) is None


def test_pyhanko_rejects_a_retired_key_signature_against_the_current_crl(document, municipality):
    old = signing.ensure_signing_key(municipality)
    signing.rotate_signing_key(municipality)
    pdf = signed_by(old, bytes(document.pdf))
    from pyhanko.pdf_utils.reader import PdfFileReader

    signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    root = asn1_x509.Certificate.load(document_ca().certificate_der)
    context = ValidationContext(trust_roots=[root], crls=[signing.current_crl()], allow_fetching=False,
                                revocation_mode="require")
    assert not validate_pdf_signature(signature, context, ts_validation_context=context).trusted


def test_a_key_the_document_ca_did_not_issue_is_replaced_before_signing(municipality):
    from madoguchi.tenancy.models import DocumentSigningKey

    key = signing.ensure_signing_key(municipality)
    # A key from before the CA: its certificate is self-issued.
    DocumentSigningKey.objects.filter(pk=key.pk).update(certificate_der=bytes(
        _self_signed_certificate_der()))
    replacement = signing.ensure_signing_key(municipality)
    assert replacement.pk != key.pk
    assert DocumentSigningKey.objects.get(pk=key.pk).retired_at is not None


def _self_signed_certificate_der() -> bytes:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")])
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))


# --- when the TSA does not answer --------------------------------------------------------------------


def test_without_the_tsa_nothing_is_printed_and_the_clerk_is_told(document, municipality, clerk, settings):
    settings.DOCUMENT_TSA_URL = "http://127.0.0.1:9/"  # discard port: refused at once
    request = document.request
    with pytest.raises(actions.ActionError, match="タイムスタンプ局"):
        actions.record_printed([request], clerk)
    request.refresh_from_db()
    assert request.state == State.APPROVED and not PrintBatch.objects.exists()
    response = signed_in(clerk).get(reverse("backoffice:document_pdf", args=[request.public_id]))
    assert response.status_code == 503 and "タイムスタンプ局" in response.content.decode()


def test_the_verify_command_reports_the_level_and_the_timestamp(document, municipality, tmp_path):
    pdf = signing.sign_pdf(bytes(document.pdf), municipality)
    path = tmp_path / "signed.pdf"
    path.write_bytes(pdf)
    out = io.StringIO()
    call_command("documents", "verify", str(path), stdout=out)
    check = signing.verify_pdf(pdf)
    assert "PAdES B-LT" in out.getvalue() and "タイムスタンプ: " in out.getvalue()
    assert f"{check.timestamp.astimezone(datetime.timezone(datetime.timedelta(hours=9))):%Y-%m-%d %H:%M}" \
        in out.getvalue()
