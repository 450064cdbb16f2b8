"""The デジタル認証アプリ provider end to end against a local fake of the service.

The fake is a real HTTP server on 127.0.0.1 speaking the protocol of the published API reference:
private_key_jwt client authentication, client-credentials token, sign transaction over a DigestInfo,
the authorization endpoint (where the "resident" signs with a virtual card), the authorization code
exchange with PKCE, an RS256 ID token with the nonce, the JWKS, and the sign result as a compact JWE
(RSA-OAEP-256, A256GCM) to the client's encryption key.
"""

import base64
import hashlib
import http.server
import json
import secrets
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.contrib.messages import get_messages
from django.urls import reverse

from madoguchi.applications.models import State
from madoguchi.applications.signing_terms import canonical_bytes
from madoguchi.identity.contrib.digital_auth_app.client import (
    SHA256_DIGEST_INFO_PREFIX,
    b64url,
    b64url_decode,
    sign_jwt,
    verify_jwt,
)
from madoguchi.identity.contrib.digital_auth_app.models import AuthorizationSession, ClientConfiguration
from madoguchi.identity.contrib.sandbox import card as cards
from madoguchi.identity.models import SignatureEvidence

from .flow import draft, start_signing

CLIENT_ID = "RP0000000001"
REDIRECT_URI = "http://testserver/identity/digital-auth-app/callback/"
ISSUER_PATH = "/api/realms/main"
TOKEN_PATH = ISSUER_PATH + "/protocol/openid-connect/token"


