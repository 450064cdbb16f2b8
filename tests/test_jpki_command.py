"""`manage.py jpki`: the verification command on certificates made by the openssl command line and
by the cryptography library, its exit codes, the trust material it loads, and re-verification of
the evidence kept per request.
"""

import datetime
import io
import json
import os
import pathlib
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from madoguchi.identity import trust
from madoguchi.identity.jpki import Reason
from madoguchi.identity.models import RevocationList, RevokedSerial, SignatureEvidence, TrustAnchor

from .flow import draft, received, sign
from .test_backoffice import make_staff, signed_in
from .test_jpki import CONTENT, DAY, DER, NOW, Pki, leaf_builder, new_key, other_names
from .test_jpki import sign as sign_content
from .test_jpki_revocation import make_crl

ROOT = pathlib.Path(__file__).resolve().parent.parent
SAN = {"name": "辻 一郎", "sex": "1", "date_of_birth": "319700101", "address": "東京都窓口市本町一丁目2番3号"}


def run(*args: str) -> tuple[int, dict | None, str]:
    """The command in this process: (exit code, the JSON object if one was printed, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("jpki", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exit:
        code = exit.code
    except CommandError as error:
        code, err = error.returncode, io.StringIO(str(error))
    text = out.getvalue().strip()
    return code, json.loads(text) if text.startswith("{") else None, err.getvalue()


# --- certificates made by the openssl command line -----------------------------------------------

OPENSSL_CONFIG = """
[ca]
default_ca = jpki
[jpki]
database = {dir}/index.txt
crlnumber = {dir}/crlnumber
default_md = sha256
default_crl_days = 7
[req]
distinguished_name = dn
prompt = no
[dn]
C = JP
CN = OpenSSL Test JPKI Signing CA
[ca_ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
[leaf_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
subjectAltName = @san
[encipher_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, keyEncipherment
subjectAltName = @san
[san]
otherName.1 = 1.2.392.200149.8.5.5.1;FORMAT:UTF8,UTF8:{name}
otherName.2 = 1.2.392.200149.8.5.5.3;FORMAT:UTF8,UTF8:{sex}
otherName.3 = 1.2.392.200149.8.5.5.4;FORMAT:UTF8,UTF8:{date_of_birth}
otherName.4 = 1.2.392.200149.8.5.5.5;FORMAT:UTF8,UTF8:{address}
"""


class OpenSsl:
    """A CA, cards, signatures and CRLs, all made with `openssl` in a folder."""

    def __init__(self, folder: pathlib.Path):
        self.dir = folder
        (folder / "index.txt").write_text("")
        (folder / "crlnumber").write_text("01\n")
        (folder / "trust").mkdir()
        (folder / "ca.cnf").write_text(OPENSSL_CONFIG.format(dir=folder, **SAN), encoding="utf-8")
        (folder / "content").write_bytes(CONTENT)
        self.openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "trust/ca.pem",
                     "-days", "30", "-config", "ca.cnf", "-extensions", "ca_ext")

    def openssl(self, *args: str) -> None:
        subprocess.run(["openssl", *args], cwd=self.dir, check=True, capture_output=True)

    def card(self, name: str, *, bits: int = 2048, md: str = "sha256", extensions: str = "leaf_ext") -> str:
        self.openssl("req", "-new", "-newkey", f"rsa:{bits}", "-nodes", "-keyout", f"{name}.key",
                     "-subj", "/C=JP/CN=0123456789ABCDEF", "-out", f"{name}.csr")
        self.openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "trust/ca.pem", "-CAkey", "ca.key",
                     "-CAcreateserial", "-CAserial", "ca.srl", "-days", "10", f"-{md}", "-extfile", "ca.cnf",
                     "-extensions", extensions, "-out", f"{name}.pem")
        self.openssl("dgst", "-sha256", "-sign", f"{name}.key", "-out", f"{name}.sig", "content")
        return name

    def cms(self, name: str, md: str = "sha256") -> str:
        self.openssl("cms", "-sign", "-binary", "-in", "content", "-signer", f"{name}.pem", "-inkey", f"{name}.key",
                     "-md", md, "-outform", "DER", "-out", f"{name}-{md}.p7s")
        return f"{name}-{md}.p7s"

    def revoke(self, name: str) -> None:
        self.openssl("ca", "-config", "ca.cnf", "-revoke", f"{name}.pem", "-keyfile", "ca.key", "-cert", "trust/ca.pem")

    def crl(self, out: str = "crl.pem") -> str:
        self.openssl("ca", "-config", "ca.cnf", "-gencrl", "-keyfile", "ca.key", "-cert", "trust/ca.pem", "-out", out)
        return out

    def verify(self, name: str, *, signature: str | None = None, crls: tuple[str, ...] = ("crl.pem",),
               extra: tuple[str, ...] = ()) -> tuple[int, dict | None, str]:
        args = ["verify", "--cert", str(self.dir / f"{name}.pem"), "--signature",
                str(self.dir / (signature or f"{name}.sig")), "--content", str(self.dir / "content"),
                "--trust", str(self.dir / "trust")]
        for crl in crls:
            args += ["--crl", str(self.dir / crl)]
        return run(*args, *extra)


@pytest.fixture(scope="module")
def openssl(tmp_path_factory) -> OpenSsl:
    made = OpenSsl(tmp_path_factory.mktemp("openssl"))
    made.card("card")
    made.card("revoked")
    made.revoke("revoked")
    made.crl()
    return made


def test_openssl_card_verifies_with_basic_four(openssl):
    code, out, _ = openssl.verify("card")
    assert code == 0, out
    assert out["valid"] is True and out["reason"] is None and out["flags"] == []
    assert out["basic_four"] == {"name": "辻 一郎", "date_of_birth": "1970-01-01", "sex": "1",
                                 "address": "東京都窓口市本町一丁目2番3号"}
    cert = x509.load_pem_x509_certificate((openssl.dir / "card.pem").read_bytes())
    assert out["serial"] == format(cert.serial_number, "x")
    assert out["issuer"] == "CN=OpenSSL Test JPKI Signing CA,C=JP"
    assert out["not_after"] == cert.not_valid_after_utc.isoformat()


def test_openssl_cms_signature_verifies(openssl):
    code, out, _ = openssl.verify("card", signature=openssl.cms("card"), extra=("--cms",))
    assert (code, out["valid"]) == (0, True)


def test_openssl_revoked_card_is_refused(openssl):
    code, out, _ = openssl.verify("revoked")
    assert (code, out["valid"], out["reason"]) == (1, False, Reason.REVOKED)


def test_openssl_card_without_crl_is_refused(openssl):
    assert openssl.verify("card", crls=())[1]["reason"] == Reason.REVOCATION_MISSING


@pytest.mark.parametrize(("make", "reason"), [
    (lambda o: o.card("weak", bits=1024), Reason.WEAK_KEY),
    (lambda o: o.card("sha1", md="sha1"), Reason.WEAK_HASH),
    (lambda o: o.card("encipher", extensions="encipher_ext"), Reason.KEY_USAGE),
])
def test_openssl_bad_cards_are_refused(openssl, make, reason):
    try:
        name = make(openssl)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"this openssl refuses to make it: {exc.stderr.decode()[:200]}")
    code, out, _ = openssl.verify(name)
    assert (code, out["reason"]) == (1, reason)


def test_openssl_cms_with_sha1_is_refused(openssl):
    try:
        signature = openssl.cms("card", md="sha1")
    except subprocess.CalledProcessError:
        pytest.skip("this openssl refuses SHA-1 CMS signatures")
    assert openssl.verify("card", signature=signature, extra=("--cms",))[1]["reason"] == Reason.WEAK_HASH


def test_openssl_signature_over_other_content_is_refused(openssl):
    (openssl.dir / "other").write_bytes(CONTENT + b" ")
    code, out, _ = run("verify", "--cert", str(openssl.dir / "card.pem"), "--signature", str(openssl.dir / "card.sig"),
                       "--content", str(openssl.dir / "other"), "--trust", str(openssl.dir / "trust"),
                       "--crl", str(openssl.dir / "crl.pem"))
    assert (code, out["reason"]) == (1, Reason.BAD_SIGNATURE)


def test_real_command_line_exit_codes(openssl):
    """manage.py itself, in a child process: 0 valid, 1 invalid, 2 usage error."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "madoguchi.settings", "DEBUG": "1"}

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(ROOT / "manage.py"), "jpki", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True)

    base = ["verify", "--cert", str(openssl.dir / "card.pem"), "--signature", str(openssl.dir / "card.sig"),
            "--content", str(openssl.dir / "content"), "--trust", str(openssl.dir / "trust")]
    valid = manage(*base, "--crl", str(openssl.dir / "crl.pem"))
    assert valid.returncode == 0 and json.loads(valid.stdout)["valid"] is True
    invalid = manage(*base)  # no revocation data
    assert invalid.returncode == 1 and json.loads(invalid.stdout)["reason"] == Reason.REVOCATION_MISSING
    assert manage("verify", "--cert", str(openssl.dir / "card.pem")).returncode == 2  # arguments missing
    assert manage(*base, "--at", "yesterday").returncode == 2
    assert manage(*base, "--crl", str(openssl.dir / "no-such-file")).returncode == 2


# --- certificates made with the cryptography library, through the command ---------------------------

class Files:
    def __init__(self, pki: Pki, folder: pathlib.Path):
        self.pki, self.dir = pki, folder
        (folder / "trust").mkdir()
        (folder / "trust" / "roots.pem").write_bytes(pki.ca.public_bytes(serialization.Encoding.PEM))
        (folder / "content").write_bytes(CONTENT)
        self.write("crl.der", make_crl(pki.ca, pki.ca_key))

    def write(self, name: str, data: bytes) -> str:
        (self.dir / name).write_bytes(data)
        return str(self.dir / name)

    def verify(self, cert: x509.Certificate | bytes, signature: bytes | None = None, *,
               crls: tuple[bytes, ...] | None = None, at: str | None = None, content: bytes = CONTENT):
        der = cert.public_bytes(DER) if isinstance(cert, x509.Certificate) else cert
        if signature is None:
            signature = sign_content(self.pki.card_key)
        args = ["verify", "--cert", self.write("cert.der", der), "--signature", self.write("sig.bin", signature),
                "--content", self.write("content.bin", content), "--trust", str(self.dir / "trust")]
        for n, crl in enumerate((make_crl(self.pki.ca, self.pki.ca_key),) if crls is None else crls):
            args += ["--crl", self.write(f"crl-{n}.der", crl)]
        if at:
            args += ["--at", at]
        return run(*args)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Files:
    return Files(Pki(), tmp_path_factory.mktemp("files"))


def hand_made(pki: Pki, *, public_key=None, key_usage=..., san=..., issuer_key=None) -> x509.Certificate:
    kwargs = {}
    if key_usage is not ...:
        kwargs["key_usage"] = key_usage
    builder = leaf_builder(pki.ca.subject, public_key or pki.card_key.public_key(),
                           san=other_names() if san is ... else san, **kwargs)
    return builder.sign(issuer_key or pki.ca_key, hashes.SHA256())


def test_cryptography_card_verifies_through_the_command(files):
    code, out, _ = files.verify(files.pki.leaf())
    assert (code, out["valid"], out["basic_four"]["date_of_birth"]) == (0, True, "1970-01-01")


def bad_inputs(pki: Pki):
    """(id, certificate, signature or None, extra verify kwargs, reason) for each bad input of the issue."""
    weak = new_key(1024)
    duplicate = other_names() + [x509.OtherName(x509.ObjectIdentifier("1.2.392.200149.8.5.5.3"), b"\x0c\x012")]
    der = pki.leaf().public_bytes(DER)
    revoked = pki.leaf()
    self_name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "self")])
    self_signed = leaf_builder(self_name, pki.card_key.public_key(), san=other_names(), subject=self_name).sign(
        pki.card_key, hashes.SHA256())
    return [
        ("expired", pki.leaf(not_before=NOW - 10 * DAY, not_after=NOW - DAY), None, {}, Reason.EXPIRED),
        ("not-yet-valid", pki.leaf(not_before=NOW + DAY, not_after=NOW + 10 * DAY), None, {}, Reason.NOT_YET_VALID),
        ("revoked", revoked, None, {"crls": (make_crl(pki.ca, pki.ca_key, (revoked.serial_number,)),)},
         Reason.REVOKED),
        ("unknown-issuer", pki.leaf(ca=pki.rogue_ca, ca_key=pki.rogue_ca_key), None, {}, Reason.UNTRUSTED_ISSUER),
        ("self-signed", self_signed, None, {}, Reason.SELF_SIGNED),
        ("ca-leaf", pki.ca, sign_content(pki.ca_key), {}, Reason.CA_CERTIFICATE),
        ("wrong-key-usage", hand_made(pki, key_usage=x509.KeyUsage(False, False, True, False, False, False, False,
                                                                  False, False)), None, {}, Reason.KEY_USAGE),
        ("rsa-1024", pki.leaf(weak.public_key()), sign_content(weak), {}, Reason.WEAK_KEY),
        ("other-content", pki.leaf(), sign_content(pki.card_key, b"other"), {}, Reason.BAD_SIGNATURE),
        ("other-card", pki.leaf(), sign_content(pki.other_card_key), {}, Reason.BAD_SIGNATURE),
        ("truncated-der", der[:-10], None, {}, Reason.MALFORMED),
        ("garbage-der", b"\x30\x82\x05\x00" + os.urandom(200), None, {}, Reason.MALFORMED),
        ("crl-by-another-key", pki.leaf(), None, {"crls": (make_crl(pki.forged_ca, pki.forged_ca_key),)},
         Reason.CRL_INVALID),
        ("stale-crl", pki.leaf(), None,
         {"crls": (make_crl(pki.ca, pki.ca_key, this_update=NOW - 9 * DAY, next_update=NOW - 2 * DAY),)},
         Reason.CRL_STALE),
        ("duplicate-san", hand_made(pki, san=duplicate), None, {}, Reason.BASIC_FOUR),
        ("missing-san", hand_made(pki, san=other_names(address=None)), None, {}, Reason.BASIC_FOUR),
        ("no-san", hand_made(pki, san=None), None, {}, Reason.BASIC_FOUR),
        ("malformed-dob", hand_made(pki, san=other_names(date_of_birth="41970-01-0")), None, {}, Reason.BASIC_FOUR),
        ("wrong-era-dob", hand_made(pki, san=other_names(date_of_birth="519700101")), None, {}, Reason.BASIC_FOUR),
    ]


