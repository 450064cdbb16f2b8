"""Signed print batches, the public verification page and command, reprints and the mailing list."""

import csv
import io
import re
import subprocess

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import read_certification_data, validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext

from madoguchi.applications import actions
from madoguchi.applications.models import RequestEvent, State
from madoguchi.core.dates import to_wareki
from madoguchi.documents.checks import verification_qr_fits
from madoguchi.documents.drawing import qr_symbol, qr_url
from madoguchi.documents.mailing import COLUMNS
from madoguchi.documents.models import IssuedDocument, PrintBatch
from madoguchi.documents.pki import document_ca
from madoguchi.documents.signing import active_key, rotate_signing_key, sign_pdf, verify_pdf
from madoguchi.notifications.models import Notice
from madoguchi.operations.models import AccessLog
from madoguchi.operations.onboarding import create_municipality
from madoguchi.tenancy.models import DocumentSigningKey

from .flow import received
from .test_backoffice import make_staff, signed_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def clerk(municipality):
    return make_staff(municipality, "clerk")


@pytest.fixture
def printed(municipality, resident, clerk):
    """A request approved and printed: its document and the signed batch."""
    request = received(municipality, resident)
    actions.approve(request, clerk)
    batch = actions.record_printed([request], clerk)
    return request, IssuedDocument.objects.get(request=request), batch


def tamper(pdf: bytes) -> bytes:
    """Change one byte inside the signed range: a digit of the issue number in the content."""
    data = bytearray(pdf)
    position = data.index(b"/Producer")  # the document info is covered by the signature
    data[position + 1] = ord("p")
    return bytes(data)


# --- signatures ---------------------------------------------------------------------------------------


def sandbox_root() -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(document_ca().certificate_der)


def test_print_batch_is_certified_b_lt_and_pyhanko_finds_it_ltv_enabled_with_a_valid_timestamp(printed, municipality):
    _request, _document, batch = printed
    pdf = bytes(batch.pdf)
    reader = PdfFileReader(io.BytesIO(pdf))
    signature = reader.embedded_signatures[0]
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES
    assert municipality.full_name in signature.signer_cert.subject.human_friendly
    # Certification signature, no changes allowed (DocMDP P=1): viewers flag any later change.
    assert read_certification_data(reader).permission == MDPPerm.NO_CHANGES
    # LTV: with nothing but the sandbox root and what the PDF's DSS holds, nothing fetched and every
    # revocation check required, the signature and its timestamp validate.
    store = DocumentSecurityStore.read_dss(reader)
    assert list(store.crls) and len(list(store.load_certs())) >= 3  # signer, TSA, CA
    context = store.as_validation_context({"trust_roots": [sandbox_root()], "allow_fetching": False,
                                           "revocation_mode": "require"})
    status = validate_pdf_signature(signature, context, ts_validation_context=context)
    assert status.intact and status.valid and status.trusted
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.intact and status.timestamp_validity.valid and status.timestamp_validity.trusted
    check = verify_pdf(pdf)
    assert check.valid and check.municipality == municipality and check.level == "B-LT"
    assert check.timestamp == status.timestamp_validity.timestamp


def test_without_the_dss_pyhanko_cannot_check_revocation_offline(printed):
    """The control for the LTV test: the same hard-fail, offline validation of a B-T signature
    (timestamp, but no validation data) fails, so the DSS is what makes it long-term."""
    _request, document, _batch = printed
    pdf = signed_without_validation_data(bytes(document.pdf), document.municipality)
    signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    context = ValidationContext(trust_roots=[sandbox_root()], allow_fetching=False, revocation_mode="require",
                                crls=[], ocsps=[])
    status = validate_pdf_signature(signature, context, ts_validation_context=context)
    assert not status.trusted
    check = verify_pdf(pdf)
    assert check.valid and check.level == "B-T"


