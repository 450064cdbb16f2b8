"""The sandbox timestamp authority: an RFC 3161 responder over HTTP for the demo and the tests.

Production uses a real TSA (`MADOGUCHI_DOCUMENT_TSA_URL`, e.g. a 総務大臣認定 タイムスタンプ事業者);
the sandbox one speaks the same protocol (RFC 3161 §3.4: POST application/timestamp-query, answer
application/timestamp-reply), signs with its own key certified by the document CA for
time-stamping only, and answers malformed requests with a rejection, never with a token.

`respond(request_der)` is the whole protocol; `sandbox_tsa` mounts it at /sandbox/document-tsa with DEBUG,
and `serve(host, port)` runs it on its own HTTP server (the tests start one on 127.0.0.1).
"""

import datetime
import hashlib
import http.server
import secrets
import threading

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .pki import Authority, sandbox_timestamp_authority

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
MAX_REQUEST_BYTES = 16 * 1024  # a request is a hash and a few integers: about 60 bytes
# The sandbox policy: a UUID-based OID (ITU-T X.667, arc 2.25), which needs no registration.
POLICY = "2.25.241170923474357214530307094364233627721"
HASHES = {"sha256": 32, "sha384": 48, "sha512": 64}


class _Rejection(core.Sequence):
    """TimeStampResp without the token (RFC 3161 §2.4.2: it is present only when granted;
    asn1crypto's TimeStampResp cannot leave it out)."""

    _fields = [("status", tsp.PKIStatusInfo)]


def _rejection(failure: str, text: str) -> bytes:
    return _Rejection({"status": {"status": "rejection", "status_string": [text],
                                  "fail_info": tsp.PKIFailureInfo({failure})}}).dump()


def respond(request_der: bytes, authority: Authority | None = None, *,
            now: datetime.datetime | None = None) -> bytes:
    """The DER TimeStampResp to a DER TimeStampReq: a token, or a rejection saying why."""
    try:
        request = tsp.TimeStampReq.load(request_der, strict=True)
        request.native  # noqa: B018 - parses every field now, so malformed input fails here
        imprint = request["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        digest = imprint["hashed_message"].native
        version = request["version"].native
    except (ValueError, TypeError, KeyError, OverflowError):
        return _rejection("bad_data_format", "malformed TimeStampReq")
    if version != "v1":
        return _rejection("bad_request", "version must be 1")
    if algorithm not in HASHES:
        return _rejection("bad_alg", "unsupported hash algorithm")
    if len(digest) != HASHES[algorithm]:
        return _rejection("bad_data_format", "hash length does not match the algorithm")
    if request["req_policy"].native not in (None, POLICY):
        return _rejection("unaccepted_policy", "unknown policy")
    if request["extensions"].native:
        return _rejection("unaccepted_extensions", "no extensions are supported")
    authority = authority or sandbox_timestamp_authority()
    token = _token(authority, request, now or datetime.datetime.now(datetime.UTC))
    return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()


def _token(authority: Authority, request: tsp.TimeStampReq, now: datetime.datetime) -> cms.ContentInfo:
    certificate = asn1_x509.Certificate.load(authority.certificate_der)
    info = {"version": "v1", "policy": POLICY, "message_imprint": request["message_imprint"],
            # Milliseconds (RFC 3161 §2.4.2 allows fractions): a key retired a moment after a
            # signature must still be told apart from it (documents.signing).
            "serial_number": secrets.randbits(63), "gen_time": now.replace(microsecond=now.microsecond // 1000 * 1000),
            "accuracy": {"millis": 1}}
    if request["nonce"].native is not None:
        info["nonce"] = request["nonce"].native
    content = tsp.TSTInfo(info).dump()
    signed_attributes = cms.CMSAttributes([
        {"type": "content_type", "values": ["tst_info"]},
        {"type": "message_digest", "values": [hashlib.sha256(content).digest()]},
        # RFC 5816 / RFC 3161 §2.4.1: the token names the certificate that signed it.
        {"type": "signing_certificate_v2", "values": [{"certs": [{
            "hash_algorithm": {"algorithm": "sha256"}, "cert_hash": hashlib.sha256(certificate.dump()).digest(),
            "issuer_serial": {"issuer": [asn1_x509.GeneralName({"directory_name": certificate.issuer})],
                              "serial_number": certificate.serial_number}}]}]},
    ])
    signature = authority.key.sign(signed_attributes.dump(), ec.ECDSA(hashes.SHA256()))
    signer = cms.SignerInfo({
        "version": "v1",
        "sid": {"issuer_and_serial_number": {"issuer": certificate.issuer, "serial_number": certificate.serial_number}},
        "digest_algorithm": {"algorithm": "sha256"},
        "signed_attrs": signed_attributes,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
        "signature": signature,
    })
    signed_data = {
        "version": "v3",
        "digest_algorithms": [{"algorithm": "sha256"}],
        "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(content)},
        "signer_infos": [signer],
    }
    if request["cert_req"].native:
        signed_data["certificates"] = [certificate]
    return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})


@csrf_exempt
@require_POST
def sandbox_tsa(http_request):
    """The local TSA under /sandbox/document-tsa (mounted with the other sandbox services)."""
    if http_request.content_type != QUERY_TYPE:
        return HttpResponse("Content-Type must be application/timestamp-query\n", status=415,
                            content_type="text/plain")
    if int(http_request.headers.get("Content-Length") or 0) > MAX_REQUEST_BYTES:
        return HttpResponse("request too large\n", status=413, content_type="text/plain")
    return HttpResponse(respond(http_request.body), content_type=REPLY_TYPE)


class _Handler(http.server.BaseHTTPRequestHandler):
    authority: Authority

    def do_POST(self):  # noqa: N802 - the name http.server dispatches to
        length = self.headers.get("Content-Length", "")
        if self.headers.get_content_type() != QUERY_TYPE:
            return self._send(415, b"Content-Type must be application/timestamp-query\n", "text/plain")
        if not length.isdigit() or int(length) > MAX_REQUEST_BYTES:
            return self._send(413, b"request too large or without length\n", "text/plain")
        self._send(200, respond(self.rfile.read(int(length)), self.authority), REPLY_TYPE)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - quiet: the tests and the bench call it thousands of times
        pass


def serve(host: str = "127.0.0.1", port: int = 0,
          authority: Authority | None = None) -> http.server.ThreadingHTTPServer:
    """Start the sandbox TSA on its own HTTP server in a daemon thread; `server.server_address`
    gives the port, `server.shutdown()` stops it."""
    handler = type("TsaHandler", (_Handler,), {"authority": authority or sandbox_timestamp_authority()})
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name="sandbox-tsa").start()
    return server
