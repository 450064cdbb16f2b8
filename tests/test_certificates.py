"""Every certificate type from the synthetic replica: content, characters, and the reviewed look.

Reference images live in tests/reference/ (50 dpi grayscale, one per type) and are shown in
docs/documents.md from docs/images/. A template change that moves anything fails here until the
images are regenerated on purpose and reviewed:

    MADOGUCHI_UPDATE_REFERENCE_IMAGES=1 .venv/bin/pytest tests/test_certificates.py -p no:xdist
"""

import datetime
import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from PIL import Image, ImageChops
from pypdf import PdfReader

from madoguchi.applications.models import CertificateRequest
from madoguchi.catalog.models import CertificateType
from madoguchi.core.dates import to_wareki
from madoguchi.demo.synthetic import generate_replica, hard_cases
from madoguchi.documents.fonts import certificate_font
from madoguchi.documents.kinds import get_kind
from madoguchi.documents.kinds.tax_certificate import fiscal_year_label
from madoguchi.documents.services import PersonSelectionError, render_certificate
from madoguchi.registry.models import Koseki, KosekiMember, Resident, SealRegistration, TaxRecord

ISSUED_ON = datetime.date(2026, 11, 23)
ISSUE_NUMBER = "1399981234567890"
CODE = "ABCDEFGHJKMN"
ROOT = Path(__file__).resolve().parent.parent
DOCS_IMAGES = ROOT / "docs" / "images"
UPDATE = os.environ.get("MADOGUCHI_UPDATE_REFERENCE_IMAGES") == "1"
# Tolerances for font rasterisation noise between poppler and FreeType versions; a moved line or a
# changed word differs in far more pixels than this.
MAX_MEAN_DIFFERENCE = 0.5
MAX_CHANGED_SHARE = 0.0003  # about 70 pixels of an A4 page at 50 dpi


def compact(text: str) -> str:
    return "".join(text.split())


