"""The resident's experience without a browser: the start page, fees and help at the choice, answers
kept across Back, 変更 links, the 和暦 date of birth, error summaries in plain Japanese, the truthful
progress indicator, Japanese error pages with DEBUG off, and the municipality's legal pages."""

import datetime
import time

import pytest
from django.test import Client
from django.urls import reverse

from madoguchi.applications.models import CertificateRequest, State
from madoguchi.catalog.models import Fee
from madoguchi.core.birthdate import BirthDateField
from madoguchi.core.dates import NotADate, from_wareki
from madoguchi.core.forms import Form

from .flow import received

pytestmark = pytest.mark.django_db


# --- 和暦 dates --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("era", "year", "month", "day", "expected"), [
    ("平成", 31, 4, 30, datetime.date(2019, 4, 30)),
    ("令和", 1, 5, 1, datetime.date(2019, 5, 1)),
    ("昭和", 64, 1, 7, datetime.date(1989, 1, 7)),
    ("平成", 1, 1, 8, datetime.date(1989, 1, 8)),
    ("昭和", 55, 4, 1, datetime.date(1980, 4, 1)),
    ("大正", 15, 12, 24, datetime.date(1926, 12, 24)),
])
def test_wareki_dates_that_existed(era, year, month, day, expected):
    assert from_wareki(era, year, month, day) == expected


@pytest.mark.parametrize(("era", "year", "month", "day"), [
    ("平成", 31, 5, 1),   # that day was 令和元年5月1日
    ("令和", 1, 4, 30),   # still 平成31年
    ("昭和", 64, 1, 8),   # 平成元年1月8日
    ("平成", 0, 1, 1),
    ("令和", 5, 2, 29),   # 2023 is not a leap year
    ("明治", 5, 12, 31),  # lunisolar calendar then
    ("西暦", 1980, 1, 1),
])
def test_wareki_dates_that_never_existed(era, year, month, day):
    with pytest.raises(NotADate):
        from_wareki(era, year, month, day)


class BirthForm(Form):
    born = BirthDateField(label="生年月日", today=datetime.date(2025, 6, 1))


def _parts(era="", year="", month="", day=""):
    return {"born_era": era, "born_year": year, "born_month": month, "born_day": day}


@pytest.mark.parametrize(("data", "expected"), [
    (_parts("昭和", "55", "4", "1"), datetime.date(1980, 4, 1)),
    (_parts("昭和", "５５", "４", "１"), datetime.date(1980, 4, 1)),  # full-width digits from a phone keyboard
    (_parts("令和", "元", "5", "1"), datetime.date(2019, 5, 1)),
    (_parts("", "1980", "4", "1"), datetime.date(1980, 4, 1)),  # autofill fills 西暦 parts only
    (_parts("seireki", "1980", "04", "01"), datetime.date(1980, 4, 1)),
    (_parts("平成", "1989", "4", "1"), datetime.date(1989, 4, 1)),  # four digits are 西暦 whatever the list says
    ({"born": "1980-04-01"}, datetime.date(1980, 4, 1)),  # a client that posts the date whole
])
def test_birth_date_accepts_wareki_and_seireki(data, expected):
    form = BirthForm(data)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["born"] == expected


@pytest.mark.parametrize(("data", "message"), [
    (_parts(), "「生年月日」を入力してください"),
    (_parts("平成", "31", "5", "1"), "平成31年5月1日という日はありません。令和元年5月1日のことではありませんか"),
    (_parts("令和", "元", "4", "30"), "令和元年4月30日という日はありません。平成31年4月30日のことではありませんか"),
    (_parts("", "55", "4", "1"), "元号(昭和・平成など)を選ぶか、年を西暦4桁"),
    (_parts("昭和", "55", "13", "1"), "「月」を1から12の数字で"),
    (_parts("昭和", "55", "2", "30"), "昭和55年2月30日という日はありません"),
    (_parts("", "2030", "1", "1"), "今日より後"),
    (_parts("慶応", "3", "1", "1"), "元号は、表示されている選択肢から"),
    (_parts("昭和", "5\x005", "4", "1"), "使えない文字"),
    (_parts("昭和", "5" * 5000, "4", "1"), "「年」を数字で"),
    (_parts("昭和", "\ud800", "4", "1"), "「年」を数字で"),
    (_parts("昭和", "-5", "4", "1"), "「年」を数字で"),
])
def test_birth_date_errors_say_what_to_fix(data, message):
    form = BirthForm(data)
    assert not form.is_valid()
    assert message in " ".join(form.errors["born"])


