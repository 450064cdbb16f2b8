"""Issue virtual cards and sign with them, as a card reader and the JPKI applet would."""

import datetime
import hashlib
import hmac
import secrets

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.db import transaction

from madoguchi.identity import trust
from madoguchi.identity.jpki import BasicFour, CertificatePurpose, basic_four_other_names
from madoguchi.identity.models import TrustAnchor
from madoguchi.registry.models import CardCertificateLink, Resident

from .models import SandboxAuthority, SandboxCard

DEMO_PIN = "ABC123"
# The JPKI signing password locks after 5 wrong tries.
MAX_PIN_ATTEMPTS = 5
CA_NAME = "Madoguchi Sandbox JPKI Signing CA"
# The 利用者証明用電子証明書 has a 4-digit PIN that locks after 3 wrong tries, and a CA of its own.
DEMO_AUTH_PIN = "1234"
MAX_AUTH_PIN_ATTEMPTS = 3
AUTH_CA_NAME = "Madoguchi Sandbox JPKI User Authentication CA"
CA_NAMES = {CertificatePurpose.SIGNING: CA_NAME, CertificatePurpose.AUTHENTICATION: AUTH_CA_NAME}
# The sandbox CA publishes an (empty) CRL like the real one, re-issued whenever it nears its end.
CRL_LIFETIME = datetime.timedelta(days=30)


class CardLocked(Exception):
    pass


class WrongPin(Exception):
    def __init__(self, remaining: int):
        super().__init__(remaining)
        self.remaining = remaining


def _pin_hash(salt: str, pin: str) -> str:
    return hmac.new(salt.encode(), pin.encode(), hashlib.sha256).hexdigest()


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def ensure_authority(purpose: str = CertificatePurpose.SIGNING) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """Create the sandbox CA for `purpose` once and register its root as a trust anchor."""
    ca_name = CA_NAMES[purpose]
    authority = SandboxAuthority.objects.filter(purpose=purpose).order_by("id").first()
    if authority is None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Madoguchi Sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, ca_name),
        ])
        now = _now()
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                           critical=True)
            .sign(key, hashes.SHA256())
        )
        with transaction.atomic():
            authority = SandboxAuthority.objects.create(
                purpose=purpose,
                certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
                private_key_pem=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()).decode(),
            )
            TrustAnchor.objects.create(name=ca_name, certificate_der=cert.public_bytes(serialization.Encoding.DER),
                                       purpose=purpose)
    cert = x509.load_pem_x509_certificate(authority.certificate_pem.encode())
    key = serialization.load_pem_private_key(authority.private_key_pem.encode(), password=None)
    if any(anchor.name == ca_name for anchor in trust.stale_anchors()):
        publish_crl(cert, key)
    return cert, key


def publish_crl(ca_cert: x509.Certificate, ca_key: rsa.RSAPrivateKey) -> None:
    now = _now()
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
           .last_update(now - datetime.timedelta(minutes=1)).next_update(now + CRL_LIFETIME)
           # Milliseconds: two publications within one second are still two CRL versions.
           .add_extension(x509.CRLNumber(int(now.timestamp() * 1000)), critical=False)
           .sign(ca_key, hashes.SHA256()))
    trust.store_crl(crl.public_bytes(serialization.Encoding.DER))


def _card_certificate(ca_cert: x509.Certificate, public_key, not_before: datetime.datetime,
                      not_after: datetime.datetime) -> x509.CertificateBuilder:
    """What both certificates on a card share: a random subject with no personal data, the CA as
    issuer, a random serial, the validity, and no CA rights."""
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.COMMON_NAME, secrets.token_hex(8).upper()),
        ]))
        .issuer_name(ca_cert.subject).public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )


def build_signing_certificate(
    ca_cert: x509.Certificate, ca_key: rsa.RSAPrivateKey, public_key, basic_four: BasicFour,
    not_before: datetime.datetime, not_after: datetime.datetime,
) -> x509.Certificate:
    """A signing certificate shaped like JPKI's: no personal data in the subject DN,
    the basic four in subjectAltName otherName entries, non-repudiation key usage."""
    return (
        _card_certificate(ca_cert, public_key, not_before, not_after)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.SubjectAlternativeName(basic_four_other_names(basic_four)), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def build_authentication_certificate(
    ca_cert: x509.Certificate, ca_key: rsa.RSAPrivateKey, public_key,
    not_before: datetime.datetime, not_after: datetime.datetime,
) -> x509.Certificate:
    """A user-authentication certificate shaped like JPKI's: no name, address or other personal
    data anywhere, digitalSignature key usage; the person is known only through its serial."""
    return (
        _card_certificate(ca_cert, public_key, not_before, not_after)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )


def basic_four_of(resident: Resident) -> BasicFour:
    return BasicFour(name=resident.name, date_of_birth=resident.date_of_birth, sex=resident.sex,
                     address=resident.household.address)


def issue_card(resident: Resident, pin: str = DEMO_PIN) -> SandboxCard:
    existing = SandboxCard.objects.filter(resident=resident).first()
    if existing:
        return existing
    ca_cert, ca_key = ensure_authority()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = _now()
    cert = build_signing_certificate(ca_cert, ca_key, key.public_key(), basic_four_of(resident),
                                     now - datetime.timedelta(days=1), now + datetime.timedelta(days=5 * 365))
    salt = secrets.token_hex(8)
    card, _ = SandboxCard.objects.get_or_create(resident=resident, defaults=dict(
        card_code=resident.person_number,
        private_key_pem=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()).decode(),
        certificate_der=cert.public_bytes(serialization.Encoding.DER),
        pin_salt=salt, pin_hash=_pin_hash(salt, pin),
    ))
    return card


