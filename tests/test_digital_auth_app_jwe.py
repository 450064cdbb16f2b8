"""The encrypted sign result of デジタル認証アプリ: what decrypts, and every way a hostile result is refused.

The fake service of tests/test_digital_auth_app.py seals each result; these tests change how it seals,
then come back through our callback. A refused result leaves the request a draft with no evidence, and
the resident reads a Japanese message; the log names the reason.
"""

import json
import logging

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.urls import reverse

from madoguchi.applications.models import State
from madoguchi.identity.contrib.digital_auth_app.client import ProviderError, b64url, b64url_decode, decrypt_jwe
from madoguchi.identity.contrib.digital_auth_app.models import AuthorizationSession
from madoguchi.identity.models import SignatureEvidence

from . import test_digital_auth_app as fake
from .flow import draft, start_signing
from .test_digital_auth_app import CLIENT_ID, encrypt_jwe, go_to_app, messages_of, pem

# The fake service and its keys, shared with the provider's main tests.
client_key, encryption_key, service = fake.client_key, fake.encryption_key, fake.service

ENV_KEY = f"MADOGUCHI_DIGITAL_AUTH_APP_ENC_KEY_{CLIENT_ID}"
CALLBACK_LOGGER = "madoguchi.identity.contrib.digital_auth_app.views"


def flip_last_byte(part: str) -> str:
    raw = bytearray(b64url_decode(part))
    raw[-1] ^= 1
    return b64url(bytes(raw))


def replace_part(token: str, index: int, change) -> str:
    parts = token.split(".")
    parts[index] = change(parts[index])
    return ".".join(parts)


def with_header(token: str, header: dict) -> str:
    return replace_part(token, 0, lambda _part: b64url(json.dumps(header).encode()))


def refused(client, request, callback, caplog, reason: str) -> None:
    with caplog.at_level(logging.WARNING, logger=CALLBACK_LOGGER):
        response = client.get(callback)
    assert response.status_code == 302 and response.url.endswith("/sign/")
    assert any("確認できませんでした" in m for m in messages_of(response))
    assert reason in caplog.text
    request.refresh_from_db()
    assert request.state == State.DRAFT
    assert not SignatureEvidence.objects.filter(request=request).exists()


@pytest.mark.parametrize(("alg", "enc"), [("RSA-OAEP-256", "A256GCM"), ("RSA-OAEP", "A128GCM")])
def test_a_result_encrypted_to_our_key_signs_the_request(service, client, municipality, alg, enc):
    service.seal = lambda _tid, plaintext: encrypt_jwe(plaintext, service.encryption_key, alg, enc).encode()
    request = draft(municipality)
    callback, _query = go_to_app(client, request)
    assert client.get(callback).status_code == 302
    request.refresh_from_db()
    assert request.state == State.SIGNED
    assert SignatureEvidence.objects.get(request=request).provider == "digital_auth_app"


def test_the_result_answer_is_a_jwe_not_the_plain_json(service, client, municipality):
    sent = []
    service.seal = lambda _tid, plaintext: sent.append(encrypt_jwe(plaintext, service.encryption_key)) or (
        sent[-1].encode())
    callback, _query = go_to_app(client, draft(municipality))
    client.get(callback)
    assert len(sent) == 1 and sent[0].count(".") == 4 and b"signature" not in sent[0].encode()
    assert json.loads(b64url_decode(sent[0].split(".")[0])) == {"alg": "RSA-OAEP-256", "enc": "A256GCM"}


def _other_key() -> rsa.RSAPublicKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()