def test_every_bad_input_of_the_issue_is_refused_by_the_command(files):
    seen = []
    for name, cert, signature, kwargs, reason in bad_inputs(files.pki):
        code, out, err = files.verify(cert, signature, **kwargs)
        assert (name, code, out and out["valid"], out and out["reason"]) == (name, 1, False, reason), err
        seen.append(name)
    assert len(seen) == 19


def test_at_moves_the_verification_in_time(files):
    leaf = files.pki.leaf(not_before=NOW - 10 * DAY, not_after=NOW - DAY)
    crl = make_crl(files.pki.ca, files.pki.ca_key, this_update=NOW - 6 * DAY, next_update=NOW - 3 * DAY)
    assert files.verify(leaf, crls=(crl,))[1]["reason"] == Reason.EXPIRED
    as_then = (NOW - 5 * DAY).isoformat()
    code, out, _ = files.verify(leaf, crls=(crl,), at=as_then)
    assert (code, out["valid"]) == (0, True)
    # Without an offset, --at is Japan time.
    assert files.verify(leaf, crls=(crl,), at=(NOW - 5 * DAY).astimezone(datetime.timezone(datetime.timedelta(
        hours=9))).replace(tzinfo=None).isoformat())[0] == 0


@pytest.mark.parametrize("case", ["bad-at", "missing-file", "empty-trust", "garbage-trust", "garbage-crl", "args"])
def test_usage_errors_exit_2(files, tmp_path, case):
    base = ["verify", "--cert", files.write("cert.der", files.pki.leaf().public_bytes(DER)),
            "--signature", files.write("sig.bin", sign_content(files.pki.card_key)),
            "--content", str(files.dir / "content")]
    (tmp_path / "garbage").write_bytes(b"garbage")
    args = {
        "bad-at": [*base, "--trust", str(files.dir / "trust"), "--at", "2026-13-40"],
        "missing-file": ["verify", "--cert", str(tmp_path / "nope"), "--signature", "x", "--content", "y"],
        "empty-trust": [*base, "--trust", str(tmp_path / "empty")],
        "garbage-trust": [*base, "--trust", str(tmp_path)],
        "garbage-crl": [*base, "--trust", str(files.dir / "trust"), "--crl", str(tmp_path / "garbage")],
        "args": ["verify", "--cert", "x"],
    }[case]
    if case == "empty-trust":
        (tmp_path / "empty").mkdir()
    code, out, err = run(*args)
    assert out is None
    assert code == (1 if case == "args" else 2)  # in-process, argparse's own errors are CommandError(1)


