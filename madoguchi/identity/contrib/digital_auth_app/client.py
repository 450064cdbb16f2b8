"""The デジタル認証アプリ (Digital Agency) service API, as its published reference describes it.

- OpenID Connect authorization code flow with state, nonce and PKCE (S256) for authentication and
  the basic four (scopes `openid name address birthdate gender`), plus `sign` with a
  `sign_transaction_id` for a signature;
- client authentication by `private_key_jwt` (RFC 7523): a short-lived JWT signed with the
  municipality's client key, whose private half lives only in the environment;
- a sign transaction, started with a client-credentials token, over a DigestInfo (RFC 8017 §9.2)
  of the SHA-256 of the request's canonical bytes: the card's RSASSA-PKCS1-v1_5 signature over that
  DigestInfo is exactly a SHA-256 PKCS#1 v1.5 signature over the bytes, so the JPKI core verifies it.

Where the public reference is silent, what we assumed is listed in docs/identity.md.
"""

import base64
import hashlib
import json
import os
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

# DER of DigestInfo ::= SEQUENCE { AlgorithmIdentifier { id-sha256, NULL }, OCTET STRING (32) }
SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
SCOPE = "openid name address birthdate gender sign"
# Lifetime of our client assertion JWTs; the service wants them short.
ASSERTION_LIFETIME = 60
# Our clock and the service's may differ a little when checking the ID token's exp/iat.
LEEWAY = 60
MAX_RESPONSE = 1024 * 1024
# The sign result is a compact JWE (RFC 7516 §7.1) to our encryption key: RSA-OAEP key transport
# (RFC 7518 §4.3) and AES-GCM content encryption (§5.3) only; "dir", "none", key agreement, "zip" and
# "crit" are refused whatever the header says. What we assumed: docs/identity.md.
JWE_KEY_ALGORITHMS = {"RSA-OAEP-256": hashes.SHA256, "RSA-OAEP": hashes.SHA1}
JWE_CONTENT_ALGORITHMS = {"A256GCM": 32, "A128GCM": 16}
GCM_IV_BYTES, GCM_TAG_BYTES = 12, 16
MIN_KEY_BITS = 2048


class ProviderError(Exception):
    """The service refused or failed. `code` is the OAuth error code or one of ours (docs/identity.md)."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code, self.detail = code, detail


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def digest_info(content: bytes) -> bytes:
    return SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(content).digest()


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, code_challenge) with code_challenge = BASE64URL(SHA256(verifier)) (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)
    return verifier, b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def sign_jwt(claims: dict, key: rsa.RSAPrivateKey, kid: str = "") -> str:
    header = {"alg": "RS256", "typ": "JWT", **({"kid": kid} if kid else {})}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def rsa_key_from_jwk(jwk: dict) -> rsa.RSAPublicKey:
    n = int.from_bytes(b64url_decode(jwk["n"]), "big")
    e = int.from_bytes(b64url_decode(jwk["e"]), "big")
    return rsa.RSAPublicNumbers(e, n).public_key()


def verify_jwt(token: str, jwks: dict) -> dict:
    """RS256 only: "none" and HMAC algorithms are refused, whatever the header says."""
    try:
        header_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(b64url_decode(header_b64))
        claims = json.loads(b64url_decode(claims_b64))
        signature = b64url_decode(signature_b64)
    except (ValueError, TypeError) as exc:
        raise ProviderError("invalid_id_token", "not a JWS") from exc
    if header.get("alg") != "RS256" or not isinstance(claims, dict):
        raise ProviderError("invalid_id_token", "algorithm")
    kid = header.get("kid")
    keys = [k for k in jwks.get("keys", []) if k.get("kty") == "RSA" and (kid is None or k.get("kid") == kid)]
    for jwk in keys:
        try:
            rsa_key_from_jwk(jwk).verify(signature, f"{header_b64}.{claims_b64}".encode("ascii"),
                                         padding.PKCS1v15(), hashes.SHA256())
            return claims
        except (InvalidSignature, ValueError, KeyError):
            continue
    raise ProviderError("invalid_id_token", "signature")


def encryption_key_from_environment(client_id: str) -> rsa.RSAPrivateKey:
    """The client's encryption private key (PEM), only ever from the environment."""
    pem = os.environ.get(f"MADOGUCHI_DIGITAL_AUTH_APP_ENC_KEY_{client_id}", "")
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ProviderError("configuration", "encryption key missing from the environment") from exc
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < MIN_KEY_BITS:
        raise ProviderError("configuration", "encryption key is not RSA of 2048 bits or more")
    return key


