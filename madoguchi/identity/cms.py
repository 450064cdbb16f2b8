"""Detached CMS / PKCS#7 SignedData (RFC 5652) made by a JPKI signing key.

Signing software for the My Number Card (and `openssl cms -sign`) often wraps the card's
RSASSA-PKCS1-v1_5 signature in a detached SignedData instead of handing over the bare signature.
We accept exactly one SignerInfo by the given signing certificate, SHA-256 or stronger, with or
without signed attributes (RFC 5652 §5.4: with them, the signature covers the DER SET OF the
attributes and the messageDigest attribute carries the content's hash).
"""

import hashlib

from asn1crypto import cms as asn1_cms
from asn1crypto import pem
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

DIGESTS = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
RSA_SIGNATURES = {"rsassa_pkcs1v15", "rsa", "sha256_rsa", "sha384_rsa", "sha512_rsa"}


class MalformedCms(Exception):
    """Not a detached SignedData with one signer."""


class WeakDigest(Exception):
    """A digest or signature algorithm weaker than SHA-256 with RSA PKCS#1 v1.5."""


class SignatureMismatch(Exception):
    """The SignedData does not verify over the content with the certificate's key."""


def load(data: bytes) -> asn1_cms.SignedData:
    text = data.lstrip()
    if text.startswith(b"-----BEGIN"):
        try:
            _kind, _headers, data = pem.unarmor(text)
        except ValueError as exc:
            raise MalformedCms("bad PEM") from exc
    try:
        info = asn1_cms.ContentInfo.load(data, strict=True)
        if info["content_type"].native != "signed_data":
            raise MalformedCms("not SignedData")
        signed = info["content"]
        _ = signed.native  # parse everything now: lazy parsing would raise later, elsewhere
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedCms(str(exc)) from exc
    return signed


def verify_detached(data: bytes, content: bytes, certificate: x509.Certificate) -> None:
    signed = load(data)
    if signed["encap_content_info"]["content"].native is not None:
        raise MalformedCms("not detached")
    signers = signed["signer_infos"]
    if len(signers) != 1:
        raise MalformedCms("exactly one signer expected")
    signer = signers[0]
    sid = signer["sid"]
    if sid.name == "issuer_and_serial_number":
        ias = sid.chosen
        if (ias["serial_number"].native != certificate.serial_number
                or ias["issuer"].dump() != certificate.issuer.public_bytes()):
            raise SignatureMismatch("signed by another certificate")
    else:
        ski = x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest
        if sid.chosen.native != ski:
            raise SignatureMismatch("signed by another key")
    digest_name = signer["digest_algorithm"]["algorithm"].native
    if digest_name not in DIGESTS:
        raise WeakDigest(digest_name)
    if signer["signature_algorithm"]["algorithm"].native not in RSA_SIGNATURES:
        raise WeakDigest(signer["signature_algorithm"]["algorithm"].native)
    algorithm = DIGESTS[digest_name]()
    attributes = signer["signed_attrs"]
    if attributes.native is None or len(attributes) == 0:
        signed_bytes = content
    else:
        values = {attr["type"].native: attr["values"] for attr in attributes}
        if len(values) != len(attributes):
            raise MalformedCms("duplicate signed attribute")
        types, digests = values.get("content_type"), values.get("message_digest")
        if types is None or digests is None or len(types) != 1 or len(digests) != 1:
            raise MalformedCms("content type and message digest attributes required")
        if types[0].native != "data":
            raise MalformedCms("content type is not data")
        if digests[0].native != hashlib.new(algorithm.name, content).digest():
            raise SignatureMismatch("message digest differs")
        # The signature covers the attributes as a DER SET OF (tag 0x31), not as the [0] field.
        signed_bytes = b"\x31" + attributes.dump()[1:]
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise WeakDigest("not RSA")
    try:
        key.verify(signer["signature"].native, signed_bytes, padding.PKCS1v15(), algorithm)
    except InvalidSignature as exc:
        raise SignatureMismatch("signature") from exc