# --- trust material in the database ----------------------------------------------------------------

@pytest.fixture
def db_pki(db, files) -> Pki:
    pki = files.pki
    TrustAnchor.objects.all().delete()
    (files.dir / "root.der").write_bytes(pki.ca.public_bytes(DER))
    assert run("load-trust", str(files.dir / "root.der"))[0] == 0
    return pki


def test_load_trust_is_idempotent_and_refuses_non_ca(db_pki, files):
    code, _, _ = run("load-trust", str(files.dir / "root.der"))
    assert code == 0 and TrustAnchor.objects.count() == 1
    leaf = files.write("leaf.der", db_pki.leaf().public_bytes(DER))
    assert run("load-trust", leaf)[0] == 1
    assert run("load-trust", files.write("junk", b"junk"))[0] == 1
    assert TrustAnchor.objects.count() == 1


def test_load_crl_checks_the_signature_and_indexes_serials(db_pki, files):
    revoked = db_pki.leaf()
    path = files.write("load.crl", make_crl(db_pki.ca, db_pki.ca_key, (revoked.serial_number, 7, 8)))
    assert run("load-crl", path)[0] == 0
    assert run("load-crl", path)[0] == 0  # the same CRL twice is kept once
    stored = RevocationList.objects.get()
    assert stored.revoked_count == 3 and stored.serials.count() == 3
    forged = files.write("forged.crl", make_crl(db_pki.forged_ca, db_pki.forged_ca_key))
    assert run("load-crl", forged)[0] == 1
    assert run("load-crl", files.write("junk.crl", b"\x30\x00"))[0] == 1
    assert RevocationList.objects.count() == 1
    # Without --trust and --crl the command uses the database.
    args = ["verify", "--cert", files.write("r.der", revoked.public_bytes(DER)),
            "--signature", files.write("r.sig", sign_content(db_pki.card_key)), "--content", str(files.dir / "content")]
    assert run(*args)[1]["reason"] == Reason.REVOKED
    good = ["verify", "--cert", files.write("g.der", db_pki.leaf().public_bytes(DER)), *args[3:]]
    assert run(*good)[0] == 0