def signed_without_validation_data(pdf: bytes, municipality) -> bytes:
    from django.conf import settings
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers, timestamps

    from madoguchi.documents import signing

    key = signing.ensure_signing_key(municipality)
    signer = signing._signer(key.pk, bytes(key.certificate_der), bytes(key.encrypted_key_pem),
                             document_ca().certificate_der)
    metadata = signers.PdfSignatureMetadata(field_name="S", subfilter=fields.SigSeedSubFilter.PADES)
    out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), metadata, signer=signer,
                           timestamper=timestamps.HTTPTimeStamper(settings.DOCUMENT_TSA_URL))
    return out.getvalue()


def test_pdfsig_with_an_nss_database_holding_the_sandbox_root_finds_it_valid_and_trusted(printed, tmp_path):
    _request, _document, batch = printed
    pdf, root, nss = tmp_path / "batch.pdf", tmp_path / "root.pem", tmp_path / "nssdb"
    pdf.write_bytes(bytes(batch.pdf))
    root.write_bytes(document_ca().certificate.public_bytes(serialization.Encoding.PEM))
    nss.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"], check=True, capture_output=True)

    def pdfsig() -> str:
        # Not -no-ocsp: poppler 22.12 then reports a generic certificate error even for a trusted
        # self-signed certificate. Our certificates name no OCSP responder, so nothing is fetched.
        return subprocess.run(["pdfsig", "-nssdir", f"sql:{nss}", str(pdf)], check=True, capture_output=True,
                              text=True, timeout=60).stdout

    untrusted = pdfsig()
    assert "Signature is Valid." in untrusted and "Certificate is Trusted." not in untrusted
    subprocess.run(["certutil", "-A", "-d", f"sql:{nss}", "-n", "Madoguchi sandbox root", "-t", "CT,C,C",
                    "-i", str(root)], check=True, capture_output=True)
    trusted = pdfsig()
    assert "Signature is Valid." in trusted and "Certificate is Trusted." in trusted


def test_an_altered_pdf_fails_verification(printed):
    _request, _document, batch = printed
    check = verify_pdf(tamper(bytes(batch.pdf)))
    assert not check.valid and "変更" in check.problem


def test_content_appended_after_signing_fails(printed):
    from pyhanko.pdf_utils.generic import NameObject, TextStringObject
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    _request, _document, batch = printed
    writer = IncrementalPdfFileWriter(io.BytesIO(bytes(batch.pdf)))
    info = writer.trailer["/Info"]
    info[NameObject("/Title")] = TextStringObject("forged")
    writer.update_container(info)
    output = io.BytesIO()
    writer.write(output)
    check = verify_pdf(output.getvalue())
    assert not check.valid and "追加" in check.problem


@pytest.mark.parametrize("pdf", [b"", b"not a pdf at all", b"%PDF-1.7\n" + b"\x00" * 200])
def test_garbage_and_unsigned_files_are_refused(pdf):
    assert not verify_pdf(pdf).valid


def test_an_unsigned_certificate_is_refused(printed):
    _request, document, _batch = printed
    check = verify_pdf(bytes(document.pdf))
    assert not check.valid and "電子署名がありません" in check.problem


def test_a_signature_by_another_key_is_refused(printed, municipality):
    _request, document, _batch = printed
    signed = sign_pdf(bytes(document.pdf), municipality)
    assert verify_pdf(signed).valid
    # A key nobody here holds: delete its record after signing, as if an outsider made it.
    rotate_signing_key(municipality)
    stranger = sign_pdf(bytes(document.pdf), municipality)
    DocumentSigningKey.objects.filter(pk=active_key(municipality).pk).delete()
    check = verify_pdf(stranger)
    assert not check.valid and "署名鍵" in check.problem


def test_documents_signed_before_a_key_rotation_still_verify(printed, municipality):
    _request, _document, batch = printed
    old = active_key(municipality)
    new = rotate_signing_key(municipality)
    assert new.pk != old.pk and active_key(municipality) == new
    old.refresh_from_db()
    assert old.retired_at is not None
    assert verify_pdf(bytes(batch.pdf)).valid


