"""Revocation (CRL, OCSP), CMS detached signatures and the policies of the JPKI verification core.

Revocation fails closed: a forged, stale or missing CRL, or an OCSP responder that is down, slow or
unverifiable, never lets a certificate through, each with its own reason code. The OCSP responder
is a real HTTP server on 127.0.0.1 speaking RFC 6960.
"""

import datetime
import http.server
import json
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from madoguchi.identity import jpki
from madoguchi.identity.jpki import BasicFour, PolicyFlag, Reason
from madoguchi.identity.revocation import CrlIndex, CrlRefused, CrlSet, OcspSource

from .test_jpki import BASIC_FOUR, CONTENT, DAY, DER, NOW, Pki, make_ca, new_key, sign


def make_crl(ca: x509.Certificate, key, revoked: tuple[int, ...] = (), *, this_update=NOW - DAY,
             next_update=NOW + DAY, number: int = 1) -> bytes:
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
               .last_update(this_update).next_update(next_update)
               .add_extension(x509.CRLNumber(number), critical=False))
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW - DAY).build())
    return builder.sign(key, hashes.SHA256()).public_bytes(DER)


class RevocationPki(Pki):
    def __init__(self):
        super().__init__()
        # A second root, valid at the same time as the first (JPKI rolls its roots over).
        self.next_ca_key = new_key()
        self.next_ca = make_ca(self.next_ca_key, "Test JPKI Signing CA 2")
        self.anchors = [self.ca, self.next_ca]
        self.responder_key = new_key()

    def crls(self, *crls: bytes) -> CrlSet:
        return CrlSet(crls, self.anchors)

    def check(self, leaf: x509.Certificate, sources, *, card_key=None, content: bytes = CONTENT,
              signature: bytes | None = None, cms: bool = False, now=NOW) -> jpki.VerificationResult:
        if signature is None:
            signature = sign(card_key or self.card_key, content)
        return jpki.verify_signature(leaf.public_bytes(DER), signature, content, self.anchors, at=now, now=now,
                                     cms=cms, revocation=sources)


@pytest.fixture(scope="module")
def pki() -> RevocationPki:
    return RevocationPki()


# --- CRLs ----------------------------------------------------------------------------------------

def test_certificate_on_no_crl_is_valid_and_the_crl_used_is_recorded(pki):
    leaf = pki.leaf()
    crl = make_crl(pki.ca, pki.ca_key, (leaf.serial_number + 1,), number=7)
    result = pki.check(leaf, [pki.crls(crl)])
    assert result.valid, result.reason
    assert result.checks[-1] == "revocation"
    assert result.revocation == [CrlSet([crl], pki.anchors).indexes[0].used()]
    assert result.revocation[0]["number"] == 7 and len(result.revocation[0]["sha256"]) == 64


def test_revoked_certificate_is_refused(pki):
    leaf = pki.leaf()
    result = pki.check(leaf, [pki.crls(make_crl(pki.ca, pki.ca_key, (12345, leaf.serial_number)))])
    assert (result.valid, result.reason) == (False, Reason.REVOKED)


def test_stale_crl_fails_closed(pki):
    crl = make_crl(pki.ca, pki.ca_key, this_update=NOW - 10 * DAY, next_update=NOW - DAY)
    result = pki.check(pki.leaf(), [pki.crls(crl)])
    assert (result.valid, result.reason) == (False, Reason.CRL_STALE)


def test_crl_signed_by_another_key_fails_closed(pki):
    # Same issuer name as the trusted CA, signed with the impostor's key.
    forged = make_crl(pki.forged_ca, pki.forged_ca_key)
    result = pki.check(pki.leaf(), [pki.crls(forged)])
    assert (result.valid, result.reason) == (False, Reason.CRL_INVALID)
    assert CrlIndex.build(forged, pki.anchors).revoked == frozenset()


@pytest.mark.parametrize("sources", ["none", "other-ca"])
def test_missing_revocation_data_fails_closed(pki, sources):
    crls = [] if sources == "none" else [pki.crls(make_crl(pki.next_ca, pki.next_ca_key))]
    result = pki.check(pki.leaf(), crls)
    assert (result.valid, result.reason) == (False, Reason.REVOCATION_MISSING)


def test_several_roots_each_with_its_crl(pki):
    old_leaf = pki.leaf()
    new_leaf = pki.leaf(ca=pki.next_ca, ca_key=pki.next_ca_key)
    crls = pki.crls(make_crl(pki.ca, pki.ca_key), make_crl(pki.next_ca, pki.next_ca_key, (old_leaf.serial_number,)))
    # The second root's CRL lists the same serial, but it only speaks for the second root's certificates.
    assert pki.check(old_leaf, [crls]).valid
    assert pki.check(new_leaf, [crls]).valid
    revoking = pki.crls(make_crl(pki.ca, pki.ca_key), make_crl(pki.next_ca, pki.next_ca_key, (new_leaf.serial_number,)))
    assert pki.check(new_leaf, [revoking]).reason == Reason.REVOKED


