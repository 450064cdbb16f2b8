"""Per-municipality secrets (provider credentials), encrypted at rest with a master key.

The master keys come only from the environment, never from the database:

    MADOGUCHI_MASTER_KEYS="2025a=<base64 of 32 bytes>,2024b=<base64 of 32 bytes>"
    MADOGUCHI_MASTER_KEY_ID=2025a          # the active key: new and rotated secrets use it

Each secret is AES-256-GCM encrypted (NIST SP 800-38D) with a fresh 96-bit nonce, and the
municipality code and the secret's name as associated data: a ciphertext copied onto another
municipality's row, or under another name, fails authentication instead of handing one town's
credential to another. A database dump alone decrypts nothing. Rotation (`manage.py secrets rotate`)
re-encrypts every secret under the active key; the old key can leave the environment afterwards.

With DEBUG or in tests and no MADOGUCHI_MASTER_KEYS, one development key derived from SECRET_KEY is
used (key id "dev"), as for DOCUMENT_SIGNING_SECRET; production refuses to run without a master key.

Reading is on hot paths (every LINE webhook delivery checks its signature with the channel secret), so
each process keeps what it read for SECRET_CACHE_SECONDS (default 30): a secret set, deleted or
rotated in this process is forgotten at once, other processes see the change within that time.
"""

import base64
import binascii
import hashlib
import os
import re
import threading
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from .models import Municipality, MunicipalitySecret

NAME = re.compile(r"[A-Z][A-Z0-9_]{0,99}")
KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,40}")
MAX_VALUE_BYTES = 16 * 1024
NONCE_BYTES = 12


class SecretError(Exception):
    """A secret could not be read or written; the message says why, never the value."""


class MasterKeyMissing(SecretError, ImproperlyConfigured):
    """No master key configured, or not the one a secret was encrypted with."""


class SecretUnreadable(SecretError):
    """Authentication failed: wrong master key, tampered ciphertext, or a row moved between towns."""


@dataclass(frozen=True)
class MasterKeys:
    keys: dict[str, bytes]
    active: str


def master_keys() -> MasterKeys:
    """Parsed from the environment at each use, so a rotation needs no code change, only a restart."""
    raw = os.environ.get("MADOGUCHI_MASTER_KEYS", "").strip()
    if not raw:
        if settings.DEBUG or settings.TESTING:
            return MasterKeys({"dev": hashlib.sha256(b"master-key:" + settings.SECRET_KEY.encode()).digest()}, "dev")
        raise MasterKeyMissing("MADOGUCHI_MASTER_KEYS is not set: per-municipality secrets cannot be read.")
    keys: dict[str, bytes] = {}
    for item in raw.split(","):
        key_id, sep, encoded = item.strip().partition("=")
        if not sep or not KEY_ID.fullmatch(key_id) or key_id in keys:
            raise MasterKeyMissing("MADOGUCHI_MASTER_KEYS must be 'id=base64key,...' with distinct ids.")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise MasterKeyMissing(f"master key {key_id} is not valid base64.") from None
        if len(key) != 32:
            raise MasterKeyMissing(f"master key {key_id} must be 32 bytes (AES-256).")
        keys[key_id] = key
    active = os.environ.get("MADOGUCHI_MASTER_KEY_ID", "").strip() or (next(iter(keys)) if len(keys) == 1 else "")
    if active not in keys:
        raise MasterKeyMissing("MADOGUCHI_MASTER_KEY_ID must name one of MADOGUCHI_MASTER_KEYS.")
    return MasterKeys(keys, active)


def _associated_data(code: str, name: str) -> bytes:
    return f"madoguchi-secret\x00{code}\x00{name}".encode()


def _key(keys: MasterKeys, key_id: str) -> bytes:
    try:
        return keys.keys[key_id]
    except KeyError:
        raise MasterKeyMissing(f"master key {key_id!r} is not in MADOGUCHI_MASTER_KEYS.") from None


