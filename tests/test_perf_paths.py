"""The cheaper paths of the hot actions behave as the ones they replaced: a repeated notice is the
same row and is not sent again; a reception number taken already is drawn again."""

import pytest
from django.core import mail
from django.db import transaction

from madoguchi.applications.models import CertificateRequest, State
from madoguchi.notifications.models import Notice
from madoguchi.notifications.outbox import enqueue_notice

from .flow import received

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
