"""An RFC 3161 time-stamp client and the check of a time-stamp token.

`timestamp(message)` sends a TimeStampReq (SHA-256 imprint, a random nonce, certReq) to the
configured TSA over HTTP (RFC 3161 section 3.4), and accepts the answer only when the status is
granted, the nonce and imprint are ours and the token verifies (`verify_token`). `verify_token`
checks the token's CMS signature, that the signing certificate carries the timeStamping extended
key usage and chains to a configured trust root, and that the imprint is the message's digest.
"""

import asyncio
import concurrent.futures
import datetime
import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

import requests
from asn1crypto import cms, core, pem, tsp
from asn1crypto import x509 as asn1_x509
from django.conf import settings
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.sign.validation.status import TimestampSignatureStatus
from pyhanko_certvalidator import ValidationContext

MAX_RESPONSE_BYTES = 64 * 1024
TIMEOUT = 10


class TimeStampResp(core.Sequence):
    """RFC 3161 section 2.4.2, with the token optional as the RFC has it (a refusal carries none;
    asn1crypto's own class requires it)."""

    _fields = [("status", tsp.PKIStatusInfo), ("time_stamp_token", cms.ContentInfo, {"optional": True})]


class TimestampError(Exception):
    """The TSA could not be reached, refused, or answered something that does not verify."""


@dataclass(frozen=True)
class TimestampCheck:
    valid: bool
    gen_time: datetime.datetime | None
    tsa: str
    problem: str


def _run(coroutine):
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def trust_roots() -> list[asn1_x509.Certificate]:
    roots = []
    if settings.AUDIT_TSA_CA_FILE:
        data = Path(settings.AUDIT_TSA_CA_FILE).read_bytes()
        for _type, _headers, der in pem.unarmor(data, multiple=True):
            roots.append(asn1_x509.Certificate.load(der))
    if settings.SANDBOX_ENABLED:
        from .tsa_local import local_tsa

        roots.append(local_tsa().ca_certificate)
    return roots


def build_request(digest: bytes, nonce: int) -> tsp.TimeStampReq:
    return tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
        "nonce": nonce, "cert_req": True})


def timestamp(message: bytes, url: str | None = None) -> bytes:
    """The DER TimeStampToken over SHA-256(message), from the TSA at `url` (settings by default)."""
    url = url or settings.AUDIT_TSA_URL
    if not url:
        raise TimestampError("No TSA configured (MADOGUCHI_AUDIT_TSA_URL).")
    digest = hashlib.sha256(message).digest()
    nonce = secrets.randbits(63)
    try:
        response = requests.post(url, data=build_request(digest, nonce).dump(), timeout=TIMEOUT, stream=True,
                                 headers={"Content-Type": "application/timestamp-query",
                                          "Accept": "application/timestamp-reply"})
        body = response.raw.read(MAX_RESPONSE_BYTES + 1, decode_content=True)
    except (requests.RequestException, OSError) as exc:
        raise TimestampError(f"TSA unreachable: {type(exc).__name__}") from None
    if response.status_code != 200 or response.headers.get("Content-Type", "").split(";")[0] != \
            "application/timestamp-reply":
        raise TimestampError(f"TSA answered HTTP {response.status_code} {response.headers.get('Content-Type')}")
    if len(body) > MAX_RESPONSE_BYTES:
        raise TimestampError("TSA response too large.")
    try:
        parsed = TimeStampResp.load(body, strict=True)
        status = parsed["status"]["status"].native
        if status not in ("granted", "granted_with_mods"):
            reasons = parsed["status"]["status_string"].native or []
            raise TimestampError(f"TSA refused: {status} {'; '.join(reasons)[:200]}")
        token = parsed["time_stamp_token"]
        info = token["content"]["encap_content_info"]["content"].parsed
        token_nonce = info["nonce"].native
        imprint = info["message_imprint"]["hashed_message"].native
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise TimestampError(f"TSA response malformed: {type(exc).__name__}") from None
    if token_nonce != nonce or imprint != digest:
        raise TimestampError("TSA answered another request (nonce or imprint differs).")
    der = token.dump()
    check = verify_token(der, message)
    if not check.valid:
        raise TimestampError(f"TSA token does not verify: {check.problem}")
    return der


def verify_token(token_der: bytes, message: bytes) -> TimestampCheck:
    """Does `token_der` time-stamp exactly `message`, signed by a TSA we trust?"""
    try:
        token = cms.ContentInfo.load(token_der)
        signed_data = token["content"]
        if token["content_type"].native != "signed_data":
            return TimestampCheck(False, None, "", "not a SignedData token")
        context = ValidationContext(trust_roots=trust_roots())
        kwargs = _run(validate_tst_signed_data(signed_data, context,
                                               lambda algorithm: hashlib.new(algorithm, message).digest()))
        status = TimestampSignatureStatus(**kwargs)
    except Exception as exc:  # asn1crypto and pyhanko raise many types for malformed input
        return TimestampCheck(False, None, "", f"unreadable token ({type(exc).__name__})")
    tsa = status.signing_cert.subject.human_friendly if status.signing_cert is not None else ""
    if not status.intact:
        return TimestampCheck(False, status.timestamp, tsa, "imprint does not match")
    if not status.valid:
        return TimestampCheck(False, status.timestamp, tsa, "signature invalid")
    if not status.trusted:
        return TimestampCheck(False, status.timestamp, tsa, "TSA not trusted")
    return TimestampCheck(True, status.timestamp, tsa, "")