def test_birth_date_widget_has_input_purposes_and_keeps_what_was_typed():
    html = str(BirthForm(_parts("昭和", "55", "13", "1"))["born"])
    for purpose in ("bday-year", "bday-month", "bday-day"):
        assert f'autocomplete="{purpose}"' in html
    assert html.count('inputmode="numeric"') == 3
    assert '<option value="昭和" selected>' in html and 'value="55"' in html and 'value="13"' in html
    rendered = BirthForm().as_div()
    assert "<fieldset" in rendered and "<legend" in rendered


# --- the wizard ------------------------------------------------------------------------------------

def _answer_all(client, code, certificate_type="residence_certificate"):
    steps = [("web:apply_type", {"certificate_type": certificate_type}),
             ("web:apply_options", {"scope": "self"}),
             ("web:apply_copies", {"copies": "2", "purpose": "bank"}),
             ("web:apply_delivery", {"postage_class": "regular", "notice_email": "hanako@example.jp"})]
    for name, data in steps:
        assert client.post(reverse(name, args=[code]), data).status_code == 302


def test_start_page_says_who_cost_time_and_what_is_needed(municipality):
    Fee.objects.filter(municipality=municipality, certificate_type="koseki_full").update(amount=450)
    page = Client().get(reverse("web:home", args=[municipality.code])).content.decode()
    for text in ("申請できる方", "住民票の写し", "300円", "戸籍全部事項証明書", "450円", "郵便料 110円",
                 "開庁日以内に発送", "英数字6〜16桁", "デジタル認証アプリ", "NFC", "ロックされたとき",
                 "個人情報の取扱い", "利用規約", "アクセシビリティ方針"):
        assert text in page, text


def test_fee_and_help_are_shown_at_the_choice(municipality):
    Fee.objects.filter(municipality=municipality, certificate_type="tax_certificate").delete()
    page = Client().get(reverse("web:apply_type", args=[municipality.code])).content.decode()
    assert "1通 300円" in page and "記載事項証明書" in page and "戸籍抄本" in page
    assert "本籍地の記載された住民票の写し" in page
    assert 'aria-describedby="id_certificate_type_0_help"' in page
    assert "課税" not in page.split("<form")[1]  # not offered online today: not a choice
    assert "手続き 1 / 8" in page


def test_answers_survive_back_and_the_same_draft_is_reused(municipality):
    client = Client()
    _answer_all(client, municipality.code)
    client.post(reverse("web:apply_confirm", args=[municipality.code]))
    first = CertificateRequest.objects.get()
    # Back from the card page: every step still shows what was answered.
    page = client.get(reverse("web:apply_copies", args=[municipality.code])).content.decode()
    assert '<option value="2" selected>' in page
    page = client.get(reverse("web:apply_delivery", args=[municipality.code])).content.decode()
    assert 'value="hanako@example.jp"' in page
    response = client.post(reverse("web:apply_confirm", args=[municipality.code]))
    assert response.url == reverse("web:sign", args=[municipality.code, first.public_id])
    assert CertificateRequest.objects.count() == 1
    # A changed answer makes a new draft with the new terms.
    client.post(reverse("web:apply_copies", args=[municipality.code]) + "?return=confirm",
                {"copies": "3", "purpose": "bank"})
    client.post(reverse("web:apply_confirm", args=[municipality.code]))
    assert list(CertificateRequest.objects.order_by("id").values_list("copies", flat=True)) == [2, 3]


