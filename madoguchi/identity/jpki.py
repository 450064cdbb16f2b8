"""Verification of JPKI certificates and signatures (公的個人認証): the 署名用電子証明書 a request is
signed with, and the 利用者証明用電子証明書 a resident signs in with (`verify_authentication`).

A real My Number Card signs with RSASSA-PKCS1-v1_5 over SHA-256; its signing certificate carries
the basic four (基本4情報) in subjectAltName otherName entries under OID arc 1.2.392.200149.8.5.5.
Everything here is real cryptography (pyca/cryptography); the sandbox card uses the same format.
The result is a typed value, never an exception, so callers can show the reason to a clerk.

Revocation data (CRLs, OCSP) comes in through `madoguchi.identity.revocation` sources, CMS/PKCS#7
detached signatures through `madoguchi.identity.cms`; the policies applied after the cryptography
(under 15, 代替文字) are flags on the result. Reason codes and flags: docs/identity.md.
"""

import datetime
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ObjectIdentifier

from madoguchi.core.dates import era_of
from madoguchi.identity import cms as cms_signature

OID_ARC = "1.2.392.200149.8.5.5"
OID_NAME = ObjectIdentifier(f"{OID_ARC}.1")
OID_NAME_SUBSTITUTE = ObjectIdentifier(f"{OID_ARC}.2")
OID_SEX = ObjectIdentifier(f"{OID_ARC}.3")
OID_DATE_OF_BIRTH = ObjectIdentifier(f"{OID_ARC}.4")
OID_ADDRESS = ObjectIdentifier(f"{OID_ARC}.5")
OID_ADDRESS_SUBSTITUTE = ObjectIdentifier(f"{OID_ARC}.6")

class Reason:
    """Documented reason codes (docs/identity.md)."""

    MALFORMED = "malformed"
    MALFORMED_SIGNATURE = "malformed_signature"
    CA_CERTIFICATE = "ca_certificate"
    SELF_SIGNED = "self_signed"
    UNTRUSTED_ISSUER = "untrusted_issuer"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    KEY_USAGE = "key_usage"
    WEAK_KEY = "weak_key"
    WEAK_HASH = "weak_hash"
    BAD_SIGNATURE = "bad_signature"
    BASIC_FOUR = "basic_four_missing_or_malformed"
    # Revocation: fail closed. No data, data we cannot trust, or data too old is never "good".
    REVOKED = "revoked"
    REVOCATION_MISSING = "revocation_data_missing"
    CRL_STALE = "crl_stale"
    CRL_INVALID = "crl_invalid"
    OCSP_UNAVAILABLE = "ocsp_unavailable"
    OCSP_INVALID = "ocsp_invalid"
    # Policy, after the cryptography: JPKI issues signing certificates from age 15 (公的個人認証法 施行規則).
    UNDER_15 = "under_15"


class CertificatePurpose:
    """Which JPKI certificate: each has its own CA (and trust anchors) and key usage."""

    SIGNING = "signing"  # 署名用電子証明書: carries the basic four
    AUTHENTICATION = "authentication"  # 利用者証明用電子証明書: no name or address, only its serial


class PolicyFlag:
    """Documented flags on a verification result (docs/identity.md)."""

    UNDER_15 = "under_15"  # rejects
    SUBSTITUTE_CHARACTERS = "substitute_characters"  # 代替文字 in name or address: manual review


JST = zoneinfo.ZoneInfo("Asia/Tokyo")


@dataclass(frozen=True)
class BasicFour:
    name: str
    date_of_birth: datetime.date
    sex: str  # "1" male, "2" female
    address: str
    name_substitute: str = ""
    address_substitute: str = ""


@dataclass
class VerificationResult:
    valid: bool
    reason: str | None = None
    basic_four: BasicFour | None = None
    serial: str = ""
    subject: str = ""
    issuer: str = ""
    not_before: datetime.datetime | None = None
    not_after: datetime.datetime | None = None
    checks: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    # Which revocation data answered: one dict per CRL or OCSP response consulted.
    revocation: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        """The object `manage.py jpki verify` prints (docs/identity.md)."""
        bf = self.basic_four
        basic_four = None
        if bf is not None:
            basic_four = {"name": bf.name, "date_of_birth": bf.date_of_birth.isoformat(), "sex": bf.sex,
                          "address": bf.address}
            if bf.name_substitute:
                basic_four["name_substitute"] = bf.name_substitute
            if bf.address_substitute:
                basic_four["address_substitute"] = bf.address_substitute
        return {
            "valid": self.valid,
            "reason": self.reason,
            "basic_four": basic_four,
            "flags": self.flags,
            "serial": self.serial,
            "issuer": self.issuer,
            "not_after": self.not_after.isoformat() if self.not_after else None,
        }

    def evidence_json(self) -> dict:
        """What is kept with the request: the command's object plus the checks and revocation data."""
        return {**self.as_json(), "checks": self.checks, "revocation": self.revocation}


