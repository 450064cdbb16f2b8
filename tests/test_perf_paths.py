"""The cheaper paths of the hot actions behave as the ones they replaced: a repeated notice is the
same row and is not sent again; a reception number taken already is drawn again."""

import pytest
from django.core import mail
from django.db import IntegrityError, transaction

from madoguchi.applications import reception
from madoguchi.applications.models import CertificateRequest, RequestEvent, State
from madoguchi.notifications.models import Notice
from madoguchi.notifications.outbox import enqueue_notice
from madoguchi.payments.models import Payment, PaymentStatus, ProviderNotification

from .flow import draft, pay, received, sign

pytestmark = pytest.mark.django_db(transaction=True)


def test_repeated_notice_is_the_same_row_and_sent_once(municipality, resident):
    request = received(municipality, resident)
    first = Notice.objects.get(request=request)
    assert len(mail.outbox) == 1
    with transaction.atomic():
        again = enqueue_notice(request, "received")
        # The refused duplicate did not break the surrounding transaction.
        assert CertificateRequest.objects.filter(pk=request.pk).exists()
    assert [n.pk for n in again] == [first.pk]
    assert Notice.objects.filter(request=request).count() == 1
    assert len(mail.outbox) == 1


def test_transition_keeps_the_fields_the_action_changed(municipality, resident):
    request = received(municipality, resident)
    stored = CertificateRequest.objects.get(pk=request.pk)
    assert stored.state == State.RECEIVED
    assert stored.reception_number and stored.received_at and stored.expected_ship_date
    assert stored.resident_id == resident.pk and stored.delivery_address and stored.match_result


def test_taken_reception_number_is_drawn_again(municipality, resident, monkeypatch):
    first = received(municipality, resident)
    fresh = reception.generate()
    draws = iter([first.reception_number, fresh])
    monkeypatch.setattr(reception, "generate", lambda: next(draws))
    second = received(municipality, resident)
    assert second.state == State.RECEIVED and second.reception_number == fresh
    # The undone attempt left no history entry and no notice behind; the kept one left one of each.
    assert list(RequestEvent.objects.filter(request=second, to_state=State.RECEIVED)
                .values_list("from_state", flat=True)) == [State.AWAITING_PAYMENT]
    assert Notice.objects.filter(request=second).count() == 1
    assert len(mail.outbox) == 2
    assert Payment.objects.get(request=second).status == PaymentStatus.CAPTURED


def test_reception_number_collisions_without_end_fail_and_leave_the_request_unpaid(municipality, resident,
                                                                                  monkeypatch):
    first = received(municipality, resident)
    monkeypatch.setattr(reception, "generate", lambda: first.reception_number)
    request = sign(draft(municipality), resident)
    with pytest.raises(IntegrityError):
        pay(request)
    request.refresh_from_db()
    # Nothing half-done: the notification is not recorded either, so the provider's retry runs it again.
    assert request.state == State.AWAITING_PAYMENT and request.reception_number is None
    assert Payment.objects.get(request=request).status == PaymentStatus.PENDING
    assert not ProviderNotification.objects.filter(payload__order_id=request.payments.get().order_id).exists()


def test_web_request_notice_goes_by_email_only(municipality, resident):
    request = received(municipality, resident)
    assert list(Notice.objects.filter(request=request).values_list("transport", flat=True)) == ["email"]
