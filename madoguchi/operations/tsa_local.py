"""The sandbox's own time-stamping authority (RFC 3161), for development, demos and tests.

It answers the same protocol as a commercial TSA (a TimeStampReq over HTTP, a TimeStampResp with a
CMS-signed TSTInfo, RFC 3161 and RFC 5816's signing-certificate-v2), with a small CA and a TSA
certificate (extended key usage timeStamping, critical) derived from the Django secret key, so
every process of a deployment computes the same certificates. Mounted under /sandbox/tsa/ only
when the sandbox is enabled; production uses a real TSA (MADOGUCHI_AUDIT_TSA_URL).
"""

import datetime
import functools
import hashlib
import secrets
from dataclasses import dataclass

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .keys import derived_p256_key
from .tsa import TimeStampResp

# A UUID-derived OID (ITU-T X.667) names this TSA's policy: no registration needed.
POLICY = "2.25.117036128407186453916640734883001412347"
MAX_REQUEST_BYTES = 4096
DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
VALID_FROM = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
VALID_UNTIL = datetime.datetime(2049, 12, 31, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class LocalTsa:
    key: ec.EllipticCurvePrivateKey
    certificate: asn1_x509.Certificate
    ca_certificate: asn1_x509.Certificate


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Madoguchi sandbox"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, issuer, public_key, signing_key, serial: int, *, ca: bool) -> asn1_x509.Certificate:
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(serial).not_valid_before(VALID_FROM).not_valid_after(VALID_UNTIL)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
    else:
        builder = (builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=True, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False),
            critical=True)
            # RFC 3161 section 2.3: the TSA certificate has exactly this EKU, marked critical.
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
                           critical=False))
    # Deterministic ECDSA (RFC 6979): every process derives byte-identical certificates.
    cert = builder.sign(signing_key, hashes.SHA256(), ecdsa_deterministic=True)
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


@functools.cache
def _build(secret: str) -> LocalTsa:
    ca_key = derived_p256_key(secret, "madoguchi sandbox TSA CA")
    tsa_key = derived_p256_key(secret, "madoguchi sandbox TSA")
    ca_name = _name("Madoguchi sandbox TSA CA")
    ca = _certificate(ca_name, ca_name, ca_key.public_key(), ca_key, 1, ca=True)
    tsa = _certificate(_name("Madoguchi sandbox TSA"), ca_name, tsa_key.public_key(), ca_key, 2, ca=False)
    return LocalTsa(tsa_key, tsa, ca)


def local_tsa() -> LocalTsa:
    return _build(settings.SECRET_KEY)


def _rejection(fail: str, text: str) -> bytes:
    return TimeStampResp({"status": {"status": "rejection", "status_string": [text],
                                     "fail_info": tsp.PKIFailureInfo({fail})}}).dump()


def respond(body: bytes, now: datetime.datetime | None = None) -> bytes:
    """The DER TimeStampResp to a DER TimeStampReq (a rejection with its PKIFailureInfo on bad input)."""
    if len(body) > MAX_REQUEST_BYTES:
        return _rejection("bad_request", "request too large")
    try:
        request = tsp.TimeStampReq.load(body, strict=True)
        _ = request.native  # parse every field now, so malformed content is caught here
        version = request["version"].native
        imprint = request["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        digest = imprint["hashed_message"].native
    except (ValueError, TypeError, KeyError, OverflowError):
        return _rejection("bad_data_format", "malformed TimeStampReq")
    if version != "v1":
        return _rejection("bad_data_format", "unsupported version")
    if DIGEST_SIZES.get(algorithm) != len(digest or b""):
        return _rejection("bad_alg", "unsupported hash algorithm or wrong digest length")
    if request["req_policy"].native not in (None, POLICY):
        return _rejection("unaccepted_policy", "unknown policy")
    if request["extensions"].native:
        return _rejection("unaccepted_extension", "extensions are not supported")
    tsa = local_tsa()
    info = {"version": "v1", "policy": POLICY, "message_imprint": imprint,
            "serial_number": secrets.randbits(63), "gen_time": (now or timezone.now()).astimezone(datetime.UTC),
            "accuracy": {"seconds": 1},
            "tsa": asn1_x509.GeneralName(name="directory_name", value=tsa.certificate.subject)}
    if request["nonce"].native is not None:
        info["nonce"] = request["nonce"].native
    content = tsp.TSTInfo(info).dump()
    signed_attrs = cms.CMSAttributes([
        {"type": "content_type", "values": ["tst_info"]},
        {"type": "message_digest", "values": [hashlib.sha256(content).digest()]},
        {"type": "signing_certificate_v2", "values": [tsp.SigningCertificateV2({
            "certs": [{"hash_algorithm": {"algorithm": "sha256"}, "cert_hash": tsa.certificate.sha256}]})]},
    ])
    signature = tsa.key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
    signer = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier(name="issuer_and_serial_number", value={
            "issuer": tsa.certificate.issuer, "serial_number": tsa.certificate.serial_number}),
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
        "signed_attrs": signed_attrs,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
        "signature": signature})
    signed_data = cms.SignedData({
        "version": "v3", "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
        "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(content)},
        "certificates": [tsa.certificate, tsa.ca_certificate] if request["cert_req"].native else [],
        "signer_infos": [signer]})
    token = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()


@csrf_exempt
@require_POST
def sandbox_tsa_view(http_request):
    if http_request.content_type != "application/timestamp-query":
        return HttpResponse(status=415)
    return HttpResponse(respond(http_request.body), content_type="application/timestamp-reply")