def test_an_older_crl_does_not_replace_a_newer_one(db_pki, files):
    new = files.write("new.crl", make_crl(db_pki.ca, db_pki.ca_key, this_update=NOW - DAY, number=2))
    old = files.write("old.crl", make_crl(db_pki.ca, db_pki.ca_key, (1, 2), this_update=NOW - 2 * DAY, number=1))
    assert run("load-crl", new)[0] == 0
    assert run("load-crl", old)[0] == 1
    assert RevocationList.objects.get().number == 2


def test_stored_crl_lookup_does_not_depend_on_its_size(db_pki, files):
    """The lookup is one indexed query whatever the CRL's size, never a scan of the CRL."""
    leaf = db_pki.leaf()
    counts = []
    for size, number in ((3, 1), (3000, 2)):
        trust.store_crl(make_crl(db_pki.ca, db_pki.ca_key, tuple(range(10, 10 + size)),
                                 this_update=NOW - DAY + number * datetime.timedelta(minutes=1), number=number))
        with CaptureQueriesContext(connection) as queries:
            source = trust.revocation_sources(trust.active_anchors())[0]
            status = source.status(leaf, db_pki.ca, NOW)
        assert status.reason is None
        counts.append([q["sql"] for q in queries.captured_queries if "revokedserial" in q["sql"].lower()])
    assert len(counts[0]) == len(counts[1]) == 1
    assert "serial" in counts[1][0].lower()
    # Only the newest version's serials are kept for lookup.
    assert RevokedSerial.objects.count() == 3000