def test_onboarding_creates_the_signing_key_and_the_key_is_encrypted_at_rest(db):
    municipality = create_municipality(code="082082", name="龍ケ崎市", prefecture="茨城県",
                                       certifier_name="龍ケ崎 太郎", contact="市民課")
    key = active_key(municipality)
    assert key is not None
    assert b"ENCRYPTED PRIVATE KEY" in bytes(key.encrypted_key_pem)


def test_the_verify_command_accepts_a_signed_pdf_and_rejects_an_altered_one(printed, tmp_path):
    _request, _document, batch = printed
    good, bad = tmp_path / "batch.pdf", tmp_path / "altered.pdf"
    good.write_bytes(bytes(batch.pdf))
    bad.write_bytes(tamper(bytes(batch.pdf)))
    out = io.StringIO()
    call_command("documents", "verify", str(good), stdout=out)
    assert "有効な電子署名です" in out.getvalue() and "東京都窓口市" in out.getvalue()
    with pytest.raises(CommandError, match="署名を確認できません"):
        call_command("documents", "verify", str(bad))
    with pytest.raises(CommandError):
        call_command("documents", "verify", str(tmp_path / "missing.pdf"))


def test_the_signing_key_command_rotates(municipality):
    call_command("documents", "signing-key", municipality.code, stdout=io.StringIO())
    first = active_key(municipality)
    call_command("documents", "signing-key", municipality.code, "--rotate", stdout=io.StringIO())
    assert active_key(municipality).pk != first.pk
    assert DocumentSigningKey.objects.filter(municipality=municipality).count() == 2
    with pytest.raises(CommandError):
        call_command("documents", "signing-key", "999999")


def test_the_clerk_downloads_a_signed_single_certificate(printed, clerk):
    request, _document, _batch = printed
    response = signed_in(clerk).get(reverse("backoffice:document_pdf", args=[request.public_id]))
    assert verify_pdf(response.content).valid


# --- the public verification page ----------------------------------------------------------------------


def verify_url(document) -> str:
    return reverse("documents:verify", args=[document.issue_number])


def test_the_right_code_shows_when_by_whom_and_what_and_nothing_personal(printed, resident):
    _request, document, _batch = printed
    response = Client().post(verify_url(document), {"verification_code": document.verification_code})
    page = response.content.decode()
    assert response.status_code == 200
    assert "東京都窓口市" in page and "住民票の写し" in page and "発行元の電子署名を確認しました" in page
    # The issue date as the paper prints it: 和暦, never 西暦.
    assert to_wareki(timezone.localtime(document.created_at).date()) in page
    # (The birth year as a date, not bare digits: the random issue number may contain them.)
    for personal in (resident.name, resident.address, resident.name_kana, f"{resident.date_of_birth.year}年",
                     to_wareki(resident.date_of_birth)):
        assert personal not in page


def test_the_page_shows_what_the_holder_compares_with_the_paper(printed, resident):
    """Kind, issue date in 和暦 as printed, the name's first character, the number of pages and the
    内容確認値 printed at the foot of every page of the paper."""
    _request, document, _batch = printed
    page = Client().post(verify_url(document), {"verification_code": document.verification_code}).content.decode()
    paper = pdf_text(bytes(document.pdf))
    issued_on = to_wareki(timezone.localtime(document.created_at).date())
    printed_digest = re.search(r"内容確認値\s*([0-9A-F]{4}-[0-9A-F]{4})", paper).group(1)
    assert issued_on in page and issued_on in paper
    assert f"<dd>{resident.name[0]}</dd>" in page
    assert f"<dd>{document.pages}枚</dd>" in page
    assert printed_digest in page and document.content_digest.upper().startswith(printed_digest.replace("-", ""))


def test_a_different_content_gets_a_different_digest(municipality, resident, clerk):
    """Paper whose content was changed no longer matches the 内容確認値 the page shows."""
    from madoguchi.documents.drawing import printed_digest
    from madoguchi.documents.services import render_certificate

    request = received(municipality, resident)
    today = timezone.localdate()
    before = render_certificate(request, "1" * 16, "A" * 12, today)
    assert render_certificate(request, "2" * 16, "B" * 12, today).content_digest == before.content_digest
    type(resident).objects.filter(pk=resident.pk).update(name=resident.name + "美")
    request.resident.refresh_from_db()
    after = render_certificate(request, "1" * 16, "A" * 12, today)
    assert printed_digest(after.content_digest) != printed_digest(before.content_digest)
    assert printed_digest(after.content_digest) in pdf_text(after.pdf)


