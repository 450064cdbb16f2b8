"""BENCH payment_webhook: signed notifications through our endpoint → capture, 受付 and an outbox
notice, a third of them replays of an earlier notification (answered `duplicate`).

Requests are signed and their checkouts created before the clock starts; the clock covers only
the notifications (signature check, event-id dedup, capture, transition, outbox row). Tasks go to
the database queue as in production: e-mail delivery is the worker's job, not the webhook's.
"""

import random
import time

from madoguchi.bench import awaiting_payment, demo

UNIQUE = 300


def _awaiting(municipality, residents, count: int):
    from madoguchi.payments.contrib.sandbox import gateway

    return [gateway.capture(awaiting_payment(municipality, residents[i % len(residents)])
                            .payments.get().provider_payment_id) for i in range(count)]


def run(report) -> None:
    from django.test import Client, override_settings
    from django.urls import reverse

    from madoguchi.applications.models import CertificateRequest, State
    from madoguchi.identity.contrib.sandbox import card as cards
    from madoguchi.notifications.models import Notice
    from madoguchi.payments.contrib.sandbox import gateway
    from madoguchi.registry.models import Resident

    municipality, _clerk = demo()
    adults = list(Resident.objects.for_municipality(municipality).filter(date_of_birth__year__lt=1990,
                                                                         support_measure=False)
                  .select_related("household").order_by("-id")[:10])
    for resident in adults:
        if not hasattr(resident, "sandbox_card"):
            cards.issue_card(resident)
    residents = list(Resident.objects.filter(pk__in=[r.pk for r in adults]).select_related("household",
                                                                                            "sandbox_card"))
    charges = _awaiting(municipality, residents, UNIQUE)
    bodies = [gateway.notification_body(charge) for charge in charges]
    rng = random.Random(4)
    stream = bodies + [rng.choice(bodies) for _ in range(UNIQUE // 2)]  # a third are replays
    rng.shuffle(stream)
    signed = [(body, gateway.sign_notification(body)) for body in stream]
    client = Client()
    url = reverse("payments:notify", args=["sandbox"])
    notices_before = Notice.objects.count()
    from django.conf import settings

    database_queue = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": list(settings.TASK_QUEUES)}}
    with override_settings(TASKS=database_queue):
        started = time.perf_counter()
        for body, signature in signed:
            response = client.post(url, data=body, content_type="application/json",
                                   headers={"X-Sandbox-Signature": signature})
            assert response.status_code == 200, response.content
        elapsed = time.perf_counter() - started
    order_ids = [charge.merchant_order_id for charge in charges]
    assert CertificateRequest.objects.filter(payments__order_id__in=order_ids,
                                             state=State.RECEIVED).count() == UNIQUE
    assert Notice.objects.count() - notices_before == UNIQUE
    report("payment_webhook", len(signed) / elapsed, "notifications/s")