@dataclass(frozen=True)
class RevocationStatus:
    """One source's answer. `reason` None means "not revoked, and the data is trustworthy"."""

    reason: str | None
    used: dict


class RevocationSource(Protocol):
    def status(self, cert: x509.Certificate, issuer: x509.Certificate,
               now: datetime.datetime) -> RevocationStatus | None:
        """This source's answer for `cert` issued by `issuer`, or None if it has no data for that CA."""


# --- DER helpers for the otherName values (UTF8String) ---

def der_utf8(text: str) -> bytes:
    raw = text.encode("utf-8")
    n = len(raw)
    if n < 0x80:
        length = bytes([n])
    else:
        octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return b"\x0c" + length + raw


def parse_der_string(der: bytes) -> str:
    """Decode a DER UTF8String/PrintableString/IA5String; raises ValueError otherwise."""
    if len(der) < 2 or der[0] not in (0x0C, 0x13, 0x16):
        raise ValueError("not a string")
    first = der[1]
    if first < 0x80:
        length, offset = first, 2
    else:
        count = first & 0x7F
        if count == 0 or count > 3 or len(der) < 2 + count:
            raise ValueError("bad length")
        length, offset = int.from_bytes(der[2:2 + count], "big"), 2 + count
    if offset + length != len(der):
        raise ValueError("length mismatch")
    return der[offset:].decode("utf-8")


def encode_date_of_birth(d: datetime.date) -> str:
    return era_of(d).jpki_digit + d.strftime("%Y%m%d")


def decode_date_of_birth(value: str) -> datetime.date:
    if len(value) != 9 or not (value.isascii() and value.isdigit()) or value[0] not in "12345":
        raise ValueError("bad date of birth")
    d = datetime.date(int(value[1:5]), int(value[5:7]), int(value[7:9]))
    if encode_date_of_birth(d)[0] != value[0]:
        raise ValueError("era digit does not match the date")
    return d


def basic_four_other_names(bf: BasicFour) -> list[x509.OtherName]:
    entries = [
        (OID_NAME, bf.name),
        (OID_SEX, bf.sex),
        (OID_DATE_OF_BIRTH, encode_date_of_birth(bf.date_of_birth)),
        (OID_ADDRESS, bf.address),
    ]
    if bf.name_substitute:
        entries.append((OID_NAME_SUBSTITUTE, bf.name_substitute))
    if bf.address_substitute:
        entries.append((OID_ADDRESS_SUBSTITUTE, bf.address_substitute))
    return [x509.OtherName(oid, der_utf8(value)) for oid, value in entries]


def extract_basic_four(cert: x509.Certificate) -> BasicFour:
    """Raise ValueError unless each of the four is present exactly once and well formed."""
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    found: dict[str, str] = {}
    for other in san.get_values_for_type(x509.OtherName):
        if not other.type_id.dotted_string.startswith(OID_ARC + "."):
            continue
        key = other.type_id.dotted_string
        if key in found:
            raise ValueError(f"duplicate {key}")
        found[key] = parse_der_string(other.value)
    try:
        name, sex = found[OID_NAME.dotted_string], found[OID_SEX.dotted_string]
        dob, address = found[OID_DATE_OF_BIRTH.dotted_string], found[OID_ADDRESS.dotted_string]
    except KeyError as missing:
        raise ValueError(f"missing {missing}") from None
    if not name.strip() or not address.strip() or sex not in {"1", "2", "3"}:
        raise ValueError("empty or invalid value")
    return BasicFour(
        name=name, date_of_birth=decode_date_of_birth(dob), sex=sex, address=address,
        name_substitute=found.get(OID_NAME_SUBSTITUTE.dotted_string, ""),
        address_substitute=found.get(OID_ADDRESS_SUBSTITUTE.dotted_string, ""),
    )


def load_certificate(data: bytes) -> x509.Certificate:
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data.lstrip())
    return x509.load_der_x509_certificate(data)