def test_change_link_returns_to_the_confirmation(municipality):
    client = Client()
    _answer_all(client, municipality.code)
    page = client.get(reverse("web:apply_confirm", args=[municipality.code])).content.decode()
    assert page.count(">変更<") == 4 and "?return=confirm" in page
    response = client.post(reverse("web:apply_delivery", args=[municipality.code]) + "?return=confirm",
                           {"postage_class": "regular", "notice_email": ""})
    assert response.url == reverse("web:apply_confirm", args=[municipality.code])
    # Another certificate needs its own options: the options step first, then straight back.
    response = client.post(reverse("web:apply_type", args=[municipality.code]) + "?return=confirm",
                           {"certificate_type": "koseki_full"})
    assert response.url == reverse("web:apply_options", args=[municipality.code]) + "?return=confirm"
    page = client.get(response.url).content.decode()
    assert "本籍地の記載された住民票の写し" in page
    response = client.post(response.url, {"honseki": "東京都窓口市本町一丁目2番地", "koseki_head": "山田 太郎"})
    assert response.url == reverse("web:apply_confirm", args=[municipality.code])
    page = client.get(response.url).content.decode()
    assert "戸籍全部事項証明書" in page and "2通" in page  # copies kept across the change


def test_error_summary_links_to_each_field_in_plain_japanese(municipality):
    client = Client()
    client.post(reverse("web:apply_type", args=[municipality.code]), {"certificate_type": "residence_certificate"})
    client.post(reverse("web:apply_options", args=[municipality.code]), {"scope": "self"})
    page = client.post(reverse("web:apply_copies", args=[municipality.code]),
                       {"copies": "1", "purpose": "other", "purpose_detail": ""}).content.decode()
    assert 'id="error-summary"' in page and 'tabindex="-1"' in page
    assert '<a href="#id_purpose_detail">使いみちを入力してください。</a>' in page
    assert "このフィールドは必須です" not in page
    page = client.post(reverse("web:apply_copies", args=[municipality.code]), {"copies": ""}).content.decode()
    assert '<a href="#id_copies">「通数」を選んでください。</a>' in page
    assert '<a href="#id_purpose_0">「使いみち」を選んでください。</a>' in page
    assert "errors.js" in page and "<script>" not in page


def test_email_and_reception_number_have_input_purposes(municipality):
    client = Client()
    _answer_all(client, municipality.code)
    page = client.get(reverse("web:apply_delivery", args=[municipality.code])).content.decode()
    assert 'autocomplete="email"' in page
    page = client.post(reverse("web:apply_delivery", args=[municipality.code]),
                       {"postage_class": "regular", "notice_email": "not-an-address"}).content.decode()
    assert "メールアドレスの形式が正しくありません" in page
    page = client.get(reverse("web:status", args=[municipality.code])).content.decode()
    assert 'inputmode="numeric"' in page and 'autocomplete="bday-year"' in page


def test_status_page_answers_a_wareki_date_of_birth(municipality, resident, settings):
    request = received(municipality, resident)  # resident born 1980-04-01 = 昭和55年4月1日
    client = Client()
    url = reverse("web:status", args=[municipality.code])
    page = client.post(url, {"reception_number": request.formatted_reception_number, "date_of_birth_era": "昭和",
                             "date_of_birth_year": "55", "date_of_birth_month": "4",
                             "date_of_birth_day": "1"}).content.decode()
    assert "受付済みです" in page
    page = client.post(url, {"reception_number": request.formatted_reception_number, "date_of_birth_era": "平成",
                             "date_of_birth_year": "31", "date_of_birth_month": "5",
                             "date_of_birth_day": "1"}).content.decode()
    assert "平成31年5月1日という日はありません" in page and "受付済みです" not in page


def test_progress_counts_every_step_to_the_end(municipality, resident):
    client = Client()
    _answer_all(client, municipality.code)
    assert "手続き 5 / 8" in client.get(reverse("web:apply_confirm", args=[municipality.code])).content.decode()
    client.post(reverse("web:apply_confirm", args=[municipality.code]))
    request = CertificateRequest.objects.get()
    page = client.get(reverse("web:sign", args=[municipality.code, request.public_id])).content.decode()
    assert "手続き 6 / 8" in page