def text_of(pdf: bytes) -> str:
    return "".join(compact(page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages)


def make_request(resident: Resident, certificate_type: str, options: dict) -> CertificateRequest:
    return CertificateRequest(municipality=resident.municipality, certificate_type=certificate_type,
                              options=options, resident=resident, copies=1)


def render(request: CertificateRequest):
    return render_certificate(request, ISSUE_NUMBER, CODE, ISSUED_ON)


@pytest.fixture
def replica(municipality):
    residents = generate_replica(municipality, count=150)
    # Ordered: without it PostgreSQL may return the rows in another order and pick other samples.
    return Resident.objects.filter(pk__in=[r.pk for r in residents]).select_related("household").order_by("id")


def koseki_with_family(municipality) -> Koseki:
    for koseki in Koseki.objects.for_municipality(municipality).order_by("id"):
        members = list(koseki.members.all())
        if len(members) >= 3 and any(m.resident_id for m in members):
            return koseki
    raise AssertionError("the synthetic replica has no 戸籍 of three")


def sample_requests(municipality, replica) -> dict[str, CertificateRequest]:
    """One request per type, chosen deterministically from the synthetic replica."""
    cases = hard_cases(replica)
    koseki = koseki_with_family(municipality)
    member = koseki.members.filter(resident__isnull=False).order_by("position").first()
    koseki_options = {"honseki": koseki.honseki, "koseki_head": koseki.head_name}
    seal = SealRegistration.objects.for_municipality(municipality).order_by("registration_number").first()
    tax = TaxRecord.objects.for_municipality(municipality).filter(fiscal_year=2026, municipal_tax__gt=0).order_by(
        "id").first()
    return {
        CertificateType.RESIDENCE: make_request(cases["household_head_with_family"], CertificateType.RESIDENCE, {
            "scope": "household", "members": "", "show_relationship": True, "show_honseki": True}),
        CertificateType.RESIDENCE_ENTRY: make_request(cases["ivs_name"], CertificateType.RESIDENCE_ENTRY, {
            "scope": "self", "members": "", "show_relationship": False, "show_honseki": False}),
        CertificateType.SEAL: make_request(seal.resident, CertificateType.SEAL, {}),
        CertificateType.KOSEKI_FULL: make_request(member.resident, CertificateType.KOSEKI_FULL, koseki_options),
        CertificateType.KOSEKI_INDIVIDUAL: make_request(member.resident, CertificateType.KOSEKI_INDIVIDUAL,
                                                        koseki_options),
        CertificateType.KOSEKI_FUHYO: make_request(member.resident, CertificateType.KOSEKI_FUHYO, koseki_options),
        CertificateType.TAX: make_request(tax.resident, CertificateType.TAX, {"fiscal_year": "2026"}),
    }


# --- content -----------------------------------------------------------------------------------------


def test_seal_certificate_shows_the_registration_and_the_impression(municipality, replica):
    request = sample_requests(municipality, replica)[CertificateType.SEAL]
    registration = request.resident.seal_registration
    rendered = render(request)
    text = text_of(rendered.pdf)
    assert "印鑑登録証明書" in text
    for expected in (request.resident.name, request.resident.address, registration.registration_number):
        assert compact(expected) in text
    page = PdfReader(io.BytesIO(rendered.pdf)).pages[0]
    assert len(page.images) == 1  # the impression (the 公印 is the drawn placeholder here)


def test_koseki_full_lists_every_member_with_arabic_numeral_dates(municipality, replica):
    koseki = koseki_with_family(municipality)
    request = sample_requests(municipality, replica)[CertificateType.KOSEKI_FULL]
    text = text_of(render(request).pdf)
    assert "全部事項証明" in text and "戸籍事項" in text and "戸籍に記録されている者" in text
    assert compact(koseki.honseki) in text and compact(koseki.head_name) in text
    formed = datetime.date.fromisoformat(koseki.events[0]["date"])
    assert f"【編製日】{to_wareki(formed)}" in text
    for member in koseki.members.all():
        assert compact(member.name.split(" ", 1)[-1]) in text
        assert to_wareki(member.date_of_birth) in text
        for event in member.events:
            assert "　".join(event["kind"]) if len(event["kind"]) == 2 else event["kind"] in text
    # 記録事項証明書 (戸籍法施行規則 付録第22号様式): Arabic numerals, the issue date too.
    assert to_wareki(ISSUED_ON) in text and "令和八年" not in text
    assert "以下余白" in text


def test_koseki_individual_shows_only_the_requester(municipality, replica):
    koseki = koseki_with_family(municipality)
    request = sample_requests(municipality, replica)[CertificateType.KOSEKI_INDIVIDUAL]
    text = text_of(render(request).pdf)
    assert "個人事項証明" in text
    me = koseki.members.get(resident=request.resident)
    others = [m for m in koseki.members.all() if m.pk != me.pk]
    assert to_wareki(me.date_of_birth) in text
    assert not any(f"【出生日】{to_wareki(m.date_of_birth)}" in text for m in others)


def test_fuhyo_lists_the_address_history(municipality, replica):
    koseki = koseki_with_family(municipality)
    text = text_of(render(sample_requests(municipality, replica)[CertificateType.KOSEKI_FUHYO]).pdf)
    assert "戸籍の附票の写し" in text
    for member in koseki.members.all():
        for moved in member.address_history:
            assert compact(moved["address"]) in text
            assert to_wareki(datetime.date.fromisoformat(moved["since"])) in text
        # The current address is the one on the 住民票.
        if member.resident_id:
            assert member.address_history[-1]["address"] == member.resident.address


def test_tax_certificate_amounts_match_the_replica(municipality, replica):
    request = sample_requests(municipality, replica)[CertificateType.TAX]
    record = TaxRecord.objects.get(resident=request.resident, fiscal_year=2026)
    text = text_of(render(request).pdf)
    assert fiscal_year_label(2026) == "令和8年度（令和7年中の所得）"
    assert compact(fiscal_year_label(2026)) in text
    for amount in (record.income, record.deductions, record.municipal_tax, record.prefectural_tax,
                   record.total_tax, record.taxable_income):
        assert f"{amount:,}円" in text
    assert record.total_tax == record.municipal_tax + record.prefectural_tax


def test_a_year_without_tax_is_a_non_taxable_certificate_when_the_tax_is_zero(municipality, replica):
    exempt = TaxRecord.objects.for_municipality(municipality).filter(municipal_tax=0).order_by("id").first()
    request = make_request(exempt.resident, CertificateType.TAX, {"fiscal_year": str(exempt.fiscal_year)})
    text = text_of(render(request).pdf)
    assert "非課税証明書" in text and "年税額非課税" in text


def test_residence_entry_certificate_has_its_own_title_and_attestation(municipality, replica):
    request = sample_requests(municipality, replica)[CertificateType.RESIDENCE_ENTRY]
    text = text_of(render(request).pdf)
    assert "住民票記載事項証明書" in text and "住民票に記載されていることを証明する" in text
    assert compact(request.resident.address) in text


# --- what the clerk sees when the replica lacks the record -------------------------------------------


@pytest.mark.parametrize("options", [
    {"honseki": "東京都窓口市どこにもない町1番地", "koseki_head": "山田 太郎"},
    {"honseki": "", "koseki_head": ""},
    {},
    {"honseki": "x" * 5000, "koseki_head": "\U000e0102"},
])
def test_an_unknown_koseki_stops_with_a_message_for_the_clerk(municipality, replica, options):
    resident = replica.first()
    with pytest.raises(PersonSelectionError, match="戸籍が副本にありません"):
        render(make_request(resident, CertificateType.KOSEKI_FULL, options))


def test_the_koseki_is_found_from_what_a_resident_can_type(municipality, replica):
    """Arabic or full-width numbers, spaces, and no variant selectors still find the 戸籍."""
    koseki = koseki_with_family(municipality)
    typed_honseki = koseki.honseki.replace("一丁目", "1丁目").replace("二丁目", "２丁目").replace("三丁目", "3丁目")
    typed_head = koseki.head_name.replace(" ", "　").replace("\U000e0102", "").replace("\U000e0103", "")
    member = koseki.members.filter(resident__isnull=False).first()
    request = make_request(member.resident, CertificateType.KOSEKI_FULL,
                           {"honseki": typed_honseki, "koseki_head": typed_head})
    assert compact(koseki.honseki) in text_of(render(request).pdf)


def test_individual_certificate_for_someone_outside_the_koseki_is_not_issued(municipality, replica):
    """Someone with no relation to the 戸籍 (戸籍法 第10条第1項) gets nothing rendered."""
    koseki = koseki_with_family(municipality)
    outsider = next(r for r in replica if not KosekiMember.objects.filter(koseki=koseki, resident=r).exists())
    request = make_request(outsider, CertificateType.KOSEKI_INDIVIDUAL,
                           {"honseki": koseki.honseki, "koseki_head": koseki.head_name})
    with pytest.raises(PersonSelectionError, match="請求できる関係"):
        render(request)


@pytest.mark.parametrize("fiscal_year", ["2019", "abc", None, "9" * 40])
def test_tax_for_a_missing_or_malformed_year_is_refused(municipality, replica, fiscal_year):
    resident = TaxRecord.objects.for_municipality(municipality).first().resident
    with pytest.raises(PersonSelectionError, match="年度"):
        render(make_request(resident, CertificateType.TAX, {"fiscal_year": fiscal_year}))


def test_seal_certificate_without_registration_is_refused(municipality, replica):
    unregistered = next(r for r in replica if not SealRegistration.objects.filter(resident=r).exists())
    with pytest.raises(PersonSelectionError, match="印鑑登録"):
        render(make_request(unregistered, CertificateType.SEAL, {}))


# --- characters --------------------------------------------------------------------------------------


def test_every_character_of_the_generated_records_is_in_the_certificate_font(municipality, replica):
    font = certificate_font()
    texts = set()
    for koseki in Koseki.objects.for_municipality(municipality):
        texts |= {koseki.honseki, koseki.head_name}
    for member in KosekiMember.objects.for_municipality(municipality):
        texts |= {member.name, member.father, member.mother, member.relationship}
        texts |= {str(value) for event in member.events for _label, value in event.get("details", [])}
        texts |= {moved["address"] for moved in member.address_history}
    for text in texts:
        font.encode(text, "test")  # raises MissingGlyph


def test_the_synthetic_records_are_deterministic(municipality, other_municipality):
    generate_replica(municipality, count=80)
    generate_replica(other_municipality, count=80)

    def summary(m):
        return ([(k.honseki.removeprefix(f"{m.prefecture}{m.name}"), k.head_name, k.events)
                 for k in Koseki.objects.for_municipality(m).order_by("id")],
                [(t.fiscal_year, t.income, t.municipal_tax)
                 for t in TaxRecord.objects.for_municipality(m).order_by("id")],
                [s.registration_number for s in SealRegistration.objects.for_municipality(m).order_by("id")])

    assert summary(municipality) == summary(other_municipality)


# --- the reviewed look -------------------------------------------------------------------------------


def rasterize(pdf: bytes) -> Image.Image:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "document.pdf"
        path.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", "50", "-gray", "-png", "-singlefile", "-f", "1", "-l", "1", str(path),
                        str(Path(directory) / "page")], check=True, capture_output=True)
        return Image.open(Path(directory) / "page.png").convert("L")


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is not installed")
@pytest.mark.parametrize("certificate_type", CertificateType.values)
def test_each_template_matches_its_reviewed_image(municipality, replica, certificate_type):
    image = rasterize(render(sample_requests(municipality, replica)[certificate_type]).pdf)
    reference_path = get_kind(certificate_type).reference_image
    if UPDATE:
        reference_path.parent.mkdir(exist_ok=True)
        DOCS_IMAGES.mkdir(exist_ok=True)
        image.save(reference_path, optimize=True)
        image.save(DOCS_IMAGES / f"{certificate_type}.png", optimize=True)
        pytest.skip("reference image written: review it before committing")
    assert reference_path.exists(), f"No reference image {reference_path}; see this module's docstring."
    reference = Image.open(reference_path).convert("L")
    assert image.size == reference.size
    difference = ImageChops.difference(image, reference)
    histogram = difference.histogram()
    pixels = image.size[0] * image.size[1]
    mean = sum(level * count for level, count in enumerate(histogram)) / pixels
    changed = sum(histogram[64:]) / pixels
    assert mean <= MAX_MEAN_DIFFERENCE and changed <= MAX_CHANGED_SHARE, (
        f"{certificate_type} differs from its reviewed image (mean {mean:.2f}, changed {changed:.2%})")


