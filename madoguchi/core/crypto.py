"""Secrets at rest: AES-256-GCM (NIST SP 800-38D) with a master key that only the environment holds.

The key configuration is the one of `tenancy.vault` (per-municipality secrets), so one set of keys
serves both and the lead can fold one module into the other:

    MADOGUCHI_MASTER_KEYS="2025a=<base64 of 32 bytes>,2024b=<base64 of 32 bytes>"
    MADOGUCHI_MASTER_KEY_ID=2025a          # the active key; optional when only one key is listed

A token names the key that made it: `v1:<key id>:<base64(12-byte nonce || ciphertext || tag)>`, so
after a rotation old tokens still decrypt until `manage.py rotate_secrets` has re-encrypted them.
The associated data binds a token to where it belongs (table and column), so a ciphertext copied
elsewhere does not decrypt. With DEBUG or in tests and no keys, the development key of the vault
(id "dev", derived from SECRET_KEY) is used; `check --deploy` fails without keys.
"""

import base64
import binascii
import hashlib
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "v1"


class DecryptionFailed(Exception):
    """Unknown key, tampered token or wrong associated data."""


KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,40}")


def configured() -> bool:
    return bool(os.environ.get("MADOGUCHI_MASTER_KEYS", "").strip())


def _keys() -> tuple[str, dict[str, bytes]]:
    """(active key id, all keys), read from the environment at each use."""
    raw = os.environ.get("MADOGUCHI_MASTER_KEYS", "").strip()
    if not raw:
        if settings.DEBUG or settings.TESTING:
            return "dev", {"dev": hashlib.sha256(b"master-key:" + settings.SECRET_KEY.encode()).digest()}
        raise ImproperlyConfigured("MADOGUCHI_MASTER_KEYS is not set: secrets at rest cannot be read.")
    keys: dict[str, bytes] = {}
    for item in raw.split(","):
        key_id, sep, encoded = item.strip().partition("=")
        if not sep or not KEY_ID.fullmatch(key_id) or key_id in keys:
            raise ImproperlyConfigured("MADOGUCHI_MASTER_KEYS must be 'id=base64key,...' with distinct ids.")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(f"master key {key_id} is not valid base64.") from None
        if len(key) != 32:
            raise ImproperlyConfigured(f"master key {key_id} must be 32 bytes (AES-256).")
        keys[key_id] = key
    active = os.environ.get("MADOGUCHI_MASTER_KEY_ID", "").strip() or (next(iter(keys)) if len(keys) == 1 else "")
    if active not in keys:
        raise ImproperlyConfigured("MADOGUCHI_MASTER_KEY_ID must name one of MADOGUCHI_MASTER_KEYS.")
    return active, keys


def _ad(associated_data: str | bytes) -> bytes:
    return associated_data.encode() if isinstance(associated_data, str) else associated_data


def encrypt(value: str | bytes, associated_data: str | bytes) -> str:
    key_id, keys = _keys()
    key = keys[key_id]
    nonce = os.urandom(12)
    plain = value.encode() if isinstance(value, str) else value
    sealed = AESGCM(key).encrypt(nonce, plain, _ad(associated_data))
    return f"{PREFIX}:{key_id}:{base64.b64encode(nonce + sealed).decode()}"


def is_token(value: str) -> bool:
    return value.startswith(PREFIX + ":")


def decrypt(token: str, associated_data: str | bytes) -> bytes:
    try:
        prefix, key_id, encoded = token.split(":", 2)
        raw = base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error):
        raise DecryptionFailed("malformed token") from None
    key = _keys()[1].get(key_id)
    if prefix != PREFIX or key is None or len(raw) < 12 + 16:
        raise DecryptionFailed(f"no key {key_id!r} or unknown format")
    try:
        return AESGCM(key).decrypt(raw[:12], raw[12:], _ad(associated_data))
    except InvalidTag:
        raise DecryptionFailed("tampered token or wrong associated data") from None


def needs_rotation(token: str) -> bool:
    """Made with a key that is no longer the first (current) one."""
    return is_token(token) and token.split(":", 2)[1] != _keys()[0]


# Files (backups): the same keys, in chunks, so a dump of any size is encrypted without holding it in
# memory. Each chunk is sealed with its index and whether it is the last one as associated data, so
# chunks cannot be reordered, dropped or the file cut short without decryption failing.
FILE_MAGIC = b"MADOGUCHI-ENC-1\n"
CHUNK = 1024 * 1024


def encrypt_stream(source, target, associated_data: str | bytes) -> None:
    key_id, keys = _keys()
    aead = AESGCM(keys[key_id])
    target.write(FILE_MAGIC + key_id.encode() + b"\n")
    index, chunk = 0, source.read(CHUNK)
    while True:
        following = source.read(CHUNK)
        last = not following
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, chunk, _ad(associated_data) + b"|%d|%d" % (index, last))
        target.write(len(sealed).to_bytes(4, "big") + nonce + sealed)
        if last:
            return
        index, chunk = index + 1, following


def decrypt_stream(source, target, associated_data: str | bytes) -> None:
    if source.read(len(FILE_MAGIC)) != FILE_MAGIC:
        raise DecryptionFailed("not an encrypted Madoguchi file")
    key = _keys()[1].get(source.readline().strip().decode("ascii", errors="replace"))
    if key is None:
        raise DecryptionFailed("the file was encrypted with a master key that is not configured")
    aead, index = AESGCM(key), 0
    while True:
        header = source.read(4)
        if len(header) != 4:
            raise DecryptionFailed("the file is cut short")
        nonce, sealed = source.read(12), source.read(int.from_bytes(header, "big"))
        following = source.peek(1)  # a buffered reader: empty only at the end of the file
        last = not following
        try:
            target.write(aead.decrypt(nonce, sealed, _ad(associated_data) + b"|%d|%d" % (index, last)))
        except InvalidTag:
            raise DecryptionFailed(f"chunk {index} does not authenticate (altered, reordered or cut)") from None
        if last:
            return
        index += 1
