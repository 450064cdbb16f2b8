import datetime

import pytest
from django.test import Client
from django.urls import reverse

from madoguchi.applications.models import CertificateRequest, State

from .flow import received

pytestmark = pytest.mark.django_db(transaction=True)


def walk_to_confirm(client, code, **overrides):
    steps = [
        ("web:apply_type", {"certificate_type": "residence_certificate"}),
        ("web:apply_options", {"scope": "household", "show_relationship": "on"}),
        ("web:apply_copies", {"copies": "2", "purpose": "bank"}),
        ("web:apply_delivery", {"postage_class": "regular", "notice_email": ""}),
    ]
    for name, data in steps:
        data.update(overrides.get(name, {}))
        response = client.post(reverse(name, args=[code]), data)
        assert response.status_code == 302, response.content.decode()
    return client.get(reverse("web:apply_confirm", args=[code]))


def test_wizard_shows_the_fee_breakdown_and_creates_a_draft(municipality):
    client = Client()
    page = walk_to_confirm(client, municipality.code).content.decode()
    assert "300円 × 2通 = 600円" in page and "710円" in page and "世帯全員" in page
    response = client.post(reverse("web:apply_confirm", args=[municipality.code]))
    request = CertificateRequest.objects.get()
    assert response.url == reverse("web:sign", args=[municipality.code, request.public_id])
    assert (request.state, request.copies, request.total_amount) == (State.DRAFT, 2, 710)
    assert request.options["scope"] == "household"


@pytest.mark.parametrize("step, data, message", [
    ("web:apply_type", {"certificate_type": "my_number"}, "「必要な証明書」は、表示されている選択肢から選んでください"),
    ("web:apply_copies", {"copies": "11", "purpose": "bank"}, "「通数」は、表示されている選択肢から選んでください"),
    ("web:apply_copies", {"copies": "1"}, "「使いみち」を選んでください"),
    ("web:apply_copies", {"copies": "1", "purpose": "other", "purpose_detail": " "}, "使いみちを入力してください"),
    ("web:apply_options", {"scope": "partial", "members": ""}, "必要な人の氏名を入力してください"),
])
def test_bad_answers_get_a_japanese_error(municipality, step, data, message):
    client = Client()
    client.post(reverse("web:apply_type", args=[municipality.code]), {"certificate_type": "residence_certificate"})
    if step == "web:apply_copies":
        client.post(reverse("web:apply_options", args=[municipality.code]), {"scope": "self"})
    response = client.post(reverse(step, args=[municipality.code]), data)
    assert response.status_code == 200 and message in response.content.decode()


def test_steps_out_of_order_go_back_to_the_missing_step(municipality):
    client = Client()
    response = client.get(reverse("web:apply_confirm", args=[municipality.code]))
    assert response.url == reverse("web:apply_delivery", args=[municipality.code])
    response = client.get(reverse("web:apply_delivery", args=[municipality.code]))
    assert response.url == reverse("web:apply_copies", args=[municipality.code])


def test_another_browser_cannot_continue_my_request(municipality):
    mine = Client()
    walk_to_confirm(mine, municipality.code)
    mine.post(reverse("web:apply_confirm", args=[municipality.code]))
    request = CertificateRequest.objects.get()
    stranger = Client()
    for name in ("web:sign", "web:pay", "web:done"):
        assert stranger.get(reverse(name, args=[municipality.code, request.public_id])).status_code == 404
    assert mine.get(reverse("web:sign", args=[municipality.code, request.public_id])).status_code == 200


def test_unknown_municipality_is_404():
    assert Client().get(reverse("web:home", args=["999999"])).status_code == 404


def test_signed_callback_rejects_garbage(municipality):
    """The card's hand-back (the identity provider's return leg, channel-neutral since issue 9)."""
    client = Client()
    walk_to_confirm(client, municipality.code)
    client.post(reverse("web:apply_confirm", args=[municipality.code]))
    request = CertificateRequest.objects.get()
    url = reverse("identity_sandbox:returned")
    assert client.post(url, {"nonce": "x", "certificate": "%%%", "signature": "AAAA"}).status_code == 400
    response = client.post(url, {"nonce": "x", "certificate": "AAAA", "signature": "AAAA"}, follow=True)
    assert "もう一度署名してください" in response.content.decode()
    request.refresh_from_db()
    assert request.state == State.DRAFT


def status(client, code, number, dob):
    return client.post(reverse("web:status", args=[code]), {"reception_number": number, "date_of_birth": dob})


def test_status_page_answers_only_the_right_pair(municipality, resident):
    request = received(municipality, resident)
    client = Client()
    number = request.formatted_reception_number
    right = status(client, municipality.code, number, "1980-04-01").content.decode()
    assert "受付済みです" in right
    # Full-width digits and no hyphens are accepted too.
    fullwidth = number.replace("-", "").translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert "受付済みです" in status(client, municipality.code, fullwidth, "1980-04-01").content.decode()
    wrong_dob = status(client, municipality.code, number, "1980-04-02").content.decode()
    unknown = status(client, municipality.code, "1234-5678-9012-3452", "1980-04-01").content.decode()
    mistyped = status(client, municipality.code, "12345", "1980-04-01").content.decode()
    for page in (wrong_dob, unknown, mistyped):
        assert "見つかりませんでした" in page and "受付済み" not in page


def test_status_lookups_are_rate_limited(municipality, resident):
    request = received(municipality, resident)
    client = Client()
    for _ in range(10):
        status(client, municipality.code, request.formatted_reception_number, "1999-01-01")
    response = status(client, municipality.code, request.formatted_reception_number, "1980-04-01")
    assert response.status_code == 429 and "回数が多すぎます" in response.content.decode()


def test_status_of_another_municipality_is_not_found(municipality, other_municipality, resident):
    request = received(municipality, resident)
    page = status(Client(), other_municipality.code, request.formatted_reception_number, "1980-04-01")
    assert "見つかりませんでした" in page.content.decode()


def test_pages_send_a_strict_content_security_policy(municipality):
    response = Client().get(reverse("web:home", args=[municipality.code]))
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_expected_ship_date_skips_the_new_year_closure():
    from madoguchi.catalog.calendar import add_business_days

    assert add_business_days(datetime.date(2026, 12, 28), 2) == datetime.date(2027, 1, 5)
    # 2026-11-23 is 勤労感謝の日 (Monday): counting from the Friday before skips it.
    assert add_business_days(datetime.date(2026, 11, 20), 1) == datetime.date(2026, 11, 24)


def test_sandbox_providers_are_refused_unless_enabled(settings):
    from django.core.exceptions import ImproperlyConfigured

    from madoguchi.identity.providers import get_provider as identity_provider
    from madoguchi.payments.providers import get_provider as payment_provider

    settings.SANDBOX_ENABLED = False
    for get in (identity_provider, payment_provider):
        with pytest.raises(ImproperlyConfigured):
            get("sandbox")