def decrypt_jwe(token: str, key: rsa.RSAPrivateKey) -> bytes:
    """The plaintext of a compact JWE, or ProviderError("invalid_jwe", reason)."""
    parts = token.strip().split(".")
    if len(parts) != 5:
        raise ProviderError("invalid_jwe", "not a compact JWE")
    protected_b64 = parts[0]
    try:
        header = json.loads(b64url_decode(protected_b64))
        encrypted_key, iv, ciphertext, tag = (b64url_decode(part) for part in parts[1:])
    except (ValueError, TypeError) as exc:
        raise ProviderError("invalid_jwe", "not base64url JSON") from exc
    if not isinstance(header, dict):
        raise ProviderError("invalid_jwe", "header is not an object")
    alg, enc = header.get("alg"), header.get("enc")
    if alg not in JWE_KEY_ALGORITHMS or enc not in JWE_CONTENT_ALGORITHMS:
        raise ProviderError("invalid_jwe", f"unsupported alg/enc {alg!r}/{enc!r}")
    if "zip" in header or "crit" in header:
        raise ProviderError("invalid_jwe", "zip or crit not supported")
    if len(iv) != GCM_IV_BYTES or len(tag) != GCM_TAG_BYTES:
        raise ProviderError("invalid_jwe", "IV or tag length")
    digest = JWE_KEY_ALGORITHMS[alg]
    try:
        cek = key.decrypt(encrypted_key, padding.OAEP(mgf=padding.MGF1(digest()), algorithm=digest(), label=None))
    except ValueError as exc:
        raise ProviderError("invalid_jwe", "content key does not decrypt with our key") from exc
    if len(cek) != JWE_CONTENT_ALGORITHMS[enc]:
        raise ProviderError("invalid_jwe", "content key length")
    # The additional authenticated data is the ASCII of the encoded protected header (RFC 7516 §5.2 step 14).
    try:
        return AESGCM(cek).decrypt(iv, ciphertext + tag, protected_b64.encode("ascii"))
    except InvalidTag as exc:
        raise ProviderError("invalid_jwe", "authentication tag does not match") from exc


