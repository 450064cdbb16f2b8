"""Unauthenticated requests cannot fill the database: throttles stop writing once over the limit and
expire, unknown payment notifications are counted, LINE payloads are minimised and purged."""

import datetime
import json
import random

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from madoguchi.applications import reception
from madoguchi.core.models import Throttle
from madoguchi.core.throttle import hit, tallies
from madoguchi.line.models import WebhookEvent
from madoguchi.payments.models import ProviderNotification

from .flow import post_notification
from .line_helpers import make_channel, say
from .test_web import status

pytestmark = pytest.mark.django_db(transaction=True)


def random_valid_number() -> str:
    while True:
        number = "".join(random.choice("0123456789") for _ in range(16))
        if reception.is_valid(number):
            return number


def test_status_lookups_from_one_address_write_a_bounded_number_of_rows(municipality):
    client = Client(REMOTE_ADDR="203.0.113.5")
    for _ in range(200):
        status(client, municipality.code, random_valid_number(), "1999-01-01")
    # One row for the address and one per number looked up before the address's limit was reached.
    assert Throttle.objects.count() <= 1 + 10


def test_document_verification_lookups_write_a_bounded_number_of_rows(municipality):
    client = Client(REMOTE_ADDR="203.0.113.5")
    for n in range(60):
        client.post(reverse("documents:verify", args=[f"{n:016d}"]),
                    {"verification_code": "ABCD-EFGH-IJKL"})
    assert Throttle.objects.count() <= 1 + 10


def test_signed_notifications_for_orders_we_never_made_are_counted_not_stored(municipality):
    from madoguchi.payments.contrib.sandbox import gateway

    for n in range(25):
        body = json.dumps({"event_id": f"evt_{n}", "order_id": f"MD{n:024d}", "charge_id": f"ch_{n}",
                           "status": "captured", "amount": 410}).encode()
        assert post_notification(body, gateway.sign_notification(body)).status_code == 200
    assert not ProviderNotification.objects.exists()
    assert tallies("payments:")["payments:unknown_notification:sandbox"] == 25


def test_housekeeping_deletes_idle_counters(municipality):
    hit("status:ip:203.0.113.5", 10, datetime.timedelta(minutes=15))
    hit("status:ip:203.0.113.6", 10, datetime.timedelta(minutes=15))
    Throttle.objects.filter(key__endswith=".5").update(window_start=timezone.now() - datetime.timedelta(days=2))
    call_command("housekeeping")
    assert list(Throttle.objects.values_list("key", flat=True)) == ["status:ip:203.0.113.6"]


@pytest.fixture
def channel(live_server, settings, municipality):
    from madoguchi.line.emulator.views import PLATFORM

    base = live_server.url + "/line-emulator"
    settings.LINE_API_BASE_URL = settings.LINE_API_DATA_BASE_URL = base
    settings.LINE_LIFF_URL = base + "/liff"
    PLATFORM.reset()
    return make_channel(municipality)


def test_line_payloads_are_minimised_once_handled_and_purged_after_retention(channel, municipality, settings):
    user = "U" + "c" * 32
    assert say(municipality.code, user, "山田太郎 本籍は東京都窓口市本町一丁目").status_code == 200
    event = WebhookEvent.objects.get()
    assert event.processed_at is not None
    stored = json.dumps(event.payload, ensure_ascii=False)
    assert "山田太郎" not in stored and "本籍" not in stored and user not in stored and "replyToken" not in stored
    assert event.payload["webhookEventId"] == event.event_id and event.payload["type"] == "message"
    WebhookEvent.objects.update(processed_at=timezone.now() - settings.LINE_EVENT_RETENTION
                                - datetime.timedelta(hours=1))
    call_command("housekeeping")
    assert not WebhookEvent.objects.exists()
