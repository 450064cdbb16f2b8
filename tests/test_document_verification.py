"""Signed print batches, the public verification page and command, reprints and the mailing list."""

import csv
import io

import pytest
from asn1crypto import x509 as asn1_x509
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from madoguchi.applications import actions
from madoguchi.applications.models import RequestEvent, State
from madoguchi.core.dates import to_wareki
from madoguchi.documents.mailing import COLUMNS
from madoguchi.documents.models import IssuedDocument, PrintBatch
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


def test_print_batch_is_signed_with_the_municipality_key_and_validates_with_pyhanko(printed, municipality):
    _request, _document, batch = printed
    pdf = bytes(batch.pdf)
    signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    key = active_key(municipality)
    status = validate_pdf_signature(signature, ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(bytes(key.certificate_der))]))
    assert status.intact and status.valid and status.trusted
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES
    assert municipality.full_name in signature.signer_cert.subject.human_friendly
    check = verify_pdf(pdf)
    assert check.valid and check.municipality == municipality


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
    for personal in (resident.name, resident.address, resident.name_kana, str(resident.date_of_birth.year)):
        assert personal not in page


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


def test_attempts_are_rate_limited(printed):
    _request, document, _batch = printed
    client = Client()
    for _ in range(10):
        client.post(verify_url(document), {"verification_code": "AAAAAAAAAAAA"})
    response = client.post(verify_url(document), {"verification_code": document.verification_code})
    assert response.status_code == 429 and "発行されています" not in response.content.decode()


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
    assert rows[1] == [request.formatted_reception_number, request.delivery_postal_code, request.delivery_address,
                       "'=HYPERLINK(\"http://evil\")", "普通郵便", "1", "1234-5678-9012", document.issue_number]
    assert AccessLog.objects.filter(action="download_mailing_list", staff=clerk).exists()


def test_the_verify_command_refuses_an_oversized_file(db, tmp_path):
    huge = tmp_path / "huge.pdf"
    with huge.open("wb") as f:
        f.truncate(201 * 1024 * 1024)  # sparse: no disk used
    with pytest.raises(CommandError, match="larger than"):
        call_command("documents", "verify", str(huge))
