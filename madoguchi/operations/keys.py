"""Keys the service derives from secrets in the environment (HKDF-SHA256, RFC 5869).

A P-256 private key is a number below the curve order: HKDF output reduced into that range gives a
key that only the holder of the secret can recompute, so no key file has to be stored beside the
database it protects.
"""

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# The order n of P-256 (SEC 2, section 2.4.2).
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def derived_p256_key(secret: str, purpose: str) -> ec.EllipticCurvePrivateKey:
    # 48 bytes (384 bits) before the reduction keeps its bias negligible (FIPS 186-5 A.2.1).
    seed = HKDF(algorithm=hashes.SHA256(), length=48, salt=None, info=purpose.encode()).derive(secret.encode())
    return ec.derive_private_key(int.from_bytes(seed, "big") % (P256_ORDER - 1) + 1, ec.SECP256R1())
