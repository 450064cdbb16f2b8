"""BENCH request_e2e_throughput: the full flow from draft to mailed, sequentially.

Virtual cards are issued before the clock starts: RSA key generation is the card factory's work,
not the request's.
"""

import time

from madoguchi.bench import demo


def e2e(municipality, residents, clerk, count: int) -> float:
    from django.test import Client
    from django.urls import reverse

    from madoguchi.applications import actions
    from madoguchi.identity.contrib.sandbox import card as cards
    from madoguchi.payments.contrib.sandbox import gateway
    from madoguchi.payments.views import notify_url

    client = Client()
    options = {"scope": "self", "members": "", "show_relationship": True, "show_honseki": False}
    started = time.perf_counter()
    for i in range(count):
        resident = residents[i % len(residents)]
        request = actions.create_draft(municipality, certificate_type="residence_certificate", options=options,
                                       copies=1, purpose="bank", purpose_detail="", postage_class="regular",
                                       notice_email="resident@example.jp")
        challenge = actions.start_signing(request)
        certificate, signature = cards.sign(resident.sandbox_card, cards.DEMO_PIN,
                                            actions.canonical_bytes(request, challenge.nonce))
        actions.record_signature(request, nonce=challenge.nonce, certificate=certificate, signature=signature,
                                 provider="sandbox")
        actions.start_payment(request, "http://127.0.0.1:9/return", notify_url())
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
