"""`make bench`: prints `BENCH <name> <value> <unit>` lines.

Runs on the embedded default (a fresh SQLite file under .bench/) unless DATABASE_URL is set.
Timings cover our code end to end; RSA key generation for the virtual cards (the card's factory,
not the request) is done before the clock starts.
"""

import os
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent / ".bench"


def setup_django() -> None:
    BENCH_DIR.mkdir(exist_ok=True)
    db = BENCH_DIR / "bench.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{db}")
    os.environ.setdefault("MADOGUCHI_TASK_BACKEND", "django_tasks.backends.immediate.ImmediateBackend")
    os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
    os.environ.setdefault("MADOGUCHI_SITE_URL", "http://127.0.0.1:9")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def report(name: str, value: float, unit: str) -> None:
    print(f"BENCH {name} {value:.1f} {unit}", flush=True)


def bench_request_e2e(municipality, residents, clerk, count: int) -> float:
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


def bench_render(requests, rounds: int) -> float:
    from django.utils import timezone

    from madoguchi.documents.render import render_residence_certificate

    render_residence_certificate(requests[0], "0" * 16, "WARMUPCODE00", timezone.localdate())
    pages = 0
    started = time.perf_counter()
    for i in range(rounds):
        request = requests[i % len(requests)]
        pages += render_residence_certificate(request, f"{i:016d}", "ABCDEFGHJKMN", timezone.localdate()).pages
    return pages / (time.perf_counter() - started)


def main() -> int:
    setup_django()
    from madoguchi.applications.models import CertificateRequest
    from madoguchi.identity.contrib.sandbox import card as cards
    from madoguchi.registry.models import Resident
    from madoguchi.registry.synthetic import generate_replica
    from madoguchi.tenancy.models import Role, Staff
    from madoguchi.tenancy.onboarding import create_municipality

    municipality = create_municipality(code="139998", name="窓口市", prefecture="東京都",
                                       certifier_name="窓口 一郎", contact="市民課")
    generate_replica(municipality, count=1000)
    clerk = Staff.objects.create(username="bench-clerk", municipality=municipality, role=Role.CLERK)
    adults = [r for r in Resident.objects.for_municipality(municipality).select_related("household")
              .order_by("id") if r.date_of_birth.year < 1990 and not r.support_measure][:20]
    for resident in adults:
        cards.issue_card(resident)
    residents = list(Resident.objects.filter(pk__in=[r.pk for r in adults]).select_related("household",
                                                                                          "sandbox_card"))
    bench_request_e2e(municipality, residents[:2], clerk, 3)  # warm-up: font, templates, queries
    report("request_e2e_throughput", bench_request_e2e(municipality, residents, clerk, 100), "requests/s")

    scopes = [{"scope": "self", "show_relationship": False, "show_honseki": False, "members": ""},
              {"scope": "household", "show_relationship": True, "show_honseki": True, "members": ""}]
    samples = []
    for i, request in enumerate(CertificateRequest.objects.select_related("resident__household", "municipality")
                                .order_by("id")[:20]):
        request.options = scopes[i % 2]
        samples.append(request)
    report("certificate_pdf_render", bench_render(samples, 300), "pages/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