def test_stale_revocation_data_raises_the_alarm_on_the_queue(db_pki, files, municipality):
    client = signed_in(make_staff(municipality, "clerk"))
    page = client.get(reverse("backoffice:queue")).content.decode()
    assert 'id="revocation-alarm"' in page and "失効情報" in page  # no CRL at all
    trust.store_crl(make_crl(db_pki.ca, db_pki.ca_key, next_update=NOW + 30 * DAY))
    page = client.get(reverse("backoffice:queue")).content.decode()
    assert 'id="revocation-alarm"' not in page
    later = NOW + 30 * DAY - datetime.timedelta(hours=1)
    assert [a.name for a in trust.stale_anchors(later)] == [TrustAnchor.objects.get().name]


def test_refresh_fetches_published_crls(db_pki, files):
    """The refresh task fetches each anchor's CRL from its URL (here a local HTTP server)."""
    import http.server
    import threading

    crl = make_crl(db_pki.ca, db_pki.ca_key, (5,))

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = crl if self.path == "/jpki.crl" else b"garbage"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        TrustAnchor.objects.update(crl_url=f"http://127.0.0.1:{server.server_address[1]}/jpki.crl")
        call_command("housekeeping", stdout=io.StringIO())  # the periodic sweep enqueues the refresh task
        assert RevocationList.objects.get().revoked_count == 1
        assert run("refresh")[0] == 0  # by hand: unchanged
        assert RevocationList.objects.count() == 1
        TrustAnchor.objects.update(crl_url=f"http://127.0.0.1:{server.server_address[1]}/garbage")
        lines = trust.refresh_revocation_data()
        assert "failed" in lines[0] and RevocationList.objects.count() == 1
    finally:
        server.shutdown()
        server.server_close()