def ensure_authentication_certificate(card: SandboxCard, pin: str = DEMO_AUTH_PIN) -> SandboxCard:
    """The card's 利用者証明用電子証明書, issued beside the signing one on first use. The sandbox also
    plays the core system's linkage file: the serial is linked to the person in the replica
    (`CardCertificateLink`), as the municipality's import would do for a real card."""
    with transaction.atomic():
        card = SandboxCard.objects.select_for_update().select_related("resident").get(pk=card.pk)
        if card.auth_certificate_der:
            return card
        ca_cert, ca_key = ensure_authority(CertificatePurpose.AUTHENTICATION)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = _now()
        cert = build_authentication_certificate(ca_cert, ca_key, key.public_key(), now - datetime.timedelta(days=1),
                                                now + datetime.timedelta(days=5 * 365))
        card.auth_private_key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()).decode()
        card.auth_certificate_der = cert.public_bytes(serialization.Encoding.DER)
        card.auth_pin_salt = secrets.token_hex(8)
        card.auth_pin_hash = _pin_hash(card.auth_pin_salt, pin)
        card.save(update_fields=["auth_private_key_pem", "auth_certificate_der", "auth_pin_salt", "auth_pin_hash"])
        CardCertificateLink.objects.update_or_create(
            municipality_id=card.resident.municipality_id, serial_number=format(cert.serial_number, "x"),
            defaults={"resident": card.resident, "valid_until": cert.not_valid_after_utc.date()})
    return card


def find_card(municipality, card_code: str) -> SandboxCard | None:
    """The card in the resident's hand. Cards are issued on first use in the sandbox."""
    card_code = card_code.strip()
    card = SandboxCard.objects.filter(card_code=card_code, resident__municipality=municipality).first()
    if card:
        return card
    resident = Resident.objects.filter(municipality=municipality, person_number=card_code).first()
    return issue_card(resident) if resident else None


def _unlock(card: SandboxCard, pin: str, *, prefix: str, max_attempts: int) -> SandboxCard:
    """The card applet's PIN check for one of its two certificates (`prefix` "" for signing, "auth_"
    for user authentication): each has its own PIN, attempt counter and lock."""
    fields = {name: f"{prefix}{name}" for name in ("locked", "pin_hash", "pin_salt", "failed_pin_attempts")}
    # The attempt counter must be committed before we raise, or a wrong PIN would not count.
    with transaction.atomic():
        card = SandboxCard.objects.select_for_update().get(pk=card.pk)
        locked = getattr(card, fields["locked"])
        pin_ok = not locked and hmac.compare_digest(
            getattr(card, fields["pin_hash"]), _pin_hash(getattr(card, fields["pin_salt"]), pin))
        if not locked:
            attempts = 0 if pin_ok else getattr(card, fields["failed_pin_attempts"]) + 1
            setattr(card, fields["failed_pin_attempts"], attempts)
            setattr(card, fields["locked"], attempts >= max_attempts)
            card.save(update_fields=[fields["failed_pin_attempts"], fields["locked"]])
    if getattr(card, fields["locked"]):
        raise CardLocked()
    if not pin_ok:
        raise WrongPin(max_attempts - getattr(card, fields["failed_pin_attempts"]))
    return card


def _sign_with(private_key_pem: str, content: bytes) -> bytes:
    # The key was generated here; re-validating its RSA parameters on every load costs ~30 ms.
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None,
                                             unsafe_skip_rsa_key_validation=True)
    return key.sign(content, padding.PKCS1v15(), hashes.SHA256())


def sign(card: SandboxCard, pin: str, content: bytes) -> tuple[bytes, bytes]:
    """Check the PIN like the card applet does, then sign. Returns (certificate DER, signature)."""
    card = _unlock(card, pin, prefix="", max_attempts=MAX_PIN_ATTEMPTS)
    if any(anchor.name == CA_NAME for anchor in trust.stale_anchors()):
        ensure_authority()  # re-issues the CRL, or every signature would be refused as crl_stale
    return bytes(card.certificate_der), _sign_with(card.private_key_pem, content)


def authenticate(card: SandboxCard, pin: str, challenge: bytes) -> tuple[bytes, bytes]:
    """Sign a sign-in challenge with the 利用者証明用電子証明書's key after its own PIN check, as the
    card applet does. Returns (certificate DER, signature)."""
    card = _unlock(ensure_authentication_certificate(card), pin, prefix="auth_", max_attempts=MAX_AUTH_PIN_ATTEMPTS)
    if any(anchor.name == AUTH_CA_NAME for anchor in trust.stale_anchors()):
        ensure_authority(CertificatePurpose.AUTHENTICATION)
    return bytes(card.auth_certificate_der), _sign_with(card.auth_private_key_pem, challenge)