def test_the_newest_crl_of_a_ca_decides(pki):
    leaf = pki.leaf()
    old = make_crl(pki.ca, pki.ca_key, this_update=NOW - 2 * DAY, number=1)
    new = make_crl(pki.ca, pki.ca_key, (leaf.serial_number,), this_update=NOW - DAY, number=2)
    assert pki.check(leaf, [pki.crls(new, old)]).reason == Reason.REVOKED


@pytest.mark.parametrize("data", [b"", b"garbage", b"\x30\x82\x01",
                                  b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----"])
def test_garbage_crl_is_refused_when_loaded(pki, data):
    with pytest.raises(CrlRefused):
        pki.crls(data)


def test_pem_crl_is_accepted(pki):
    crl = x509.load_der_x509_crl(make_crl(pki.ca, pki.ca_key)).public_bytes(serialization.Encoding.PEM)
    assert pki.check(pki.leaf(), [pki.crls(crl)]).valid


def test_revocation_is_checked_only_for_otherwise_valid_certificates(pki):
    # A signature over other content is refused as such, without consulting revocation data.
    result = pki.check(pki.leaf(), [], content=CONTENT, signature=sign(pki.card_key, b"other"))
    assert result.reason == Reason.BAD_SIGNATURE and result.revocation == []


# --- OCSP against a local responder ----------------------------------------------------------------

class Responder(http.server.ThreadingHTTPServer):
    """An RFC 6960 responder for `pki.ca`; `mode` picks the answer."""

    def __init__(self, pki: RevocationPki):
        super().__init__(("127.0.0.1", 0), OcspHandler)
        self.pki, self.mode, self.requests = pki, "good", 0
        delegate = (x509.CertificateBuilder()
                    .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "OCSP responder")]))
                    .issuer_name(pki.ca.subject).public_key(pki.responder_key.public_key())
                    .serial_number(x509.random_serial_number())
                    .not_valid_before(NOW - DAY).not_valid_after(NOW + 30 * DAY))
        self.delegate = (delegate.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False)
                         .sign(pki.ca_key, hashes.SHA256()))
        self.delegate_without_eku = delegate.sign(pki.ca_key, hashes.SHA256())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/ocsp"


class OcspHandler(http.server.BaseHTTPRequestHandler):
    server: Responder

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        server, pki = self.server, self.server.pki
        server.requests += 1
        body = self.rfile.read(int(self.headers["Content-Length"]))
        mode = server.mode
        if mode == "timeout":
            time.sleep(1.5)
        if mode == "http_500":
            self.send_response(500)
            self.end_headers()
            return
        request = ocsp.load_der_ocsp_request(body)
        nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        if mode == "try_later":
            answer = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
        elif mode == "garbage":
            answer = None
        else:
            leaf = server.leaf
            status = {"revoked": ocsp.OCSPCertStatus.REVOKED, "unknown": ocsp.OCSPCertStatus.UNKNOWN}.get(
                mode, ocsp.OCSPCertStatus.GOOD)
            next_update = NOW - 2 * DAY if mode == "stale" else NOW + DAY
            builder = ocsp.OCSPResponseBuilder().add_response(
                cert=leaf, issuer=pki.ca, algorithm=hashes.SHA1(), cert_status=status,
                this_update=NOW - 3 * DAY if mode == "stale" else NOW - DAY, next_update=next_update,
                revocation_time=NOW - DAY if status == ocsp.OCSPCertStatus.REVOKED else None,
                revocation_reason=None)
            if mode != "no_nonce":
                builder = builder.add_extension(
                    x509.OCSPNonce(b"\x00" * 16 if mode == "wrong_nonce" else nonce), critical=False)
            signer, key = pki.ca, pki.ca_key
            if mode in ("delegated", "delegated_without_eku"):
                signer = server.delegate if mode == "delegated" else server.delegate_without_eku
                key = pki.responder_key
                builder = builder.certificates([signer])
            elif mode == "forged":  # the impostor CA of the same name
                signer, key = pki.forged_ca, pki.forged_ca_key
            answer = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, signer).sign(key, hashes.SHA256())
        payload = b"not der" if answer is None else answer.public_bytes(DER)
        self.send_response(200)
        self.send_header("Content-Type", "application/ocsp-response")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the "timeout" client gave up before the answer: that is the point of the case