def pdf_text(pdf: bytes) -> str:
    from pypdf import PdfReader

    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


# --- the QR code ------------------------------------------------------------------------------------------


def decode_qr_at(pdf: bytes, tmp_path, dpi: int) -> list[str]:
    """The QR codes zbar finds on the first page rendered at `dpi` (grey, as a cheap scan)."""
    source = tmp_path / "document.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", "-singlefile", "-f", "1", "-l", "1", str(source),
                    str(tmp_path / "scan")], check=True, capture_output=True)
    found = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(tmp_path / "scan.png")],
                           capture_output=True, text=True)
    return found.stdout.split()


def test_the_qr_code_decodes_from_a_100_dpi_scan_and_leads_to_the_page(printed, tmp_path):
    _request, document, _batch = printed
    pdf = bytes(document.pdf)
    assert decode_qr_at(pdf, tmp_path, 100) == [qr_url(document.issue_number)]
    # Each module is at least 0.8 mm: the symbol's form is drawn at QR_MODULE per module.
    symbol = qr_symbol(qr_url(document.issue_number))
    form = re.search(rb"/BBox \[\s*0 0 ([0-9.]+) ([0-9.]+)\s*\]", pdf)
    side_mm = float(form.group(1)) / 72 * 25.4
    assert symbol.version <= 3 and side_mm / len(symbol.matrix) >= 0.8 - 1e-6
    # What a phone does with it: scheme and host in capitals are the same site, /V/ leads to the page.
    path = qr_url(document.issue_number).split("/", 3)[3]
    response = Client().get("/" + path)
    assert response.status_code == 302 and response.url == verify_url(document)


def test_the_qr_decoder_fails_on_a_scan_too_coarse_for_it(printed, tmp_path):
    """The control for the 100 dpi test: at 20 dpi a module is under one pixel and nothing decodes."""
    _request, document, _batch = printed
    assert decode_qr_at(bytes(document.pdf), tmp_path, 20) == []


@pytest.mark.parametrize("number", ["123", "1" * 17, "１" * 16, "abcdefghijklmnop"])
def test_the_qr_short_address_refuses_malformed_numbers(db, number):
    assert Client().get(f"/V/{number}").status_code == 404


def test_a_site_url_too_long_for_the_qr_footer_stops_the_checks(settings):
    settings.SITE_URL = "https://madoguchi.example.lg.jp/certificates/verification-service"
    errors = verification_qr_fits()
    assert errors and errors[0].id == "madoguchi.documents.E001" and "MADOGUCHI_SITE_URL" in errors[0].msg
    settings.SITE_URL = "https://madoguchi.city.example.lg.jp"
    assert verification_qr_fits() == []


def test_the_qr_code_points_to_the_page_and_a_typed_code_is_forgiven(printed):
    _request, document, _batch = printed
    code = document.verification_code
    typed = "ー".join([code[:4], code[4:8], code[8:]]).lower().translate(
        str.maketrans("abcdefghjkmnpqrstuvwxyz", "ａｂｃｄｅｆｇｈｊｋｍｎｐｑｒｓｔｕｖｗｘｙｚ"))
    response = Client().post(verify_url(document), {"verification_code": typed})
    assert "発行されています" in response.content.decode()


@pytest.mark.parametrize("code", ["", "AAAAAAAAAAAA", "x" * 41, "<script>alert(1)</script>"])
def test_a_wrong_code_reveals_nothing(printed, code):
    _request, document, _batch = printed
    response = Client().post(verify_url(document), {"verification_code": code})
    page = response.content.decode()
    assert "住民票の写し" not in page and "発行されています" not in page and "<script>alert" not in page


