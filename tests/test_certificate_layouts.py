"""Legally complete layouts: a test per required item per kind, and the items printed only on request.

Each test names the provision that requires (or allows leaving out) the item."""

import datetime
import io

import pytest

from madoguchi.documents.services import PersonSelectionError

from .conftest import make_resident
from .test_documents_render import make_request, render, text_of


def with_options(resident, **options):
    request = make_request(resident)
    request.options.update(options)
    return request


# --- 住民票の写し (住民基本台帳法 第7条, 第12条第5項) -------------------------------------------------


@pytest.fixture
def moved_in(municipality):
    """A resident who moved here from another town: every 第7条 date and the 従前の住所 recorded."""
    return make_resident(municipality, "山田 花子", address_since=datetime.date(2019, 6, 1),
                         address_notified_on=datetime.date(2019, 6, 10),
                         previous_address="埼玉県さいたま市浦和区高砂三丁目15番1号")


@pytest.mark.parametrize("kind", ["residence_certificate", "residence_entry_certificate"])
@pytest.mark.parametrize(("item", "value"), [
    ("住所を定めた年月日", "令和元年6月1日"),  # 第7条第7号
    ("届出の年月日", "令和元年6月10日"),  # 第7条第8号
    ("従前の住所", "埼玉県さいたま市浦和区高砂三丁目15番1号"),  # 第7条第8号
    ("住民となった年月日", "平成17年4月1日"),  # 第7条第6号
    ("生年月日", "昭和55年4月1日"),  # 第7条第2号
    ("性別", "女"),  # 第7条第3号
    ("住所", "東京都窓口市本町一丁目2番3号"),  # 第7条第7号
])
def test_residence_certificate_always_prints(moved_in, kind, item, value):
    request = make_request(moved_in)
    request.certificate_type = kind
    assert f"{item}{value}" in text_of(render(request).pdf)


def test_residence_certificate_furigana_are_katakana(resident):
    """住民記録システム標準仕様書: the register holds 振り仮名 in katakana; the certificate prints them so."""
    text = text_of(render(make_request(resident)).pdf)
    assert "ヤマダハナコ" in text and "やまだ" not in text


def test_former_surname_stands_beside_the_name(municipality):
    """旧氏 (施行令 第30条の13) in the name's row, with its 振り仮名; 生年月日 moves below."""
    person = make_resident(municipality, "山田 花子", former_surname="佐藤", former_surname_kana="さとう")
    text = text_of(render(make_request(person)).pdf)
    assert "旧氏サトウ佐藤" in text
    assert text.index("山田花子") < text.index("旧氏") < text.index("生年月日")
    plain = text_of(render(make_request(make_resident(municipality, "鈴木 一郎", sex="1"))).pdf)
    assert "旧氏" not in plain and plain.index("鈴木一郎") < plain.index("生年月日") < plain.index("性別")


@pytest.mark.parametrize(("field", "item"), [("address_since", "住所を定めた年月日"),
                                             ("address_notified_on", "届出の年月日")])
def test_a_required_date_missing_from_the_replica_stops_issuance(moved_in, field, item):
    setattr(moved_in, field, None)
    moved_in.save()
    with pytest.raises(PersonSelectionError, match=f"{item}.*第7条"):
        render(make_request(moved_in))


def test_a_person_born_here_has_no_previous_address(resident):
    """第7条第8号 applies to those who moved in: the 従前の住所 box stays empty for a birth."""
    assert "従前の住所以下余白" in text_of(render(make_request(resident)).pdf)


@pytest.fixture
def foreign_resident(municipality):
    person = make_resident(municipality, "NGUYEN VAN AN", sex="1", date_of_birth=datetime.date(1995, 7, 20),
                           nationality="ベトナム", became_foreign_resident_on=datetime.date(2021, 4, 1),
                           foreign_resident_category="mid_long_term", residence_status="技術・人文知識・国際業務",
                           period_of_stay="5年", period_of_stay_ends_on=datetime.date(2026, 3, 31),
                           residence_card_number="AB12345678CD")
    person.honseki = person.koseki_head = ""
    person.save()
    return person