@pytest.fixture(scope="module")
def responder(pki):
    server = Responder(pki)
    server.leaf = pki.leaf()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("mode", "reason"), [
    ("good", None),
    ("no_nonce", None),  # a pre-signed answer without the nonce is allowed (RFC 5019)
    ("delegated", None),
    ("revoked", Reason.REVOKED),
    ("unknown", Reason.OCSP_INVALID),
    ("forged", Reason.OCSP_INVALID),
    ("delegated_without_eku", Reason.OCSP_INVALID),
    ("wrong_nonce", Reason.OCSP_INVALID),  # a replayed answer to somebody else's request
    ("stale", Reason.OCSP_INVALID),
    ("garbage", Reason.OCSP_INVALID),
    ("try_later", Reason.OCSP_UNAVAILABLE),
    ("http_500", Reason.OCSP_UNAVAILABLE),
    ("timeout", Reason.OCSP_UNAVAILABLE),
])
def test_ocsp_answers(pki, responder, mode, reason):
    responder.mode = mode
    asked = responder.requests
    result = pki.check(responder.leaf, [OcspSource(responder.url, pki.ca, timeout=0.5)])
    assert (result.valid, result.reason) == (reason is None, reason)
    assert responder.requests == asked + 1
    assert result.revocation[0]["kind"] == "ocsp"


def test_ocsp_responder_down_fails_closed(pki):
    result = pki.check(pki.leaf(), [OcspSource("http://127.0.0.1:9/ocsp", pki.ca, timeout=0.5)])
    assert result.reason == Reason.OCSP_UNAVAILABLE


def test_ocsp_and_crl_must_both_agree(pki, responder):
    responder.mode = "good"
    crl = make_crl(pki.ca, pki.ca_key, (responder.leaf.serial_number,))
    result = pki.check(responder.leaf, [OcspSource(responder.url, pki.ca), pki.crls(crl)])
    assert result.reason == Reason.REVOKED


# --- CMS / PKCS#7 detached -------------------------------------------------------------------------

def cms(leaf, key, content: bytes = CONTENT, *options: pkcs7.PKCS7Options, encoding=DER) -> bytes:
    return (pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(leaf, key, hashes.SHA256())
            .sign(encoding, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary, *options]))


@pytest.mark.parametrize("variant", ["attributes", "no-attributes", "pem"])
def test_detached_cms_verifies(pki, variant):
    leaf = pki.leaf()
    options = [pkcs7.PKCS7Options.NoAttributes] if variant == "no-attributes" else []
    encoding = serialization.Encoding.PEM if variant == "pem" else DER
    signature = cms(leaf, pki.card_key, CONTENT, *options, encoding=encoding)
    result = pki.check(leaf, None, signature=signature, cms=True)
    assert result.valid, result.reason
    assert result.basic_four == BASIC_FOUR


def test_cms_over_other_content_is_refused(pki):
    leaf = pki.leaf()
    result = pki.check(leaf, None, signature=cms(leaf, pki.card_key, b"other content"), cms=True)
    assert result.reason == Reason.BAD_SIGNATURE


def test_cms_by_another_card_is_refused(pki):
    mine, theirs = pki.leaf(), pki.leaf(pki.other_card_key.public_key())
    # Their SignedData, presented with my certificate.
    result = pki.check(mine, None, signature=cms(theirs, pki.other_card_key), cms=True)
    assert result.reason == Reason.BAD_SIGNATURE


def test_cms_with_a_tampered_signature_is_refused(pki):
    leaf = pki.leaf()
    signature = bytearray(cms(leaf, pki.card_key))
    signature[-5] ^= 0xFF  # inside the signature value, the last field
    assert pki.check(leaf, None, signature=bytes(signature), cms=True).reason == Reason.BAD_SIGNATURE


@pytest.mark.parametrize("data", [b"", b"garbage", b"\x30\x03\x06\x01\x00",
                                  b"-----BEGIN PKCS7-----\n!!\n-----END PKCS7-----"])
def test_garbage_cms_is_malformed(pki, data):
    assert pki.check(pki.leaf(), None, signature=data, cms=True).reason == Reason.MALFORMED_SIGNATURE


def test_cms_that_embeds_the_content_is_refused(pki):
    leaf = pki.leaf()
    attached = (pkcs7.PKCS7SignatureBuilder().set_data(CONTENT).add_signer(leaf, pki.card_key, hashes.SHA256())
                .sign(DER, [pkcs7.PKCS7Options.Binary]))
    assert pki.check(leaf, None, signature=attached, cms=True).reason == Reason.MALFORMED_SIGNATURE


def test_bare_signature_is_not_taken_for_cms_nor_cms_for_bare(pki):
    leaf = pki.leaf()
    assert pki.check(leaf, None, cms=True).reason == Reason.MALFORMED_SIGNATURE
    assert pki.check(leaf, None, signature=cms(leaf, pki.card_key)).reason == Reason.BAD_SIGNATURE


# --- policies after the cryptography -------------------------------------------------------------