def test_an_unknown_number_and_a_wrong_code_get_the_same_answer(printed):
    _request, document, _batch = printed
    wrong_code = Client().post(verify_url(document), {"verification_code": "AAAAAAAAAAAA"})
    unknown = Client().post(reverse("documents:verify", args=["1" * 16]),
                            {"verification_code": document.verification_code})
    message = "当てはまる証明書はありません"
    assert message in wrong_code.content.decode() and message in unknown.content.decode()


@pytest.mark.parametrize("number", ["123", "abcdefghijklmnop", "1" * 17, "１" * 16])
def test_malformed_issue_numbers_are_not_found(db, number):
    assert Client().get(f"/verify/{number}").status_code == 404


def test_attempts_are_rate_limited_per_client(printed):
    _request, document, _batch = printed
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(10):
        client.post(verify_url(document), {"verification_code": "AAAAAAAAAAAA"})
    response = client.post(verify_url(document), {"verification_code": document.verification_code})
    assert response.status_code == 429 and "発行されています" not in response.content.decode()
    assert "時間をおいて" in response.content.decode()


def test_a_stranger_guessing_cannot_lock_the_holder_out(printed):
    """Wrong codes for this certificate's number from other clients do not stop its holder."""
    _request, document, _batch = printed
    for i in range(30):
        Client(REMOTE_ADDR=f"198.51.100.{i % 3}").post(verify_url(document), {"verification_code": "AAAAAAAAAAAA"})
    holder = Client(REMOTE_ADDR="192.0.2.10").post(verify_url(document),
                                                   {"verification_code": document.verification_code})
    assert holder.status_code == 200 and "発行されています" in holder.content.decode()


def test_addresses_of_one_ipv6_network_are_counted_together(printed):
    _request, document, _batch = printed
    for i in range(10):
        Client(REMOTE_ADDR=f"2001:db8:1:2::{i + 1:x}").post(verify_url(document),
                                                           {"verification_code": "AAAAAAAAAAAA"})
    same_network = Client(REMOTE_ADDR="2001:db8:1:2:ffff::1").post(
        verify_url(document), {"verification_code": document.verification_code})
    other_network = Client(REMOTE_ADDR="2001:db8:1:3::1").post(
        verify_url(document), {"verification_code": document.verification_code})
    assert same_network.status_code == 429
    assert other_network.status_code == 200 and "発行されています" in other_network.content.decode()


def test_a_document_not_yet_printed_says_so(municipality, resident, clerk):
    request = received(municipality, resident)
    actions.approve(request, clerk)
    document = IssuedDocument.objects.get(request=request)
    page = Client().post(verify_url(document), {"verification_code": document.verification_code}).content.decode()
    assert "まだ印刷されていません" in page


# --- reprints -------------------------------------------------------------------------------------------


def test_a_reprint_needs_a_reason_and_is_recorded(printed, clerk):
    request, _document, batch = printed
    client = signed_in(clerk)
    url = reverse("backoffice:batch_reprint", args=[batch.pk])
    for reason in ("", "   "):
        response = client.post(url, {"reason": reason}, follow=True)
        assert "再印刷の理由を入力してください" in response.content.decode()
    assert PrintBatch.objects.count() == 1
    response = client.post(url, {"reason": "プリンタの紙詰まり"})
    reprint = PrintBatch.objects.exclude(pk=batch.pk).get()
    assert response.url == reverse("backoffice:batch_detail", args=[reprint.pk])
    assert (reprint.reprint_of, reprint.reason) == (batch, "プリンタの紙詰まり")
    assert verify_pdf(bytes(reprint.pdf)).valid
    event = RequestEvent.objects.filter(request=request).last()
    assert (event.from_state, event.to_state, event.actor) == (State.ISSUED, State.ISSUED, clerk)
    assert "プリンタの紙詰まり" in event.reason
    assert AccessLog.objects.filter(action="reprint_print_batch", staff=clerk).exists()
    request.refresh_from_db()
    assert request.state == State.ISSUED


