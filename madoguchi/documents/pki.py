"""The document CA: issues the municipalities' document-signing certificates and publishes the CRL
that revokes retired keys; in the sandbox also the certificate of the local timestamp authority.

A verifier outside Madoguchi (Adobe Reader, poppler's pdfsig, pyHanko) trusts a certificate only
through a root it knows, and checks long after signing only with revocation data embedded in the
PDF (PAdES B-LT): so the signing certificates chain to one CA whose root the operator publishes,
and each signature carries that CA's CRL.

The CA's certificate and key are files in `settings.DOCUMENT_CA_DIR` (the key encrypted with
`MADOGUCHI_DOCUMENT_SIGNING_SECRET`), deployed like a secret on each host that signs. With DEBUG or
in tests a sandbox CA is created there on first use; in production `manage.py documents ca-init`
creates it once, and its `ca.pem` is what verifiers import as a trust anchor.
"""

import datetime
import functools
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

CA_VALIDITY = datetime.timedelta(days=20 * 365)
TSA_VALIDITY = datetime.timedelta(days=10 * 365)
# A CRL is issued with every signature; a verifier treats it as current for this long.
CRL_VALIDITY = datetime.timedelta(days=7)
# RFC 5280 §5.3.1: a key replaced by a new one is "superseded", not compromised: what it signed
# before the revocation date stays valid.
RETIREMENT_REASON = x509.ReasonFlags.superseded


class AuthorityMissing(ImproperlyConfigured):
    pass


@dataclass(frozen=True)
class Authority:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


def _secret() -> bytes:
    if not settings.DOCUMENT_SIGNING_SECRET:
        raise ImproperlyConfigured("MADOGUCHI_DOCUMENT_SIGNING_SECRET must be set to sign documents.")
    return settings.DOCUMENT_SIGNING_SECRET.encode()


def _directory() -> Path:
    return Path(settings.DOCUMENT_CA_DIR)


def _write_once(path: Path, data: bytes) -> None:
    """Create `path` atomically; when another process created it first, keep theirs."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".new-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.link(temporary, path)  # fails if it exists: the first writer wins
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)


def _extensions(builder: x509.CertificateBuilder, *, ca: bool, key, issuer_key) -> x509.CertificateBuilder:
    builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
    return builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key), critical=False)


def _key_usage(**usages) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{name: usages.get(name, False) for name in names})


def _new_root() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    sandbox = " (sandbox)" if (settings.DEBUG or settings.TESTING) else ""
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Madoguchi"),
                      x509.NameAttribute(NameOID.COMMON_NAME,
                                         f"Madoguchi Document CA{sandbox} {uuid.uuid4().hex[:8]}")])
    now = timezone.now()
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + CA_VALIDITY)
               .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True))
    certificate = _extensions(builder, ca=True, key=key.public_key(), issuer_key=key.public_key()).sign(
        key, hashes.SHA256())
    return certificate.public_bytes(serialization.Encoding.PEM), _encrypt(key)


def _encrypt(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(_secret()))


def _load(certificate_path: Path, key_path: Path) -> Authority:
    certificate = x509.load_pem_x509_certificate(certificate_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=_secret())
    return Authority(certificate, key)


def create_document_ca() -> Path:
    """Create the CA files unless they exist (`manage.py documents ca-init`); returns the root's path."""
    directory = _directory()
    certificate_pem, key_pem = _new_root()
    # The key first: a certificate without its key would be a CA nobody can use.
    _write_once(directory / "ca.key.pem", key_pem)
    key = serialization.load_pem_private_key((directory / "ca.key.pem").read_bytes(), password=_secret())
    if key.public_key() == x509.load_pem_x509_certificate(certificate_pem).public_key():
        _write_once(directory / "ca.pem", certificate_pem)
    _load_document_ca.cache_clear()
    return directory / "ca.pem"


@functools.lru_cache(maxsize=4)
def _load_document_ca(directory: str) -> Authority:
    return _load(Path(directory) / "ca.pem", Path(directory) / "ca.key.pem")


def document_ca() -> Authority:
    """The CA (decrypted once per process: the key's KDF is deliberately slow)."""
    directory = _directory()
    if not (directory / "ca.pem").exists():
        if not (settings.DEBUG or settings.TESTING):
            raise AuthorityMissing(f"No document CA in {directory}: run `manage.py documents ca-init`.")
        create_document_ca()
        # Another process may have won the race with its own key: wait for its certificate.
        for _ in range(50):
            if (directory / "ca.pem").exists():
                break
            time.sleep(0.1)
        else:
            raise AuthorityMissing(f"The document CA in {directory} has a key but no certificate.")
    return _load_document_ca(str(directory))


def issue_signing_certificate(subject: x509.Name, public_key, validity: datetime.timedelta) -> x509.Certificate:
    ca = document_ca()
    now = timezone.now()
    not_after = min(now + validity, ca.certificate.not_valid_after_utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.certificate.subject)
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(not_after)
               .add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True))
    return _extensions(builder, ca=False, key=public_key, issuer_key=ca.key.public_key()).sign(ca.key, hashes.SHA256())


def build_crl(revoked: list[tuple[int, datetime.datetime]]) -> x509.CertificateRevocationList:
    """The CA's CRL listing `revoked` (serial number, retirement time), valid for CRL_VALIDITY."""
    ca = document_ca()
    now = timezone.now()
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.certificate.subject)
               .last_update(now - datetime.timedelta(minutes=1)).next_update(now + CRL_VALIDITY)
               .add_extension(x509.CRLNumber(int(now.timestamp() * 1000)), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                              critical=False))
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
            .add_extension(x509.CRLReason(RETIREMENT_REASON), critical=False).build())
    return builder.sign(ca.key, hashes.SHA256())


# --- the sandbox timestamp authority's certificate --------------------------------------------------


def _new_tsa(ca: Authority) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Madoguchi"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Madoguchi Sandbox Timestamp Authority")])
    now = timezone.now()
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(ca.certificate.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(min(now + TSA_VALIDITY, ca.certificate.not_valid_after_utc))
               .add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
               # RFC 3161 §2.3: the TSA's certificate has exactly this one extended key usage, critical.
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True))
    certificate = _extensions(builder, ca=False, key=key.public_key(), issuer_key=ca.key.public_key()).sign(
        ca.key, hashes.SHA256())
    return certificate.public_bytes(serialization.Encoding.PEM), _encrypt(key)


@functools.lru_cache(maxsize=4)
def _load_tsa(directory: str) -> Authority:
    return _load(Path(directory) / "tsa.pem", Path(directory) / "tsa.key.pem")


def sandbox_timestamp_authority() -> Authority:
    """The local TSA's certificate and key, issued by the document CA (sandbox only)."""
    if not settings.SANDBOX_ENABLED:
        raise ImproperlyConfigured("The local timestamp authority is a sandbox service.")
    directory = _directory()
    ca = document_ca()
    if not (directory / "tsa.pem").exists():
        certificate_pem, key_pem = _new_tsa(ca)
        _write_once(directory / "tsa.key.pem", key_pem)
        key = serialization.load_pem_private_key((directory / "tsa.key.pem").read_bytes(), password=_secret())
        if key.public_key() == x509.load_pem_x509_certificate(certificate_pem).public_key():
            _write_once(directory / "tsa.pem", certificate_pem)
    return _load_tsa(str(directory))