def jwk(key: rsa.RSAPublicKey, kid: str) -> dict:
    numbers = key.public_numbers()
    as_bytes = lambda n: n.to_bytes((n.bit_length() + 7) // 8, "big")  # noqa: E731
    return {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": b64url(as_bytes(numbers.n)),
            "e": b64url(as_bytes(numbers.e))}


def encrypt_jwe(plaintext: bytes, key: rsa.RSAPublicKey, alg: str = "RSA-OAEP-256", enc: str = "A256GCM",
                **header) -> str:
    """A compact JWE (RFC 7516) as the service makes it: RSA-OAEP key transport, AES-GCM content."""
    digest = {"RSA-OAEP-256": hashes.SHA256, "RSA-OAEP": hashes.SHA1}[alg]
    cek = secrets.token_bytes({"A256GCM": 32, "A128GCM": 16}[enc])
    protected = b64url(json.dumps({"alg": alg, "enc": enc, **header}).encode())
    iv = secrets.token_bytes(12)
    sealed = AESGCM(cek).encrypt(iv, plaintext, protected.encode("ascii"))
    encrypted_key = key.encrypt(cek, padding.OAEP(mgf=padding.MGF1(digest()), algorithm=digest(), label=None))
    return ".".join([protected, b64url(encrypted_key), b64url(iv), b64url(sealed[:-16]), b64url(sealed[-16:])])


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


class FakeService(http.server.ThreadingHTTPServer):
    def __init__(self, client_key: rsa.RSAPublicKey, encryption_key: rsa.RSAPublicKey):
        super().__init__(("127.0.0.1", 0), FakeHandler)
        self.client_key = client_key
        self.encryption_key = encryption_key  # the client's registered encryption public key
        # Tests replace how the sign result is sealed: (transaction id, plaintext JSON) -> response body.
        self.seal: Callable[[str, bytes], bytes] = lambda transaction_id, plaintext: encrypt_jwe(
            plaintext, self.encryption_key).encode()
        self.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.mode = "ok"
        self.card = None  # the SandboxCard in the resident's hand
        self.transactions: dict[str, dict] = {}
        self.codes: dict[str, dict] = {}
        self.tokens: dict[str, str | None] = {}  # access token -> sign transaction it may read (None: client)
        self.log: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class FakeHandler(http.server.BaseHTTPRequestHandler):
    server: FakeService

    def log_message(self, *args) -> None:
        pass

    def reply(self, status: int, body: dict | bytes | None = None, location: str = "") -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Type", "application/jose" if isinstance(body, bytes) else "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out first, on purpose

    def bearer(self) -> str:
        return self.headers.get("Authorization", "").removeprefix("Bearer ")

    def client_authenticated(self, form: dict) -> bool:
        if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return False
        try:
            claims = verify_jwt(form.get("client_assertion", ""),
                                {"keys": [jwk(self.server.client_key, "")]})
        except Exception:
            return False
        return (claims.get("iss") == claims.get("sub") == CLIENT_ID == form.get("client_id")
                and claims.get("aud") == self.server.url + TOKEN_PATH and claims.get("exp", 0) > time.time())

    def do_GET(self) -> None:
        server, url = self.server, urllib.parse.urlsplit(self.path)
        server.log.append(f"GET {url.path}")
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == ISSUER_PATH + "/protocol/openid-connect/certs":
            return self.reply(200, {"keys": [jwk(server.signing_key.public_key(), "fake-1")]})
        if url.path == ISSUER_PATH + "/protocol/openid-connect/auth":
            return self.authorize(query)
        if url.path.startswith("/api/sign-transactions/") and url.path.endswith("/result"):
            transaction_id = url.path.split("/")[3]
            if server.tokens.get(self.bearer()) != transaction_id:
                return self.reply(401, {"error": "invalid_token"})
            done = server.transactions[transaction_id]
            plaintext = json.dumps({"sign_transaction_id": transaction_id,
                                    "certificate": base64.b64encode(done["certificate"]).decode(),
                                    "signature": base64.b64encode(done["signature"]).decode()}).encode()
            return self.reply(200, server.seal(transaction_id, plaintext))
        return self.reply(404, {"error": "not_found"})

    def authorize(self, query: dict) -> None:
        """The app on the resident's phone: checks the request, reads the card, signs, redirects."""
        server = self.server
        required = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
                    "code_challenge_method": "S256"}
        if any(query.get(k) != v for k, v in required.items()) or not {"openid", "sign"} <= set(
                query.get("scope", "").split()) or not query.get("state") or not query.get("nonce"):
            return self.reply(400, {"error": "invalid_request"})
        transaction = server.transactions.get(query.get("sign_transaction_id", ""))
        if transaction is None:
            return self.reply(400, {"error": "invalid_request"})
        back = {"state": query["state"]}
        if server.mode == "deny":
            back["error"] = "access_denied"
        else:
            key = serialization.load_pem_private_key(server.card.private_key_pem.encode(), password=None)
            digest = transaction["digest_info"][len(SHA256_DIGEST_INFO_PREFIX):]
            transaction["signature"] = key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
            transaction["certificate"] = bytes(server.card.certificate_der)
            code = secrets.token_urlsafe(16)
            server.codes[code] = {"challenge": query["code_challenge"], "nonce": query["nonce"],
                                  "transaction": query["sign_transaction_id"]}
            back["code"] = code
        self.reply(302, location=REDIRECT_URI + "?" + urllib.parse.urlencode(back))

    def do_POST(self) -> None:
        server, path = self.server, urllib.parse.urlsplit(self.path).path
        server.log.append(f"POST {path}")
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if path == TOKEN_PATH:
            if server.mode == "slow":
                time.sleep(1.5)
            form = dict(urllib.parse.parse_qsl(body.decode()))
            if not self.client_authenticated(form):
                return self.reply(401, {"error": "invalid_client"})
            if server.mode == "token_error":
                return self.reply(400, {"error": "invalid_grant", "error_description": "code expired"})
            if form.get("grant_type") == "client_credentials":
                token = secrets.token_urlsafe(16)
                server.tokens[token] = None
                return self.reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": 300})
            grant = server.codes.pop(form.get("code", ""), None)  # a code works once
            verifier = form.get("code_verifier", "").encode()
            if (grant is None or form.get("redirect_uri") != REDIRECT_URI
                    or b64url(hashlib.sha256(verifier).digest()) != grant["challenge"]):
                return self.reply(400, {"error": "invalid_grant"})
            token = secrets.token_urlsafe(16)
            server.tokens[token] = grant["transaction"]
            now = int(time.time())
            claims = {"iss": server.url + ISSUER_PATH, "aud": CLIENT_ID, "sub": "user-1", "iat": now,
                      "exp": now + 300, "nonce": "someone else's" if server.mode == "bad_nonce" else grant["nonce"],
                      "name": "山田 花子", "birthdate": "1980-04-01", "gender": "female", "address": "窓口市"}
            key = rsa.generate_private_key(65537, 2048) if server.mode == "forged_id_token" else server.signing_key
            return self.reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": 300,
                                    "id_token": sign_jwt(claims, key, kid="fake-1")})
        if path == "/api/sign-transactions":
            if server.tokens.get(self.bearer(), "missing") is not None:
                return self.reply(401, {"error": "invalid_token"})
            request = json.loads(body)
            digest_info = base64.b64decode(request.get("hash", ""))
            if request.get("hash_type") != "digest_info" or not digest_info.startswith(SHA256_DIGEST_INFO_PREFIX):
                return self.reply(400, {"error": "invalid_request"})
            transaction_id = str(uuid.uuid4())
            server.transactions[transaction_id] = {"digest_info": digest_info, "title": request.get("title")}
            return self.reply(201, {"sign_transaction_id": transaction_id})
        return self.reply(404, {"error": "not_found"})


