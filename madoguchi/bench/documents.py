"""BENCH certificate_pdf_render: pages per second over 1,000 certificates of every type, mixed.
BENCH print_batch_1000: seconds to build and sign the printer's PDF of 1,000 rendered certificates."""

import time

from madoguchi.bench import demo

DOCUMENTS = 1000


def sample_requests(municipality) -> list:
    """Requests of every type for residents of the demo replica, as approve would render them."""
    from madoguchi.applications.models import CertificateRequest
    from madoguchi.catalog.models import CertificateType
    from madoguchi.registry.models import Koseki, Resident, SealRegistration, TaxRecord

    def request(resident, certificate_type, options, i):
        return CertificateRequest(municipality=municipality, certificate_type=certificate_type, options=options,
                                  resident=resident, copies=1, reception_number=f"{i:016d}",
                                  delivery_name=resident.name, delivery_postal_code=resident.household.postal_code,
                                  delivery_address=resident.address)

    heads = list(Resident.objects.for_municipality(municipality).filter(relationship="世帯主")
                 .select_related("household").order_by("id")[:20])
    seals = list(SealRegistration.objects.for_municipality(municipality).select_related("resident__household")
                 .order_by("id")[:20])
    taxes = list(TaxRecord.objects.for_municipality(municipality).filter(fiscal_year=2026)
                 .select_related("resident__household").order_by("id")[:20])
    koseki = [(k, k.members.filter(resident__isnull=False).select_related("resident__household").first())
              for k in Koseki.objects.for_municipality(municipality).order_by("id")[:40]]
    koseki = [(k, m) for k, m in koseki if m is not None][:20]
    household = {"scope": "household", "members": "", "show_relationship": True, "show_honseki": True}
    self_only = {"scope": "self", "members": "", "show_relationship": False, "show_honseki": False}
    samples = []
    for i in range(20):
        k, member = koseki[i % len(koseki)]
        where = {"honseki": k.honseki, "koseki_head": k.head_name}
        samples += [
            request(heads[i], CertificateType.RESIDENCE, household if i % 2 else self_only, len(samples)),
            request(heads[i], CertificateType.RESIDENCE_ENTRY, self_only, len(samples) + 1),
            request(seals[i].resident, CertificateType.SEAL, {}, len(samples) + 2),
            request(member.resident, CertificateType.KOSEKI_FULL, where, len(samples) + 3),
            request(member.resident, CertificateType.KOSEKI_INDIVIDUAL, where, len(samples) + 4),
            request(member.resident, CertificateType.KOSEKI_FUHYO, where, len(samples) + 5),
            request(taxes[i].resident, CertificateType.TAX, {"fiscal_year": "2026"}, len(samples) + 6),
        ]
    return samples


def render(requests, count: int) -> tuple[float, list[tuple]]:
    from django.utils import timezone

    from madoguchi.documents.services import render_certificate

    render_certificate(requests[0], "0" * 16, "WARMUPCODE00", timezone.localdate())
    pages, rendered = 0, []
    started = time.perf_counter()
    for i in range(count):
        request = requests[i % len(requests)]
        document = render_certificate(request, f"{i:016d}", "ABCDEFGHJKMN", timezone.localdate())
        pages += document.pages
        rendered.append((request, document.pdf))
    return pages / (time.perf_counter() - started), rendered


def print_batch(municipality, rendered: list[tuple]) -> float:
    """B-LT signatures with timestamps from the sandbox TSA, served locally as in the demo (the bench's
    site URL answers nothing)."""
    from django.conf import settings

    from madoguchi.documents.print_batch import render_print_batch
    from madoguchi.documents.signing import ensure_signing_key, sign_pdf
    from madoguchi.documents.tsa import serve

    server = serve("127.0.0.1", 0)
    settings.DOCUMENT_TSA_URL = f"http://127.0.0.1:{server.server_address[1]}/"
    ensure_signing_key(municipality)
    sign_pdf(render_print_batch(rendered[:2]), municipality)  # warm-up: key decryption, pyhanko imports
    started = time.perf_counter()
    sign_pdf(render_print_batch(rendered), municipality)
    elapsed = time.perf_counter() - started
    server.shutdown()
    return elapsed


def run(report) -> None:
    municipality, _clerk = demo()
    pages_per_second, rendered = render(sample_requests(municipality), DOCUMENTS)
    report("certificate_pdf_render", pages_per_second, "pages/s")
    report("print_batch_1000", print_batch(municipality, rendered), "s")
