"""BENCH request_e2e_throughput: the full flow from draft to mailed, sequentially.

Virtual cards are issued before the clock starts: RSA key generation is the card factory's work,
not the request's.
"""

import time

from madoguchi.bench import awaiting_payment, demo


def e2e(municipality, residents, clerk, count: int) -> float:
    from django.test import Client
    from django.urls import reverse

    from madoguchi.applications import actions
    from madoguchi.payments.contrib.sandbox import gateway

    client = Client()
    started = time.perf_counter()
    for i in range(count):
        request = awaiting_payment(municipality, residents[i % len(residents)])
        payment = request.payments.get()
        body = gateway.notification_body(gateway.capture(payment.provider_payment_id))
        response = client.post(reverse("payments:notify", args=["sandbox"]), data=body,
                               content_type="application/json",
                               headers={"X-Sandbox-Signature": gateway.sign_notification(body)})
        assert response.status_code == 200
        request.refresh_from_db()
        actions.approve(request, clerk)
        actions.record_printed([request], clerk)
        actions.mark_mailed(request, clerk, f"TRK{i:08d}")
    return count / (time.perf_counter() - started)


def run(report) -> None:
    from madoguchi.identity.contrib.sandbox import card as cards
    from madoguchi.registry.models import Resident

    municipality, clerk = demo()
    adults = [r for r in Resident.objects.for_municipality(municipality).select_related("household")
              .order_by("id") if r.date_of_birth.year < 1990 and not r.support_measure][:20]
    for resident in adults:
        cards.issue_card(resident)
    residents = list(Resident.objects.filter(pk__in=[r.pk for r in adults])
                     .select_related("household", "sandbox_card"))
    e2e(municipality, residents[:2], clerk, 3)  # warm-up: font, templates, queries
    report("request_e2e_throughput", e2e(municipality, residents, clerk, 100), "requests/s")