@dataclass(frozen=True)
class Endpoints:
    """Paths below the service's base URL (the sandbox and production differ only in the host)."""

    base: str

    @property
    def issuer(self) -> str:
        return f"{self.base}/api/realms/main"

    @property
    def authorization(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/auth"

    @property
    def token(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/token"

    @property
    def jwks(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    @property
    def sign_transactions(self) -> str:
        return f"{self.base}/api/sign-transactions"


class Client:
    """One municipality's client of the service (client id and redirect URI from its configuration)."""

    def __init__(self, client_id: str, redirect_uri: str):
        self.client_id, self.redirect_uri = client_id, redirect_uri
        self.endpoints = Endpoints(settings.DIGITAL_AUTH_APP_BASE_URL.rstrip("/"))
        self.timeout = settings.DIGITAL_AUTH_APP_TIMEOUT

    def _private_key(self) -> rsa.RSAPrivateKey:
        pem = os.environ.get(f"MADOGUCHI_DIGITAL_AUTH_APP_KEY_{self.client_id}", "")
        try:
            key = serialization.load_pem_private_key(pem.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise ProviderError("configuration", "client key missing from the environment") from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ProviderError("configuration", "client key is not RSA")
        return key

    def _client_assertion(self) -> dict[str, str]:
        now = int(time.time())
        claims = {"iss": self.client_id, "sub": self.client_id, "aud": self.endpoints.token, "iat": now,
                  "exp": now + ASSERTION_LIFETIME, "jti": secrets.token_urlsafe(16)}
        return {"client_id": self.client_id,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": sign_jwt(claims, self._private_key())}

    def _call(self, url: str, *, form: dict | None = None, body: dict | None = None,
              bearer: str = "") -> dict:
        raw = self._fetch(url, form=form, body=body, bearer=bearer, accept="application/json")
        try:
            answer = json.loads(raw)
        except ValueError as exc:
            raise ProviderError("invalid_response", url) from exc
        if not isinstance(answer, dict):
            raise ProviderError("invalid_response", url)
        return answer

    def _fetch(self, url: str, *, form: dict | None = None, body: dict | None = None, bearer: str = "",
               accept: str) -> bytes:
        headers = {"Accept": accept}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers),  # noqa: S310
                                        timeout=self.timeout) as response:
                raw = response.read(MAX_RESPONSE)
        except urllib.error.HTTPError as exc:
            try:
                answer = json.loads(exc.read(MAX_RESPONSE))
                code = str(answer.get("error") or answer.get("code") or f"http_{exc.code}")
            except (ValueError, AttributeError):
                code = f"http_{exc.code}"
            raise ProviderError(code, url) from exc
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            raise ProviderError("unavailable", f"{url}: {exc}") from exc
        return raw

    # --- the sign transaction (client credentials) ---

    def start_sign_transaction(self, content: bytes, title: str) -> str:
        # Without our encryption key the result could not be read: refuse before the resident signs.
        encryption_key_from_environment(self.client_id)
        token = self._call(self.endpoints.token, form={"grant_type": "client_credentials",
                                                       **self._client_assertion()})
        if not isinstance(token.get("access_token"), str):
            raise ProviderError("invalid_response", "no access token")
        answer = self._call(self.endpoints.sign_transactions, bearer=token["access_token"], body={
            "hash_type": "digest_info", "hash": base64.b64encode(digest_info(content)).decode(), "title": title})
        transaction = answer.get("sign_transaction_id")
        if not isinstance(transaction, str) or not transaction:
            raise ProviderError("invalid_response", "no sign_transaction_id")
        return transaction

    def authorization_url(self, *, state: str, nonce: str, code_challenge: str, sign_transaction_id: str) -> str:
        return self.endpoints.authorization + "?" + urllib.parse.urlencode({
            "response_type": "code", "scope": SCOPE, "client_id": self.client_id,
            "redirect_uri": self.redirect_uri, "state": state, "nonce": nonce,
            "code_challenge": code_challenge, "code_challenge_method": "S256",
            "sign_transaction_id": sign_transaction_id,
        })

    # --- back from the app (authorization code) ---

    def exchange_code(self, code: str, code_verifier: str, nonce: str) -> tuple[str, dict]:
        """(access token, verified ID token claims)."""
        token = self._call(self.endpoints.token, form={
            "grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri,
            "code_verifier": code_verifier, **self._client_assertion()})
        access_token, id_token = token.get("access_token"), token.get("id_token")
        if not isinstance(access_token, str) or not isinstance(id_token, str):
            raise ProviderError("invalid_response", "no tokens")
        claims = verify_jwt(id_token, self._call(self.endpoints.jwks))
        now = time.time()
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if claims.get("iss") != self.endpoints.issuer or self.client_id not in audiences:
            raise ProviderError("invalid_id_token", "issuer or audience")
        if not isinstance(claims.get("exp"), int | float) or claims["exp"] < now - LEEWAY:
            raise ProviderError("invalid_id_token", "expired")
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise ProviderError("nonce_mismatch")
        return access_token, claims

    def sign_result(self, access_token: str, sign_transaction_id: str) -> tuple[bytes, bytes]:
        """(signing certificate DER, signature) of a completed sign transaction.

        The answer is a compact JWE to our encryption key whose plaintext is JSON with the base64
        certificate and signature; if it names a sign transaction, it must be the one we asked about.
        """
        key = encryption_key_from_environment(self.client_id)
        quoted = urllib.parse.quote(sign_transaction_id, safe="")
        raw = self._fetch(f"{self.endpoints.sign_transactions}/{quoted}/result", bearer=access_token,
                          accept="application/jose")
        try:
            token = raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise ProviderError("invalid_jwe", "not a compact JWE") from exc
        try:
            answer = json.loads(decrypt_jwe(token, key))
        except ValueError as exc:
            raise ProviderError("invalid_response", "sign result is not JSON") from exc
        if not isinstance(answer, dict):
            raise ProviderError("invalid_response", "sign result is not an object")
        if answer.get("sign_transaction_id", sign_transaction_id) != sign_transaction_id:
            raise ProviderError("transaction_mismatch", "sign result of another transaction")
        try:
            return (base64.b64decode(answer["certificate"], validate=True),
                    base64.b64decode(answer["signature"], validate=True))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderError("invalid_response", "no certificate or signature") from exc
