"""BENCH certificate_pdf_render: 住民票の写し pages per second, self and household scope mixed."""

import time

from madoguchi.bench import demo


def render(requests, rounds: int) -> float:
    from django.utils import timezone

    from madoguchi.documents.render import render_residence_certificate

    render_residence_certificate(requests[0], "0" * 16, "WARMUPCODE00", timezone.localdate())
    pages = 0
    started = time.perf_counter()
    for i in range(rounds):
        request = requests[i % len(requests)]
        pages += render_residence_certificate(request, f"{i:016d}", "ABCDEFGHJKMN", timezone.localdate()).pages
    return pages / (time.perf_counter() - started)


def run(report) -> None:
    from madoguchi.applications.models import CertificateRequest
    from madoguchi.registry.models import Resident

    municipality, _clerk = demo()
    scopes = [{"scope": "self", "show_relationship": False, "show_honseki": False, "members": ""},
              {"scope": "household", "show_relationship": True, "show_honseki": True, "members": ""}]
    heads = Resident.objects.for_municipality(municipality).filter(relationship="世帯主").select_related(
        "household")[:20]
    samples = [CertificateRequest(municipality=municipality, certificate_type="residence_certificate",
                                  options=scopes[i % 2], resident=resident)
               for i, resident in enumerate(heads)]
    report("certificate_pdf_render", render(samples, 300), "pages/s")