def age_on(born: datetime.date, day: datetime.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _anchor(anchor: "bytes | x509.Certificate") -> x509.Certificate | None:
    if isinstance(anchor, x509.Certificate):
        return anchor
    try:
        return load_certificate(anchor)
    except ValueError:
        return None


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def verify_signature(
    certificate: bytes,
    signature: bytes,
    content: bytes,
    trust_anchors: Sequence[bytes | x509.Certificate],
    at: datetime.datetime,
    now: datetime.datetime | None = None,
    *,
    cms: bool = False,
    revocation: Sequence[RevocationSource] | None = None,
) -> VerificationResult:
    """Verify a signature over `content` by a JPKI signing certificate.

    `signature` is a bare RSASSA-PKCS1-v1_5 / SHA-256 signature, or with `cms` a detached CMS
    SignedData (DER or PEM). `at` is the signing time; the certificate must be valid both then and
    `now`. `revocation` None skips revocation checking (unit tests of the other checks); any
    sequence, even empty, makes it mandatory: a certificate no source knows about is refused.
    """
    return _verify(certificate, signature, content, trust_anchors, at, now or at, cms=cms, revocation=revocation,
                   purpose=CertificatePurpose.SIGNING)


def verify_authentication(
    certificate: bytes,
    signature: bytes,
    challenge: bytes,
    trust_anchors: Sequence[bytes | x509.Certificate],
    now: datetime.datetime,
    *,
    revocation: Sequence[RevocationSource] | None = None,
) -> VerificationResult:
    """Verify a 利用者証明用電子証明書's signature over a one-time `challenge` (sign-in).

    The same checks as a signing certificate's, with the user-authentication CA's anchors as
    `trust_anchors` and the digitalSignature key usage; the certificate carries no basic four, so
    the result names the card only by its serial (公的個人認証法 第22条: 利用者証明).
    """
    return _verify(certificate, signature, challenge, trust_anchors, now, now, cms=False, revocation=revocation,
                   purpose=CertificatePurpose.AUTHENTICATION)


def _verify(certificate, signature, content, trust_anchors, at, now, *, cms, revocation,
            purpose: str) -> VerificationResult:
    signing = purpose == CertificatePurpose.SIGNING
    try:
        cert = load_certificate(certificate)
        serial = format(cert.serial_number, "x")
        subject, issuer = cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
        not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
        public_key = cert.public_key()
        extensions = list(cert.extensions)  # parsed now, so a broken extension is "malformed"
        hash_algorithm = cert.signature_hash_algorithm
    except Exception:  # any parse failure of hostile input is "malformed"
        return VerificationResult(False, Reason.MALFORMED)
    del extensions

    result = VerificationResult(False, None, None, serial, subject, issuer, not_before, not_after)

    def fail(reason: str) -> VerificationResult:
        result.reason = reason
        return result

    if not isinstance(hash_algorithm, hashes.SHA256 | hashes.SHA384 | hashes.SHA512):
        return fail(Reason.WEAK_HASH)
    if _is_ca(cert):
        return fail(Reason.CA_CERTIFICATE)
    if cert.issuer == cert.subject and _issued_by(cert, cert):
        return fail(Reason.SELF_SIGNED)
    issuing = next((a for a in map(_anchor, trust_anchors)
                    if a is not None and a.subject == cert.issuer and _issued_by(cert, a)), None)
    if issuing is None:
        return fail(Reason.UNTRUSTED_ISSUER)
    result.checks.append("path")
    for moment in (at, now):
        if moment < not_before:
            return fail(Reason.NOT_YET_VALID)
        if moment > not_after:
            return fail(Reason.EXPIRED)
    result.checks.append("validity")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not (usage.digital_signature or (signing and usage.content_commitment)):
            return fail(Reason.KEY_USAGE)
    except x509.ExtensionNotFound:
        return fail(Reason.KEY_USAGE)
    result.checks.append("key_usage")
    if not isinstance(public_key, rsa.RSAPublicKey) or public_key.key_size < 2048:
        return fail(Reason.WEAK_KEY)
    if cms:
        try:
            cms_signature.verify_detached(signature, content, cert)
        except cms_signature.MalformedCms:
            return fail(Reason.MALFORMED_SIGNATURE)
        except cms_signature.WeakDigest:
            return fail(Reason.WEAK_HASH)
        except cms_signature.SignatureMismatch:
            return fail(Reason.BAD_SIGNATURE)
    else:
        try:
            public_key.verify(signature, content, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return fail(Reason.BAD_SIGNATURE)
    result.checks.append("signature")
    if signing:
        try:
            result.basic_four = extract_basic_four(cert)
        except (ValueError, x509.ExtensionNotFound, UnicodeDecodeError):
            return fail(Reason.BASIC_FOUR)
        result.checks.append("basic_four")
    if revocation is not None:
        for source in revocation:  # every source that knows the CA must say "not revoked"
            status = source.status(cert, issuing, now)
            if status is None:
                continue
            result.revocation.append(status.used)
            if status.reason:
                return fail(status.reason)
        if not result.revocation:
            return fail(Reason.REVOCATION_MISSING)
        result.checks.append("revocation")
    if not signing:
        result.valid = True
        return result
    bf = result.basic_four
    if bf.name_substitute or bf.address_substitute:
        result.flags.append(PolicyFlag.SUBSTITUTE_CHARACTERS)
    if age_on(bf.date_of_birth, now.astimezone(JST).date()) < 15:
        result.flags.append(PolicyFlag.UNDER_15)
        return fail(Reason.UNDER_15)
    result.valid = True
    return result
