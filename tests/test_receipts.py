"""The resident's receipt page and 領収書 PDF."""

import io

import pytest
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from madoguchi.applications import actions
from madoguchi.tenancy.models import Role, Staff

from .conftest import make_resident
from .flow import draft, received, sign

pytestmark = pytest.mark.django_db(transaction=True)


def owner(request) -> Client:
    client = Client()
    session = client.session
    session["requests"] = [str(request.public_id)]
    session.save()
    return client


def urls(request):
    args = [request.municipality.code, request.public_id]
    return reverse("payments:receipt", args=args), reverse("payments:receipt_pdf", args=args)


def test_receipt_page_and_pdf_state_amount_payee_and_purpose(municipality, resident):
    request = received(municipality, resident, copies=2)
    payment = request.payments.get()
    page_url, pdf_url = urls(request)
    client = owner(request)
    page = client.get(page_url).content.decode()
    assert f"{payment.order_id}" in page and "710円" in page and "東京都窓口市長" in page
    assert "住民票の写しの交付手数料(300円×2通)及び郵便料(110円)として" in page
    response = client.get(pdf_url)
    assert response["Content-Type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "領収書" in text and "710" in text and payment.order_id in text and "山田" in text


def test_receipt_shows_a_partial_refund(municipality, resident):
    request = received(municipality, resident, copies=3)
    clerk = Staff.objects.create(username="clerk", municipality=municipality, role=Role.CLERK)
    actions.refund_unissuable_copies(request, clerk, 2)
    page = owner(request).get(urls(request)[0]).content.decode()
    assert "返金済み" in page and "300円" in page


def test_no_receipt_before_payment_for_strangers_or_for_another_municipality(municipality, other_municipality,
                                                                             resident):
    unpaid = sign(draft(municipality), resident)
    for url in urls(unpaid):
        assert owner(unpaid).get(url).status_code == 404
    paid = received(municipality, make_resident(municipality, "佐藤 一郎", sex="1"))
    for url in urls(paid):
        assert Client().get(url).status_code == 404  # not this browser's request
    wrong_town = reverse("payments:receipt", args=[other_municipality.code, paid.public_id])
    assert owner(paid).get(wrong_town).status_code == 404
    assert owner(paid).post(urls(paid)[0]).status_code == 405


def test_name_the_font_cannot_draw_is_written_as_uesama(municipality):
    resident = make_resident(municipality, "山田 한나")  # Hangul: not in the certificate font
    request = received(municipality, resident)
    text = PdfReader(io.BytesIO(owner(request).get(urls(request)[1]).content)).pages[0].extract_text()
    assert "上様" in text