def test_card_step_says_what_is_checked_and_what_to_do_with_a_locked_pin(municipality):
    client = Client()
    _answer_all(client, municipality.code)
    client.post(reverse("web:apply_confirm", args=[municipality.code]))
    request = CertificateRequest.objects.get()
    page = client.get(reverse("web:sign", args=[municipality.code, request.public_id])).content.decode()
    for text in ("確認すること", "住民記録と一致", "失効していない", "5回続けて間違えるとロック",
                 "窓口で、ロックの解除", "デジタル認証アプリ", "英数字6〜16桁"):
        assert text in page, text


def test_backing_out_of_payment_offers_retry_and_cancel(municipality, resident):
    from .flow import draft, sign, start_payment

    request = sign(draft(municipality), resident)
    client = Client()
    session = client.session
    session["requests"] = [str(request.public_id)]
    session.save()
    start_payment(request)
    request.refresh_from_db()
    assert request.state == State.AWAITING_PAYMENT
    page = client.get(reverse("web:done", args=[municipality.code, request.public_id])).content.decode()
    assert "お支払いがまだ確認できていません" in page and "もう一度お支払いへ進む" in page and "申請をやめる" in page
    assert "手続き 7 / 8" in page
    page = client.get(reverse("web:pay", args=[municipality.code, request.public_id])).content.decode()
    assert "申請をやめる" in page and "お支払いをやり直せます" in page


# --- error pages, DEBUG off --------------------------------------------------------------------------

def test_japanese_error_pages_without_debug(municipality, settings):
    settings.DEBUG = False
    client = Client()
    response = client.get(f"/m/{municipality.code}/no-such-page/")
    page = response.content.decode()
    assert response.status_code == 404 and "ページが見つかりません" in page and municipality.contact in page
    assert "Not Found" not in page and "resident.css" in page
    response = client.get("/no/such/page/\x00")  # refused at the boundary (core.inputs), in Japanese
    assert response.status_code == 400 and "正しくない文字" in response.content.decode()
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("web:apply_type", args=[municipality.code]), {"certificate_type": "x"})
    page = response.content.decode()
    assert response.status_code == 403 and "送信できませんでした" in page and "再読み込み" in page
    assert "CSRF" not in page


def test_japanese_500_page_without_debug(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = "tests.error_urls"
    response = Client(raise_request_exception=False).get("/boom/")
    page = response.content.decode()
    assert response.status_code == 500 and "ただいま手続きができません" in page and "二重に請求" in page


def test_403_page_for_staff_says_whom_to_ask(municipality, settings):
    import pyotp

    from madoguchi.backoffice.auth import OTP_SESSION_KEY
    from madoguchi.tenancy.models import Role, Staff

    settings.DEBUG = False
    auditor = Staff.objects.create(username="audit", municipality=municipality, role=Role.AUDITOR,
                                   totp_secret=pyotp.random_base32())
    client = Client()
    client.force_login(auditor)
    session = client.session
    session[OTP_SESSION_KEY] = True
    session["office_signed_in_at"] = session["office_last_seen"] = int(time.time())  # backoffice.auth
    session.save()
    response = client.post(reverse("backoffice:batch"), {"operation": "approve"})
    assert response.status_code == 403 and "管理者に権限の変更を依頼" in response.content.decode()


@pytest.mark.parametrize("page, text", [("privacy", "個人情報の保護に関する法律"), ("terms", "利用規約"),
                                        ("accessibility", "JIS X 8341-3:2016")])
def test_legal_pages_name_the_municipality(municipality, page, text):
    body = Client().get(reverse("web:legal", args=[municipality.code, page])).content.decode()
    assert text in body and municipality.full_name in body and municipality.contact in body


def test_unknown_legal_page_and_municipality_are_404(municipality):
    assert Client().get(f"/m/{municipality.code}/about/cookies/").status_code == 404
    assert Client().get("/m/999999/about/privacy/").status_code == 404