# --- evidence per request, re-verified later ---------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_evidence_is_re_verifiable_with_the_command(municipality, resident, tmp_path):
    request = received(municipality, resident)
    evidence = SignatureEvidence.objects.get(request=request)
    assert evidence.result["valid"] is True
    assert evidence.result["revocation"][0]["kind"] == "crl"
    assert RevocationList.objects.filter(sha256=evidence.result["revocation"][0]["sha256"]).exists()
    code, out, _ = run("verify-request", "--reception-number", request.formatted_reception_number,
                       "--export", str(tmp_path))
    assert (code, out["valid"], out["same_as_recorded"]) == (0, True, True)
    # The exported files verify with the plain command, as at the time of signing.
    crl = next(tmp_path.glob("crl-*.der"))
    code, again, _ = run("verify", "--cert", str(tmp_path / "certificate.der"), "--signature",
                         str(tmp_path / "signature.bin"), "--content", str(tmp_path / "content.bin"),
                         "--trust", str(tmp_path / "trust"), "--crl", str(crl),
                         "--at", evidence.verified_at.isoformat())
    assert (code, again["serial"], again["basic_four"]) == (0, out["serial"], out["basic_four"])
    assert json.loads((tmp_path / "result.json").read_text())["serial"] == evidence.serial
    # Evidence tampered with afterwards no longer verifies.
    SignatureEvidence.objects.filter(pk=evidence.pk).update(signed_bytes=bytes(evidence.signed_bytes) + b" ")
    code, out, _ = run("verify-request", "--request", str(request.public_id))
    assert (code, out["reason"], out["same_as_recorded"]) == (1, Reason.BAD_SIGNATURE, False)