def test_a_changed_template_fails_the_image_comparison(municipality, replica):
    """The comparison can fail: the same certificate signed by the deputy mayor does not match."""
    if UPDATE:
        pytest.skip("updating reference images")
    municipality.certifier_title = "東京都窓口市長職務代理者副市長"
    municipality.save()
    request = sample_requests(municipality, replica)[CertificateType.SEAL]
    request.municipality = municipality
    image = rasterize(render(request).pdf)
    reference = Image.open(get_kind(CertificateType.SEAL).reference_image).convert("L")
    histogram = ImageChops.difference(image, reference).histogram()
    assert sum(histogram[64:]) / (image.size[0] * image.size[1]) > MAX_CHANGED_SHARE


def test_layout_settings_print_the_header_and_move_the_seal(municipality, replica):
    request = sample_requests(municipality, replica)[CertificateType.TAX]
    before = rasterize(render(request).pdf)
    municipality.document_header = "窓口市 市民課 証明係"
    municipality.seal_offset_x_mm = -30
    municipality.seal_offset_y_mm = 10
    municipality.save()
    request.municipality = municipality
    pdf = render(request).pdf
    assert "窓口市市民課証明係" in text_of(pdf)
    after = rasterize(pdf)
    # The seal (bottom right, above the footer) moved: its old place is now mostly white.
    moved = ImageChops.difference(before, after).crop((300, 440, 414, 500)).histogram()
    assert sum(moved[64:]) > 100


def test_koseki_that_differ_only_in_a_variant_glyph_are_not_guessed(municipality):
    from madoguchi.registry.matching import find_koseki, koseki_lookup_key

    honseki = "東京都窓口市本町一丁目5番地"
    one_dot, two_dots = "辻\U000e0102 太郎", "辻\U000e0103 太郎"
    for head in (one_dot, two_dots):
        Koseki.objects.create(municipality=municipality, honseki=honseki, head_name=head,
                              lookup_key=koseki_lookup_key(honseki, head))
    assert find_koseki(municipality, "東京都窓口市本町1丁目5番地", "辻 太郎") is None
    assert find_koseki(municipality, honseki, two_dots).head_name == two_dots
    assert find_koseki(municipality, honseki, "") is None
