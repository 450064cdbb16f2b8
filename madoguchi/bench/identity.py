"""BENCH jpki_verify: full verifications per second with a CRL of 100,000 revoked serials loaded.

Full checks: parse, path to the trust anchor, validity, key usage, key size, the PKCS#1 v1.5
signature, the basic four, revocation against the CRL stored in the database (the production path
of `applications.actions.record_signature`) and the policies. The CA and its big CRL are generated
once and cached under .bench/ (signing 100,000 entries takes a while); loading the CRL into the
database happens before the clock starts.
"""

import datetime
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from madoguchi.bench import BENCH_DIR

REVOKED = 100_000
CARDS = 20
CONTENT = b'{"nonce":"bench","request":"00000000-0000-0000-0000-000000000000","v":1}'


def _authority() -> tuple[x509.Certificate, rsa.RSAPrivateKey, bytes]:
    key_file, cert_file, crl_file = (BENCH_DIR / f"jpki-{n}" for n in ("ca.key", "ca.pem", f"crl-{REVOKED}.der"))
    now = datetime.datetime.now(datetime.UTC)
    if key_file.exists() and cert_file.exists() and crl_file.exists():
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        crl = x509.load_der_x509_crl(crl_file.read_bytes())
        if crl.next_update_utc > now + datetime.timedelta(days=1) and cert.not_valid_after_utc > now:
            key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
            return cert, key, crl_file.read_bytes()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Bench JPKI Signing CA")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    builder = (x509.CertificateRevocationListBuilder().issuer_name(name)
               .last_update(now - datetime.timedelta(hours=1)).next_update(now + datetime.timedelta(days=365))
               .add_extension(x509.CRLNumber(1), critical=False))
    for serial in range(1_000_000, 1_000_000 + REVOKED):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build())
    crl = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    crl_file.write_bytes(crl)
    return cert, key, crl


def run(report) -> None:
    from madoguchi.identity import jpki, trust
    from madoguchi.identity.contrib.sandbox.card import build_signing_certificate

    BENCH_DIR.mkdir(exist_ok=True)
    ca, ca_key, crl = _authority()
    trust.load_anchor(ca.public_bytes(serialization.Encoding.DER))
    trust.store_crl(crl)
    now = datetime.datetime.now(datetime.UTC)
    person = jpki.BasicFour(name="窓口 太郎", date_of_birth=datetime.date(1980, 4, 1), sex="1",
                            address="東京都窓口市本町一丁目2番3号")
    cards = []
    for _ in range(CARDS):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = build_signing_certificate(ca, ca_key, key.public_key(), person, now - datetime.timedelta(days=1),
                                         now + datetime.timedelta(days=365))
        cards.append((cert.public_bytes(serialization.Encoding.DER),
                      key.sign(CONTENT, padding.PKCS1v15(), hashes.SHA256())))

    def verify(count: int) -> float:
        started = time.perf_counter()
        for i in range(count):
            certificate, signature = cards[i % CARDS]
            anchors = trust.active_anchors()  # as record_signature does, per request
            result = jpki.verify_signature(certificate, signature, CONTENT, [cert for _a, cert in anchors], at=now,
                                           revocation=trust.revocation_sources(anchors))
            assert result.valid, result.reason
        return count / (time.perf_counter() - started)

    verify(50)  # warm-up
    report("jpki_verify", verify(2000), "verifications/s")