def test_substitute_characters_are_flagged_for_manual_review(pki):
    card = BasicFour(name="髙橋 一郎", date_of_birth=datetime.date(1970, 1, 1), sex="1",
                     address="東京都窓口市本町1-2-3", name_substitute="高橋 一郎")
    result = pki.check(pki.leaf(basic_four=card), None)
    assert result.valid and result.flags == [PolicyFlag.SUBSTITUTE_CHARACTERS]
    assert result.as_json()["basic_four"]["name_substitute"] == "高橋 一郎"


def test_under_15_is_refused_with_a_flag_and_15_today_is_accepted(pki):
    today = NOW.astimezone(jpki.JST).date()
    def born(years: int, days: int = 0) -> BasicFour:
        day = today.replace(year=today.year - years) if (today.month, today.day) != (2, 29) else today
        return BasicFour(name="山田 太郎", date_of_birth=day + datetime.timedelta(days=days), sex="1",
                         address="東京都窓口市本町1-2-3")
    young = pki.check(pki.leaf(basic_four=born(15, days=1)), None)
    assert (young.valid, young.reason, young.flags) == (False, Reason.UNDER_15, [PolicyFlag.UNDER_15])
    assert young.as_json()["basic_four"]["date_of_birth"]  # the clerk still sees who it was
    assert pki.check(pki.leaf(basic_four=born(15)), None).valid


def test_command_object_has_exactly_the_documented_keys(pki):
    result = pki.check(pki.leaf(), None)
    assert list(result.as_json()) == ["valid", "reason", "basic_four", "flags", "serial", "issuer", "not_after"]
    assert set(result.evidence_json()) == {*result.as_json(), "checks", "revocation"}


def test_command_asks_the_ocsp_responder(pki, responder, tmp_path):
    import io

    from django.core.management import call_command

    (tmp_path / "trust").mkdir()
    (tmp_path / "trust" / "ca.der").write_bytes(pki.ca.public_bytes(DER))
    (tmp_path / "cert.der").write_bytes(responder.leaf.public_bytes(DER))
    (tmp_path / "sig").write_bytes(sign(pki.card_key))
    (tmp_path / "content").write_bytes(CONTENT)
    args = ["jpki", "verify", "--cert", str(tmp_path / "cert.der"), "--signature", str(tmp_path / "sig"),
            "--content", str(tmp_path / "content"), "--trust", str(tmp_path / "trust"), "--ocsp", responder.url]
    for mode, valid in (("good", True), ("revoked", False)):
        responder.mode = mode
        out = io.StringIO()
        try:
            call_command(*args, stdout=out)
        except SystemExit as exit:
            assert exit.code == 1
        result = json.loads(out.getvalue())
        assert result["valid"] is valid and result["reason"] == (None if valid else Reason.REVOKED)


def test_kept_ocsp_answers_re_verify_later_without_the_responder(pki, responder, tmp_path):
    import base64
    import io

    from django.core.management import call_command

    from madoguchi.identity.revocation import KeptOcspResponses

    answers = {}
    for mode in ("good", "revoked"):
        responder.mode = mode
        result = pki.check(responder.leaf, [OcspSource(responder.url, pki.ca)])
        answers[mode] = base64.b64decode(result.revocation[0]["response"])
    asked = responder.requests
    assert pki.check(responder.leaf, [KeptOcspResponses([answers["good"]])]).valid
    assert pki.check(responder.leaf, [KeptOcspResponses([answers["revoked"]])]).reason == Reason.REVOKED
    # An answer about another certificate says nothing about this one: fail closed.
    assert pki.check(pki.leaf(), [KeptOcspResponses([answers["good"]])]).reason == Reason.REVOCATION_MISSING
    assert pki.check(responder.leaf, [KeptOcspResponses([b"garbage"])]).reason == Reason.REVOCATION_MISSING
    assert responder.requests == asked  # none of this asked the responder
    # The command takes a kept answer as a file.
    (tmp_path / "trust").mkdir()
    (tmp_path / "trust" / "ca.der").write_bytes(pki.ca.public_bytes(DER))
    (tmp_path / "cert.der").write_bytes(responder.leaf.public_bytes(DER))
    (tmp_path / "sig").write_bytes(sign(pki.card_key))
    (tmp_path / "content").write_bytes(CONTENT)
    (tmp_path / "ocsp.der").write_bytes(answers["good"])
    out = io.StringIO()
    call_command("jpki", "verify", "--cert", str(tmp_path / "cert.der"), "--signature", str(tmp_path / "sig"),
                 "--content", str(tmp_path / "content"), "--trust", str(tmp_path / "trust"),
                 "--ocsp-response", str(tmp_path / "ocsp.der"), stdout=out)
    assert json.loads(out.getvalue())["valid"] is True