# Each: how the hostile result is made from the genuine plaintext, and the reason we log.
HOSTILE = {
    "wrong key": (lambda key, p: encrypt_jwe(p, _other_key()), "does not decrypt with our key"),
    "tampered ciphertext": (lambda key, p: replace_part(encrypt_jwe(p, key), 3, flip_last_byte),
                            "authentication tag"),
    "tampered tag": (lambda key, p: replace_part(encrypt_jwe(p, key), 4, flip_last_byte), "authentication tag"),
    "tampered header": (lambda key, p: with_header(encrypt_jwe(p, key),
                                                   {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "x"}),
                        "authentication tag"),
    "alg none": (lambda key, p: with_header(encrypt_jwe(p, key), {"alg": "none", "enc": "A256GCM"}),
                 "unsupported alg/enc"),
    "alg dir": (lambda key, p: replace_part(with_header(encrypt_jwe(p, key), {"alg": "dir", "enc": "A256GCM"}),
                                            1, lambda _part: ""), "unsupported alg/enc"),
    "alg RSA1_5": (lambda key, p: with_header(encrypt_jwe(p, key), {"alg": "RSA1_5", "enc": "A256GCM"}),
                   "unsupported alg/enc"),
    "alg ECDH-ES": (lambda key, p: with_header(encrypt_jwe(p, key), {"alg": "ECDH-ES", "enc": "A256GCM"}),
                    "unsupported alg/enc"),
    "enc CBC-HMAC": (lambda key, p: with_header(encrypt_jwe(p, key), {"alg": "RSA-OAEP-256", "enc": "A128CBC-HS256"}),
                     "unsupported alg/enc"),
    "compressed": (lambda key, p: encrypt_jwe(p, key, zip="DEF"), "zip or crit"),
    "critical extension": (lambda key, p: encrypt_jwe(p, key, crit=["exp"], exp=1), "zip or crit"),
    "truncated": (lambda key, p: encrypt_jwe(p, key).rsplit(".", 1)[0], "not a compact JWE"),
    "short tag": (lambda key, p: replace_part(encrypt_jwe(p, key), 4, lambda part: part[:10]), "IV or tag length"),
    "garbage": (lambda key, p: "!!.@@.##.$$.%%", "not base64url JSON"),
    "header not an object": (lambda key, p: with_header(encrypt_jwe(p, key), ["RSA-OAEP-256"]),
                             "header is not an object"),
    "empty": (lambda key, p: "", "not a compact JWE"),
    "plain JSON (the old format)": (lambda key, p: p.decode(), "not a compact JWE"),
    "oversized": (lambda key, p: "A" * (2 * 1024 * 1024), "not a compact JWE"),
    "encrypted non-JSON": (lambda key, p: encrypt_jwe(b"\xff not json", key), "sign result is not JSON"),
    "encrypted JSON without the signature": (
        lambda key, p: encrypt_jwe(json.dumps({"certificate": "AAAA"}).encode(), key),
        "no certificate or signature"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_results_are_refused_and_change_nothing(service, client, municipality, caplog, case):
    make, reason = HOSTILE[case]
    service.seal = lambda _tid, plaintext: make(service.encryption_key, plaintext).encode()
    request = draft(municipality)
    callback, _query = go_to_app(client, request)
    refused(client, request, callback, caplog, reason)
    # The trip is spent: the same callback cannot be replayed with a better result.
    assert client.get(callback).status_code == 400


def test_a_non_ascii_body_is_refused(service, client, municipality, caplog):
    service.seal = lambda _tid, _plaintext: "署名".encode()
    request = draft(municipality)
    callback, _query = go_to_app(client, request)
    refused(client, request, callback, caplog, "not a compact JWE")


def test_a_result_replayed_from_another_transaction_is_refused(service, client, municipality, caplog):
    """A genuine result of the resident's first request, served again for their second."""
    genuine = {}

    def keep(transaction_id, plaintext):
        genuine[transaction_id] = plaintext
        return encrypt_jwe(plaintext, service.encryption_key).encode()

    service.seal = keep
    first = draft(municipality)
    callback, _query = go_to_app(client, first)
    client.get(callback)
    first.refresh_from_db()
    assert first.state == State.SIGNED
    (old_plaintext,) = genuine.values()

    # Named for the other transaction: refused before the signature is looked at.
    service.seal = lambda _tid, _plaintext: encrypt_jwe(old_plaintext, service.encryption_key).encode()
    second = draft(municipality)
    callback, _query = go_to_app(client, second)
    refused(client, second, callback, caplog, "transaction_mismatch")

    # Without the transaction id, the old signature does not cover this request's bytes: refused too.
    anonymous = {k: v for k, v in json.loads(old_plaintext).items() if k != "sign_transaction_id"}
    service.seal = lambda _tid, _plaintext: encrypt_jwe(json.dumps(anonymous).encode(),
                                                        service.encryption_key).encode()
    third = draft(municipality)
    callback, _query = go_to_app(client, third)
    response = client.get(callback)
    assert response.url.endswith("/sign/") and messages_of(response)
    third.refresh_from_db()
    assert third.state == State.DRAFT and not SignatureEvidence.objects.filter(request=third).exists()
    assert SignatureEvidence.objects.count() == 1


@pytest.mark.parametrize("broken", ["missing", "garbage", "not RSA", "too short"])
def test_a_missing_or_unusable_encryption_key_is_a_configuration_error(service, client, municipality,
                                                                        monkeypatch, caplog, broken):
    if broken == "missing":
        monkeypatch.delenv(ENV_KEY)
    elif broken == "garbage":
        monkeypatch.setenv(ENV_KEY, "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    elif broken == "not RSA":
        monkeypatch.setenv(ENV_KEY, pem(ec.generate_private_key(ec.SECP256R1())))
    else:
        monkeypatch.setenv(ENV_KEY, pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)))
    challenge = start_signing(draft(municipality))
    with caplog.at_level(logging.WARNING, logger=CALLBACK_LOGGER):
        response = client.get(reverse("identity_digital_auth_app:start", args=[challenge.nonce]))
    assert response.status_code == 302 and response.url.endswith("/sign/")
    assert any("確認できませんでした" in m for m in messages_of(response))
    assert "configuration" in caplog.text
    # The resident is not sent to sign something we could not read back.
    assert service.log == [] and not AuthorizationSession.objects.exists()


def test_the_key_gone_between_start_and_callback_refuses_cleanly(service, client, municipality, monkeypatch,
                                                                 caplog):
    request = draft(municipality)
    callback, _query = go_to_app(client, request)
    monkeypatch.delenv(ENV_KEY)
    refused(client, request, callback, caplog, "configuration")
    assert not any(line.endswith("/result") for line in service.log)


def test_decrypt_jwe_reasons(encryption_key):
    public = encryption_key.public_key()
    assert decrypt_jwe(encrypt_jwe(b'{"a": 1}', public), encryption_key) == b'{"a": 1}'
    with pytest.raises(ProviderError) as failure:
        decrypt_jwe(encrypt_jwe(b"x", _other_key()), encryption_key)
    assert failure.value.code == "invalid_jwe"
    # A content key of the wrong length for "enc" (A128 key under an A256GCM header) is refused.
    token = encrypt_jwe(b"x", public, enc="A128GCM")
    with pytest.raises(ProviderError, match="content key length"):
        decrypt_jwe(with_header(token, {"alg": "RSA-OAEP-256", "enc": "A256GCM"}), encryption_key)