RESIDENCE_STATUS_ITEMS = [("第30条の45区分", "中長期在留者"), ("在留資格", "技術・人文知識・国際業務"),
                          ("在留期間", "5年"), ("在留期間の満了の日", "令和8年3月31日"),
                          ("在留カード等の番号", "AB12345678CD")]


@pytest.mark.parametrize(("item", "value"), RESIDENCE_STATUS_ITEMS)
def test_foreign_resident_items_only_on_request(foreign_resident, item, value):
    """第30条の45 items other than 国籍 are left out unless asked for (第12条第5項 as read by 第30条の51)."""
    without = text_of(render(make_request(foreign_resident)).pdf)
    shown = text_of(render(with_options(foreign_resident, show_residence_status=True)).pdf)
    assert f"{item}{value}" in shown
    assert item not in without and f"{item}{value}" not in without


def test_foreign_resident_always_shows_the_date_of_becoming_a_foreign_resident(foreign_resident):
    """外国人住民となった年月日 (第30条の45) is printed whether or not the other items are asked for."""
    assert "外国人住民となった年月日令和3年4月1日" in text_of(render(make_request(foreign_resident)).pdf)


def test_residence_status_items_never_appear_for_a_japanese_resident(resident):
    text = text_of(render(with_options(resident, show_residence_status=True)).pdf)
    assert "在留" not in text and "第30条の45" not in text


def test_the_options_form_offers_the_residence_status_items():
    from madoguchi.documents.kinds import get_kind

    form = get_kind("residence_certificate").options_form({"scope": "self", "show_residence_status": "on"})
    assert form.is_valid() and form.cleaned_data["show_residence_status"] is True


# --- 印鑑登録証明書 (印鑑登録証明事務処理要領) ---------------------------------------------------------