@pytest.mark.parametrize("args", [["--reception-number", "0000-0000-0000"], ["--request", "not-a-uuid"],
                                  ["--request", "00000000-0000-0000-0000-000000000000"]])
def test_verify_request_for_unknown_request_is_a_usage_error(db, args):
    assert run("verify-request", *args)[0] == 2


@pytest.mark.django_db(transaction=True)
def test_revoked_card_cannot_sign_a_request(municipality, resident):
    from madoguchi.identity.contrib.sandbox import card as cards

    card = cards.issue_card(resident)
    serial = x509.load_der_x509_certificate(bytes(card.certificate_der)).serial_number
    ca_cert, ca_key = cards.ensure_authority()
    # Newer than the CRL the sandbox CA published just now (NOW is the module's import time).
    now = datetime.datetime.now(datetime.UTC)
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
           .last_update(now).next_update(now + DAY).add_extension(x509.CRLNumber(2**40), critical=False)
           .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(serial)
                                    .revocation_date(NOW).build())
           .sign(ca_key, hashes.SHA256()))
    trust.store_crl(crl.public_bytes(DER))
    from madoguchi.applications import actions

    request = draft(municipality)
    with pytest.raises(actions.SignatureRejected, match="失効") as refused:
        sign(request, resident)
    assert refused.value.reason == Reason.REVOKED
    assert not SignatureEvidence.objects.filter(request=request).exists()



def test_oversized_inputs_are_refused(db_pki, files, monkeypatch):
    from madoguchi.identity.management.commands import jpki as command

    monkeypatch.setattr(command, "MAX_INPUT_BYTES", 100)
    leaf = files.write("big.der", db_pki.leaf().public_bytes(DER))
    assert run("verify", "--cert", leaf, "--signature", leaf, "--content", leaf)[0] == 2
    monkeypatch.setattr(trust, "MAX_CRL_BYTES", 100)
    with pytest.raises(trust.TrustError, match="too large"):
        trust.store_crl(make_crl(db_pki.ca, db_pki.ca_key))


@pytest.mark.django_db(transaction=True)
def test_sandbox_authority_publishes_a_fresh_crl(resident):
    from madoguchi.identity.contrib.sandbox import card as cards

    card = cards.issue_card(resident)
    first = RevocationList.objects.get()
    assert not trust.stale_anchors()
    # Near its nextUpdate, the next use of a sandbox card re-issues it.
    RevocationList.objects.update(next_update=NOW + datetime.timedelta(hours=1))
    assert trust.stale_anchors()
    cards.sign(card, cards.DEMO_PIN, b"content")
    assert RevocationList.objects.count() == 2 and not trust.stale_anchors()
    assert RevocationList.objects.order_by("-this_update", "-pk").first().pk != first.pk