def _encrypt(keys: MasterKeys, code: str, name: str, value: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(_key(keys, keys.active)).encrypt(nonce, value.encode(), _associated_data(code, name))


def _decrypt(keys: MasterKeys, code: str, secret: MunicipalitySecret) -> str:
    blob = bytes(secret.ciphertext)
    try:
        plain = AESGCM(_key(keys, secret.key_id)).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:],
                                                          _associated_data(code, secret.name))
    except (InvalidTag, ValueError):
        raise SecretUnreadable(f"secret {secret.name} of {code} does not decrypt "
                               f"(wrong master key {secret.key_id!r} or altered data).") from None
    return plain.decode()


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise SecretError("a secret name is upper-case letters, digits and '_' (at most 100), e.g. PAYPAY_API_KEY.")
    return name


def validate_value(value: str) -> str:
    if not isinstance(value, str) or not value:
        raise SecretError("the value is empty.")
    if "\x00" in value:
        raise SecretError("the value contains a NUL character.")
    try:
        encoded = value.encode()
    except UnicodeEncodeError:
        raise SecretError("the value is not valid text (lone surrogate).") from None
    if len(encoded) > MAX_VALUE_BYTES:
        raise SecretError(f"the value is longer than {MAX_VALUE_BYTES} bytes.")
    return value


# (municipality code, name) -> (read at, in time.monotonic(); value or None when not set)
_read: dict[tuple[str, str], tuple[float, str | None]] = {}
_read_lock = threading.Lock()


def forget() -> None:
    """Drop what this process has read (after a change, and between tests)."""
    with _read_lock:
        _read.clear()


def set_secret(municipality: Municipality, name: str, value: str) -> MunicipalitySecret:
    validate_name(name)
    validate_value(value)
    keys = master_keys()
    secret, _created = MunicipalitySecret.objects.update_or_create(
        municipality=municipality, name=name,
        defaults={"key_id": keys.active, "ciphertext": _encrypt(keys, municipality.code, name, value)})
    forget()
    return secret


def get_secret(municipality: Municipality | str, name: str) -> str | None:
    """The secret's value, or None when it is not set. `municipality` may be given by its code."""
    code = municipality if isinstance(municipality, str) else municipality.code
    keep = settings.SECRET_CACHE_SECONDS
    if keep > 0:
        with _read_lock:
            read = _read.get((code, name))
        if read is not None and time.monotonic() - read[0] < keep:
            return read[1]
    rows = MunicipalitySecret.objects.filter(name=name)
    if isinstance(municipality, str):
        rows = rows.filter(municipality__code=code)
    else:
        rows = rows.for_municipality(municipality)
    secret = rows.first()
    value = None if secret is None else _decrypt(master_keys(), code, secret)
    if keep > 0:
        with _read_lock:
            _read[(code, name)] = (time.monotonic(), value)
    return value


def delete_secret(municipality: Municipality, name: str) -> bool:
    deleted = MunicipalitySecret.objects.for_municipality(municipality).filter(name=name).delete()[0] > 0
    forget()
    return deleted


def rotate() -> int:
    """Re-encrypt every secret not under the active key; returns how many. Idempotent: a second run
    (or a run after a crash half-way) only touches the rows still under an old key. Every old key
    must still be in MADOGUCHI_MASTER_KEYS; if one is missing nothing is changed."""
    keys = master_keys()
    with transaction.atomic():
        stale = list(MunicipalitySecret.objects.select_for_update(of=("self",)).exclude(key_id=keys.active)
                     .select_related("municipality").order_by("municipality_id", "name"))
        for secret in stale:
            code = secret.municipality.code
            secret.ciphertext = _encrypt(keys, code, secret.name, _decrypt(keys, code, secret))
            secret.key_id = keys.active
            secret.save(update_fields=["ciphertext", "key_id", "updated_at"])
    forget()
    return len(stale)
