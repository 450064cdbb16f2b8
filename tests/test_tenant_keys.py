"""Keys unique per municipality, and the lookups that find them from outside (docs/scale.md)."""

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from madoguchi.applications.models import CertificateRequest
from madoguchi.documents.models import IssuedDocument
from madoguchi.payments.models import Payment, ProviderNotification, new_order_id
from madoguchi.tenancy.models import TenantQuerySet

from .conftest import make_resident
from .flow import draft, received

pytestmark = pytest.mark.django_db(transaction=True)


def test_order_ids_carry_the_municipality_code(municipality):
    order_id = new_order_id(municipality)
    assert order_id.startswith(municipality.code) and len(order_id) == 26 and order_id.isalnum()
    assert order_id != new_order_id(municipality)


def test_a_paid_notification_is_filed_under_the_payments_municipality(municipality, resident):
    request = received(municipality, resident)
    payment = request.payments.get()
    assert payment.order_id.startswith(municipality.code)
    notification = ProviderNotification.objects.get()
    assert (notification.municipality, notification.outcome) == (municipality, "captured")


def test_order_id_lookup_stays_in_the_municipality_its_code_names(municipality, other_municipality):
    ours = draft(municipality)
    theirs = draft(other_municipality)
    suffix = "0123456789ABCDEF0123"
    for request in (ours, theirs):
        Payment.objects.create(municipality=request.municipality, request=request, provider="sandbox",
                               order_id=f"{request.municipality.code}{suffix}", amount=410)
    found = Payment.objects.by_order_id(f"{other_municipality.code}{suffix}").get()
    assert found.request == theirs
    for unknown in ["", "MD" + "0" * 24, "999999" + suffix, "13999８" + suffix, "\x00" * 26, "\ud800",
                    f"{municipality.code}\x00{suffix}", f"{municipality.code}{suffix}\ud800", "9" * 41, None]:
        assert not Payment.objects.by_order_id(unknown).exists()


@pytest.mark.parametrize("field,value", [("reception_number", "1234567812345670"),
                                         ("public_id", "5b0c1f9e-3f0e-4d55-9a57-6d61646f6775")])
def test_request_keys_may_repeat_across_municipalities_but_not_within_one(municipality, other_municipality,
                                                                         field, value):
    first, second, third = draft(municipality), draft(other_municipality), draft(municipality)
    CertificateRequest.objects.filter(pk=first.pk).update(**{field: value})
    CertificateRequest.objects.filter(pk=second.pk).update(**{field: value})
    with pytest.raises(IntegrityError), transaction.atomic():
        CertificateRequest.objects.filter(pk=third.pk).update(**{field: value})


def test_the_verification_page_looks_in_the_municipality_of_the_issue_number(municipality, other_municipality):
    other_resident = make_resident(other_municipality, "佐藤 一郎")
    theirs = draft(other_municipality)
    CertificateRequest.objects.filter(pk=theirs.pk).update(resident=other_resident)
    number = f"{municipality.code}0000000001"  # our code, but the row is filed under the other town
    IssuedDocument.objects.create(municipality=other_municipality, request=theirs, issue_number=number,
                                  verification_code="ABCDEFGHJKMN", pdf=b"%PDF-1.7", pages=1)
    page = Client().post(reverse("documents:verify", args=[number]), {"verification_code": "ABCDEFGHJKMN"})
    assert page.status_code == 200 and page.context["not_found"]


def test_sole_refuses_a_token_found_in_two_municipalities(municipality, other_municipality):
    ours, theirs = draft(municipality), draft(other_municipality)
    rows = CertificateRequest.objects.filter(pk__in=[ours.pk, theirs.pk])
    assert isinstance(rows, TenantQuerySet)
    assert rows.sole() is None
    assert rows.filter(pk=ours.pk).sole() == ours
    assert rows.filter(pk=-1).sole() is None