def test_an_oversized_reason_is_refused(printed, clerk):
    _request, _document, batch = printed
    with pytest.raises(actions.ActionError):
        actions.reprint(batch, clerk, "あ" * 501)


def test_a_mailed_request_cannot_be_reprinted(printed, clerk):
    request, _document, batch = printed
    actions.mark_mailed(request, clerk, "1234")
    with pytest.raises(actions.ActionError, match="再印刷できません"):
        actions.reprint(batch, clerk, "紛失")
    assert PrintBatch.objects.count() == 1


def test_another_municipality_cannot_see_or_reprint_a_batch(printed, other_municipality):
    _request, _document, batch = printed
    outsider = signed_in(make_staff(other_municipality, "outsider"))
    for name in ("backoffice:batch_detail", "documents_office:batch_pdf", "documents_office:batch_mailing_csv"):
        assert outsider.get(reverse(name, args=[batch.pk])).status_code == 404
    for name in ("batch_reprint", "batch_mailed"):
        assert outsider.post(reverse(f"backoffice:{name}", args=[batch.pk]), {"reason": "x"}).status_code == 404
    assert PrintBatch.objects.count() == 1


# --- mailing -------------------------------------------------------------------------------------------


def test_tracking_numbers_per_request_mark_mailed_and_send_the_notice(printed, municipality, resident, clerk):
    request, _document, batch = printed
    client = signed_in(clerk)
    response = client.post(reverse("backoffice:batch_mailed", args=[batch.pk]),
                           {f"tracking_{request.public_id}": " 1234-5678-9012 "}, follow=True)
    assert "1件を発送済みにしました" in response.content.decode()
    request.refresh_from_db()
    assert (request.state, request.tracking_number) == (State.MAILED, "1234-5678-9012")
    assert Notice.objects.filter(request=request, dedupe_key=f"{request.pk}:mailed").count() == 1
    # Posting again (a double click) changes nothing and sends nothing twice.
    client.post(reverse("backoffice:batch_mailed", args=[batch.pk]), {f"tracking_{request.public_id}": "999"})
    request.refresh_from_db()
    assert request.tracking_number == "1234-5678-9012"
    assert Notice.objects.filter(request=request, dedupe_key=f"{request.pk}:mailed").count() == 1


def test_an_oversized_tracking_number_is_refused(printed, clerk):
    request, _document, batch = printed
    response = signed_in(clerk).post(reverse("backoffice:batch_mailed", args=[batch.pk]),
                                     {f"tracking_{request.public_id}": "9" * 31}, follow=True)
    assert "お問い合わせ番号が長すぎます" in response.content.decode()
    request.refresh_from_db()
    assert request.state == State.ISSUED


def test_the_mailing_list_csv(printed, clerk):
    request, document, batch = printed
    type(request).objects.filter(pk=request.pk).update(delivery_name="=HYPERLINK(\"http://evil\")")
    request.refresh_from_db()
    actions.mark_mailed(request, clerk, "1234-5678-9012")
    response = signed_in(clerk).get(reverse("documents_office:batch_mailing_csv", args=[batch.pk]))
    body = response.content
    assert response["Content-Type"].startswith("text/csv") and body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert tuple(rows[0]) == COLUMNS
    row = dict(zip(COLUMNS, rows[1], strict=True))
    assert (row["受付番号"], row["発行番号"], row["郵送方法"], row["通数"], row["お問い合わせ番号"]) == (
        request.formatted_reception_number, document.issue_number, "普通郵便", "1", "1234-5678-9012")
    assert row["お届け先氏名"] == row["お届け先氏名(記録どおり)"] == "'=HYPERLINK(\"http://evil\")"
    assert AccessLog.objects.filter(action="download_mailing_list", staff=clerk).exists()


def test_the_verify_command_refuses_an_oversized_file(db, tmp_path):
    huge = tmp_path / "huge.pdf"
    with huge.open("wb") as f:
        f.truncate(201 * 1024 * 1024)  # sparse: no disk used
    with pytest.raises(CommandError, match="larger than"):
        call_command("documents", "verify", str(huge))