def impression_png(side_mm: float, dpi: float = 300, canvas_mm: float | None = None) -> bytes:
    """A red square seal `side_mm` wide on a transparent canvas, with its resolution recorded
    (none when `dpi` is 0: drawn at 300 dpi then)."""
    from PIL import Image, ImageDraw

    px_per_mm = (dpi or 300) / 25.4
    canvas = round((canvas_mm or side_mm + 2) * px_per_mm)
    side = round(side_mm * px_per_mm)
    image = Image.new("RGBA", (canvas, canvas), (0, 0, 0, 0))
    offset = (canvas - side) // 2
    ImageDraw.Draw(image).rectangle((offset, offset, offset + side - 1, offset + side - 1), fill=(200, 30, 35, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **({"dpi": (dpi, dpi)} if dpi else {}))
    return buffer.getvalue()


def seal_request(resident, png: bytes):
    from madoguchi.registry.models import SealRegistration

    SealRegistration.objects.update_or_create(resident=resident, defaults={
        "municipality": resident.municipality, "registration_number": f"R{resident.person_number}",
        "impression_png": png, "registered_on": datetime.date(2010, 5, 1)})
    request = make_request(resident)
    request.certificate_type = "seal_certificate"
    return request


def printed_red_side_mm(pdf: bytes, dpi: int = 200) -> float:
    """The larger side, in mm, of the red printed on the first page (the impression; the drawn 公印
    placeholder is red too, so it is measured only inside the impression's box, upper half)."""
    import subprocess
    import tempfile
    from pathlib import Path

    from PIL import Image

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "seal.pdf"
        path.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-singlefile", "-f", "1", "-l", "1", str(path),
                        str(Path(directory) / "page")], check=True, capture_output=True)
        image = Image.open(Path(directory) / "page.png").convert("RGB")
    upper = image.crop((0, 0, image.width, image.height // 2))
    red = upper.split()
    mask = Image.eval(red[0], lambda v: 255 if v > 150 else 0)
    not_red = Image.eval(red[1], lambda v: 255 if v < 100 else 0)
    box = Image.composite(mask, Image.new("L", upper.size, 0), not_red).getbbox()
    return max(box[2] - box[0], box[3] - box[1]) / dpi * 25.4


@pytest.mark.parametrize(("side", "dpi"), [(12.0, 300), (18.0, 300), (18.0, 600), (24.0, 200)])
def test_seal_impression_prints_at_actual_size(resident, side, dpi):
    """The impression as registered, not scaled into its box: 12 mm prints 12 mm, 24 mm prints 24 mm,
    whatever the scan's resolution."""
    pdf = render(seal_request(resident, impression_png(side, dpi))).pdf
    assert printed_red_side_mm(pdf) == pytest.approx(side, abs=0.4)


@pytest.mark.parametrize(("png", "message"), [
    (impression_png(30.0), "登録できる大きさ"),  # larger than a 25 mm square
    (impression_png(7.0), "登録できる大きさ"),  # fits an 8 mm square
    (impression_png(15.0, dpi=0), "解像度"),  # no resolution recorded: no actual size
    (b"\x89PNG\r\n\x1a\n garbage", "読み取れません"),
])
def test_an_impression_that_cannot_print_at_actual_size_stops_issuance(resident, png, message):
    with pytest.raises(PersonSelectionError, match=message):
        render(seal_request(resident, png))


def test_seal_certificate_prints_the_former_surname_beside_the_name(municipality):
    person = make_resident(municipality, "山田 花子", former_surname="佐藤")
    text = text_of(render(seal_request(person, impression_png(15.0))).pdf)
    assert "氏名山田花子旧氏佐藤" in text
    plain = make_resident(municipality, "鈴木 一郎", sex="1")
    assert "旧氏" not in text_of(render(seal_request(plain, impression_png(15.0))).pdf)


@pytest.mark.parametrize(("item", "value"), [("生年月日", "昭和55年4月1日"), ("性別", "女"),
                                             ("住所", "東京都窓口市本町一丁目2番3号"), ("登録番号", "R")])
def test_seal_certificate_always_prints(resident, item, value):
    value = f"R{resident.person_number}" if value == "R" else value
    assert f"{item}{value}" in text_of(render(seal_request(resident, impression_png(15.0))).pdf)


# --- 戸籍全部・個人事項証明書 (戸籍法 第120条, 戸籍法施行規則 付録第22号様式) --------------------------------


@pytest.fixture
def koseki(municipality, resident):
    from madoguchi.registry.matching import koseki_lookup_key
    from madoguchi.registry.models import Koseki, KosekiMember

    honseki, head = "東京都窓口市本町一丁目2番地", "山田 太郎"
    record = Koseki.objects.create(municipality=municipality, honseki=honseki, head_name=head,
                                   lookup_key=koseki_lookup_key(honseki, head),
                                   events=[{"kind": "戸籍編製", "date": "2005-04-01"}])

    def member(position, name, born, sex, relationship, events, **fields):
        return KosekiMember.objects.create(municipality=municipality, koseki=record, position=position, name=name,
                                           date_of_birth=datetime.date.fromisoformat(born), sex=sex,
                                           relationship=relationship, events=events, **fields)

    birth = {"kind": "出生", "date": "1978-01-05",
             "details": [["出生地", "東京都千代田区"], ["届出日", "1978-01-12"], ["届出人", "父"]]}
    member(1, head, "1978-01-05", "1", "長男", [birth], name_kana="ヤマダ タロウ", spouse_category="夫",
           father="山田 茂", mother="山田 和子")
    member(2, "山田 花子", "1980-04-01", "2", "長女",
           [{"kind": "婚姻", "date": "2005-04-01", "details": [["配偶者氏名", head]]}], name_kana="やまだ はなこ",
           spouse_category="妻", father="佐藤 博", mother="佐藤 洋子", resident=resident)
    member(3, "山田 一郎", "2006-08-15", "1", "長男",
           [{"kind": "婚姻", "date": "2026-01-05", "details": [["配偶者氏名", "鈴木 結衣"]]}],
           father=head, mother="山田 花子", removed=True)
    return record


def koseki_pdf(resident, kind="koseki_full") -> str:
    request = make_request(resident)
    request.certificate_type = kind
    request.options = {"honseki": "東京都窓口市本町一丁目2番地", "koseki_head": "山田 太郎"}
    return render(request).pdf


def raw_text(pdf: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.mark.parametrize("kind", ["koseki_full", "koseki_individual"])
def test_koseki_dates_are_in_arabic_numerals(koseki, resident, kind):
    """付録第22号様式 and its 記載例: 令和8年1月5日, not 令和八年一月五日 — the issue date too."""
    text = text_of(koseki_pdf(resident, kind))
    assert "昭和55年4月1日" in text and "令和8年11月23日" in text
    assert "令和八年" not in text and "昭和五十五年" not in text


def test_koseki_each_item_stands_on_its_own_line(koseki, resident):
    lines = raw_text(koseki_pdf(resident)).splitlines()
    for item in ("【出生日】", "【出生地】", "【届出日】", "【届出人】"):
        line = next(line for line in lines if item in line)
        assert line.count("【") == 1, line


def test_koseki_has_the_identity_items_heading_per_person(koseki, resident):
    """身分事項 heads the events of each person who has any (付録第22号様式)."""
    assert text_of(koseki_pdf(resident)).count("身分事項") == 3


@pytest.mark.parametrize(("item", "value"), [("配偶者区分", "夫"), ("配偶者区分", "妻"), ("父", "山田茂"),
                                             ("母", "山田和子"), ("続柄", "長男")])
def test_koseki_prints_the_spouse_category_and_the_head_s_parents(koseki, resident, item, value):
    assert f"{item}{value}" in text_of(koseki_pdf(resident))


def test_koseki_prints_the_name_furigana_recorded_since_2025(koseki, resident):
    """氏名の振り仮名 (戸籍法 第13条第1項第2号, 令和5年法律第48号): katakana, over the 氏名 and each 名."""
    text = text_of(koseki_pdf(resident))
    assert "ヤマダタロウ山田太郎" in text  # the header's 氏名
    assert "タロウ太郎" in text and "ハナコ花子" in text


def test_koseki_has_no_sex_row(koseki, resident):
    """The computerized format has no 性別 item: the 続柄 (長男, 長女) says it."""
    assert "性別" not in text_of(koseki_pdf(resident))


def test_a_removed_person_is_marked_with_the_boxed_mark_beside_the_number(koseki, resident):
    from pypdf import PdfReader
    from reportlab.lib.units import mm

    from madoguchi.documents.layout import MARGIN, NUMBER_COLUMN

    pdf = koseki_pdf(resident)
    assert "除　籍" not in raw_text(pdf)  # no trailing row any more
    found = []

    def visitor(text, cm, tm, font_dict, font_size):
        if text.strip() in ("除", "籍"):
            found.append((text.strip(), tm[4]))

    for page in PdfReader(io.BytesIO(pdf)).pages:
        page.extract_text(visitor_text=visitor)
    assert {char for char, _x in found} == {"除", "籍"}
    assert all(MARGIN <= x <= MARGIN + NUMBER_COLUMN for _char, x in found), (found, MARGIN / mm)


def test_koseki_individual_shows_the_requester_only(koseki, resident):
    text = text_of(koseki_pdf(resident, "koseki_individual"))
    assert "花子" in text and "一郎" not in text and "身分事項" in text


# --- 戸籍の附票の写し (住民基本台帳法 第17条・第20条, 令和元年法律第16号による様式) -------------------------


@pytest.fixture
def fuhyo_koseki(koseki):
    # The linkage file lists the addresses out of order; the head moved twice.
    head = koseki.members.get(position=1)
    head.address_history = [
        {"address": "東京都窓口市本町一丁目2番3号", "since": "2005-04-01"},
        {"address": "大阪府大阪市北区中之島一丁目3番20号", "since": "1978-01-05"},
        {"address": "神奈川県横浜市中区日本大通1番地", "since": "1996-04-01"},
    ]
    head.save()
    return koseki


def fuhyo_pdf(resident, **options) -> bytes:
    request = make_request(resident)
    request.certificate_type = "koseki_fuhyo"
    request.options = {"honseki": "東京都窓口市本町一丁目2番地", "koseki_head": "山田 太郎", **options}
    return render(request).pdf


def test_fuhyo_leaves_out_the_honseki_and_head_unless_asked(fuhyo_koseki, resident):
    """第20条第5項 applying 第12条第5項 (since 2022-01-11): 戸籍の表示 only on a special request."""
    without = text_of(fuhyo_pdf(resident))
    shown = text_of(fuhyo_pdf(resident, show_honseki=True))
    assert "本籍" not in without and "筆頭者" not in without
    assert "本籍東京都窓口市本町一丁目2番地" in shown and "筆頭者山田太郎" in shown


@pytest.mark.parametrize(("item", "value"), [("性別", "男"), ("性別", "女"), ("生年月日", "昭和53年1月5日"),
                                             ("氏名", "山田太郎")])
def test_fuhyo_always_prints(fuhyo_koseki, resident, item, value):
    """男女の別 is an item of the 附票 since the 令和元年 amendment (第17条)."""
    assert f"{item}{value}" in text_of(fuhyo_pdf(resident))


def test_fuhyo_lists_addresses_oldest_first(fuhyo_koseki, resident):
    text = text_of(fuhyo_pdf(resident))
    positions = [text.index(address) for address in ("大阪府大阪市北区中之島一丁目3番20号",
                                                     "神奈川県横浜市中区日本大通1番地", "東京都窓口市本町一丁目2番3号")]
    assert positions == sorted(positions)


def test_fuhyo_marks_a_removed_person_with_the_boxed_mark(fuhyo_koseki, resident):
    pdf = fuhyo_pdf(resident)
    found = []

    def visitor(text, cm, tm, font_dict, font_size):
        if text.strip() in ("消", "除"):
            found.append(tm[4])

    from pypdf import PdfReader

    from madoguchi.documents.layout import MARGIN, NUMBER_COLUMN

    for page in PdfReader(io.BytesIO(pdf)).pages:
        page.extract_text(visitor_text=visitor)
    assert len(found) == 2 and all(MARGIN <= x <= MARGIN + NUMBER_COLUMN for x in found)


# --- 所得・課税(非課税)証明書 (地方税法 第20条の10) ------------------------------------------------------


@pytest.fixture
def tax_record(resident):
    from madoguchi.registry.models import TaxRecord

    # Moved here from Saitama during 2025: the 令和7年度 tax was levied where they lived on 1 January.
    return TaxRecord.objects.create(
        municipality=resident.municipality, resident=resident, fiscal_year=2025, salary_income=5_000_000,
        income=3_560_000 + 300_000, deductions=1_510_000, dependents=2, municipal_tax=144_000, prefectural_tax=94_000,
        municipal_per_capita=3_000, municipal_income_levy=141_000, prefectural_per_capita=1_000,
        prefectural_income_levy=93_000, income_breakdown={"給与": 3_560_000, "事業": 300_000},
        deduction_breakdown={"社会保険料控除": 750_000, "基礎控除": 430_000, "扶養控除": 330_000},
        dependant_breakdown={"一般扶養親族": 1, "年少扶養親族": 1},
        address_on_january_1="埼玉県さいたま市浦和区高砂三丁目15番1号")


def tax_pdf(resident, form=None, year=2025) -> bytes:
    request = make_request(resident)
    request.certificate_type = "tax_certificate"
    request.options = {"fiscal_year": str(year), **({"tax_certificate_form": form} if form else {})}
    return render(request).pdf


@pytest.mark.parametrize(("item", "value"), [
    ("市町村民税所得割", "141,000円"), ("市町村民税均等割", "3,000円"),  # 地方税法 第292条
    ("道府県民税所得割", "93,000円"), ("道府県民税均等割", "1,000円"),  # 地方税法 第23条
    ("年税額", "238,000円"), ("課税標準額", "2,350,000円"),
])
def test_tax_certificate_splits_the_tax_into_income_and_per_capita_levies(tax_record, resident, item, value):
    assert f"{item}{value}" in text_of(tax_pdf(resident))


@pytest.mark.parametrize(("item", "value"), [
    ("給与収入", "5,000,000円"), ("給与所得", "3,560,000円"), ("事業所得", "300,000円"),
    ("合計所得金額", "3,860,000円"),
    ("社会保険料控除", "750,000円"), ("基礎控除", "430,000円"), ("扶養控除", "330,000円"),
    ("所得控除の合計", "1,510,000円"), ("扶養親族の数", "2人"), ("一般扶養親族", "1人"), ("年少扶養親族", "1人"),
])
def test_income_certificate_breaks_down_income_deductions_and_dependants(tax_record, resident, item, value):
    assert f"{item}{value}" in text_of(tax_pdf(resident, "income"))


def test_tax_certificate_prints_the_address_on_1_january(tax_record, resident):
    """地方税法 第39条・第294条: the address the tax was levied on, not today's."""
    text = text_of(tax_pdf(resident))
    assert "住所(1月1日現在)埼玉県さいたま市浦和区高砂三丁目15番1号" in text
    assert "東京都窓口市本町一丁目2番3号" not in text


def test_income_and_tax_certificates_can_be_chosen_apart(tax_record, resident):
    income, tax, both = (text_of(tax_pdf(resident, form)) for form in ("income", "tax", "both"))
    assert income.startswith("所得証明書") and "所得割" not in income and "年税額" not in income
    assert tax.startswith("課税証明書") and "所得控除" not in tax and "給与収入" not in tax
    assert both.startswith("所得・課税証明書") and "所得割" in both and "所得控除" in both


def test_a_year_without_tax_is_titled_non_taxable(resident):
    from madoguchi.registry.models import TaxRecord

    TaxRecord.objects.create(municipality=resident.municipality, resident=resident, fiscal_year=2025, income=400_000,
                             deductions=430_000, municipal_tax=0, prefectural_tax=0,
                             address_on_january_1=resident.address)
    assert text_of(tax_pdf(resident, "tax")).startswith("非課税証明書")
    assert "年税額非課税" in text_of(tax_pdf(resident))


@pytest.mark.parametrize(("change", "message"), [({"address_on_january_1": ""}, "1月1日現在の住所"),
                                                 ({"municipal_income_levy": 1}, "内訳")])
def test_incomplete_tax_records_stop_issuance(tax_record, resident, change, message):
    for field, value in change.items():
        setattr(tax_record, field, value)
    tax_record.save()
    with pytest.raises(PersonSelectionError, match=message):
        tax_pdf(resident)


def test_an_unknown_certificate_form_is_refused(tax_record, resident):
    with pytest.raises(PersonSelectionError, match="証明書の種類"):
        tax_pdf(resident, "everything")


@pytest.mark.parametrize(("salary", "year", "deduction"), [
    (1_000_000, 2024, 550_000), (1_625_000, 2024, 550_000), (1_700_000, 2024, 580_000),
    (3_000_000, 2024, 980_000), (3_001_000, 2024, 981_000), (5_000_000, 2024, 1_440_000),
    (7_000_000, 2024, 1_800_000), (9_000_000, 2024, 1_950_000),
    (1_800_000, 2025, 650_000), (1_900_000, 2025, 650_000), (2_000_000, 2025, 680_000), (500_000, 2025, 500_000),
])
def test_the_demo_follows_the_salary_income_deduction_table(salary, year, deduction):
    """所得税法 第28条第3項・別表第五 (地方税法 第32条第2項), 令和7年度税制改正 from 2025 income."""
    from madoguchi.demo.synthetic_records import salary_income_deduction

    assert salary_income_deduction(salary, year) == deduction


def test_the_demo_tax_records_add_up(municipality):
    from madoguchi.demo.synthetic import generate_replica
    from madoguchi.demo.synthetic_records import salary_income_deduction
    from madoguchi.registry.models import TaxRecord

    generate_replica(municipality, count=60)
    records = list(TaxRecord.objects.for_municipality(municipality))
    assert records
    for record in records:
        if record.salary_income:
            assert record.income_breakdown["給与"] == record.salary_income - salary_income_deduction(
                record.salary_income, record.fiscal_year - 1)
        assert sum(record.income_breakdown.values()) == record.income
        assert sum(record.deduction_breakdown.values()) == record.deductions
        assert record.municipal_per_capita + record.municipal_income_levy == record.municipal_tax
        assert record.address_on_january_1 and record.resident.became_resident_on <= datetime.date(
            record.fiscal_year, 1, 1)