@pytest.fixture(scope="module")
def client_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def encryption_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def service(client_key, encryption_key, settings, monkeypatch, municipality, resident):
    server = FakeService(client_key.public_key(), encryption_key.public_key())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.card = cards.issue_card(resident)
    settings.DIGITAL_AUTH_APP_BASE_URL = server.url
    settings.DIGITAL_AUTH_APP_TIMEOUT = 0.5
    settings.IDENTITY_PROVIDER = "digital_auth_app"
    monkeypatch.setenv(f"MADOGUCHI_DIGITAL_AUTH_APP_KEY_{CLIENT_ID}", pem(client_key))
    monkeypatch.setenv(f"MADOGUCHI_DIGITAL_AUTH_APP_ENC_KEY_{CLIENT_ID}", pem(encryption_key))
    ClientConfiguration.objects.create(municipality=municipality, client_id=CLIENT_ID, redirect_uri=REDIRECT_URI)
    yield server
    server.shutdown()
    server.server_close()


def go_to_app(client, request) -> tuple[str, dict]:
    """Start signing and follow our redirect to the app; returns (our callback URL, authorization query)."""
    challenge = start_signing(request)
    response = client.get(reverse("identity_digital_auth_app:start", args=[challenge.nonce]))
    assert response.status_code == 302, response.content
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(response.url).query))

    class NoFollow(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        urllib.request.build_opener(NoFollow).open(response.url, timeout=5)
    except urllib.error.HTTPError as answer:
        if answer.code != 302:
            raise
        return answer.headers["Location"].removeprefix("http://testserver"), query
    raise AssertionError("the app did not redirect back")


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_sign_with_the_app_end_to_end(service, client, municipality):
    request = draft(municipality)
    callback, query = go_to_app(client, request)
    session = AuthorizationSession.objects.get()
    # PKCE: the challenge sent is S256 of the verifier we kept; state and nonce are ours.
    assert query["code_challenge"] == b64url(hashlib.sha256(session.code_verifier.encode()).digest())
    assert (query["state"], query["nonce"]) == (session.state, session.nonce)
    assert set(query["scope"].split()) == {"openid", "name", "address", "birthdate", "gender", "sign"}
    # The DigestInfo covers exactly the request's canonical bytes.
    transaction = service.transactions[query["sign_transaction_id"]]
    content = canonical_bytes(request, session.challenge.nonce)
    assert transaction["digest_info"] == SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(content).digest()
    assert "窓口市" in transaction["title"]
    response = client.get(callback)
    assert response.status_code == 302 and response.url == reverse(
        "web:pay", kwargs={"code": municipality.code, "public_id": request.public_id})
    request.refresh_from_db()
    assert request.state == State.SIGNED and request.match_result == "exact"
    evidence = SignatureEvidence.objects.get(request=request)
    assert evidence.provider == "digital_auth_app" and bytes(evidence.signed_bytes) == content
    # Replayed callback: the state works once; nothing is recorded twice.
    again = client.get(callback)
    assert again.status_code == 400 and "すでに使われています" in again.content.decode()
    assert SignatureEvidence.objects.filter(request=request).count() == 1


@pytest.mark.parametrize("state", ["", "unknown-state"])
def test_unknown_or_missing_state_is_refused(service, client, municipality, state):
    request = draft(municipality)
    go_to_app(client, request)
    response = client.get(reverse("identity_digital_auth_app:callback"), {"state": state, "code": "x"})
    assert response.status_code == 400
    assert request.__class__.objects.get(pk=request.pk).state == State.DRAFT


@pytest.mark.parametrize(("mode", "message"), [
    ("bad_nonce", "確認できませんでした"),         # ID token for another sign-in
    ("forged_id_token", "確認できませんでした"),   # ID token not signed by the service's key
    ("token_error", "確認できませんでした"),       # invalid_grant at the token endpoint
    ("deny", "取り消されました"),                  # the resident cancelled in the app
])
def test_failures_on_the_way_back_keep_the_request_unsigned(service, client, municipality, mode, message):
    request = draft(municipality)
    if mode == "deny":  # decided in the app, before it comes back
        service.mode = mode
    callback, _query = go_to_app(client, request)
    service.mode = mode
    response = client.get(callback)
    assert response.status_code == 302 and response.url.endswith("/sign/")
    assert any(message in m for m in messages_of(response))
    request.refresh_from_db()
    assert request.state == State.DRAFT and not SignatureEvidence.objects.filter(request=request).exists()
    # The trip is spent either way: replaying it is refused.
    assert client.get(callback).status_code == 400


def test_service_timeout_is_a_clear_error(service, client, municipality):
    service.mode = "slow"
    request = draft(municipality)
    challenge = start_signing(request)
    response = client.get(reverse("identity_digital_auth_app:start", args=[challenge.nonce]))
    assert response.status_code == 302 and response.url.endswith("/sign/")
    assert any("接続できませんでした" in m for m in messages_of(response))
    assert not AuthorizationSession.objects.exists()


def test_service_down_is_a_clear_error(service, client, municipality, settings):
    settings.DIGITAL_AUTH_APP_BASE_URL = "http://127.0.0.1:9"
    challenge = start_signing(draft(municipality))
    response = client.get(reverse("identity_digital_auth_app:start", args=[challenge.nonce]))
    assert any("接続できませんでした" in m for m in messages_of(response))


@pytest.mark.parametrize("broken", ["no-configuration", "no-key", "wrong-key"])
def test_misconfiguration_never_reaches_the_service(service, client, municipality, monkeypatch, broken):
    if broken == "no-configuration":
        ClientConfiguration.objects.all().delete()
    elif broken == "no-key":
        monkeypatch.delenv(f"MADOGUCHI_DIGITAL_AUTH_APP_KEY_{CLIENT_ID}")
    else:
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        monkeypatch.setenv(f"MADOGUCHI_DIGITAL_AUTH_APP_KEY_{CLIENT_ID}", other.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode())
    challenge = start_signing(draft(municipality))
    response = client.get(reverse("identity_digital_auth_app:start", args=[challenge.nonce]))
    assert response.status_code == 302 and response.url.endswith("/sign/")
    assert not service.transactions
    if broken == "wrong-key":
        assert service.log == [f"POST {TOKEN_PATH}"]  # refused as invalid_client
    else:
        assert service.log == []


def test_start_with_a_used_or_unknown_nonce_is_404(service, client, municipality):
    assert client.get(reverse("identity_digital_auth_app:start", args=["nope"])).status_code == 404


def test_the_web_flow_hands_over_to_the_app(service, client, municipality):
    """The resident's 署名する button leads to our start view, then to the app."""
    from madoguchi.applications.models import CertificateRequest

    from .test_web import walk_to_confirm

    walk_to_confirm(client, municipality.code)
    client.post(reverse("web:apply_confirm", args=[municipality.code]))
    request = CertificateRequest.objects.get()
    response = client.post(reverse("web:sign", kwargs={"code": municipality.code, "public_id": request.public_id}))
    assert response.url.startswith("/identity/digital-auth-app/start/")
    assert client.get(response.url).url.startswith(service.url + ISSUER_PATH + "/protocol/openid-connect/auth?")


def test_id_tokens_with_alg_none_or_hmac_are_refused(client_key):
    from madoguchi.identity.contrib.digital_auth_app.client import ProviderError

    token = sign_jwt({"nonce": "n"}, client_key, kid="k")
    header, claims, signature = token.split(".")
    for alg in ("none", "HS256"):
        forged_header = b64url(json.dumps({"alg": alg, "kid": "k"}).encode())
        with pytest.raises(ProviderError):
            verify_jwt(f"{forged_header}.{claims}.{signature}", {"keys": [jwk(client_key.public_key(), "k")]})
    assert verify_jwt(token, {"keys": [jwk(client_key.public_key(), "k")]}) == json.loads(b64url_decode(claims))
