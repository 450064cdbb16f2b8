"""BENCH certificate_pdf_render: pages per second over 1,000 certificates of every type, mixed.
BENCH certificate_pdf_render_weasyprint_ratio: our 住民票 pages per second divided by WeasyPrint's
  (a dev dependency, with Debian's Pango) rendering the same content as an HTML/CSS page in IPAmj明朝,
  in the same run.
BENCH print_batch_1000: seconds to build and sign the printer's PDF of 1,000 rendered certificates."""

import html
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


RATIO_ROUNDS = 40


def _as_html(content, font_path: str) -> str:
    """The certificate's content as one HTML/CSS page: the same title, rows, entries and closing."""
    from madoguchi.documents.layout import Heading, Impression

    def cell(label: str, value: str, kana: str = "") -> str:
        ruby = f"<div class='kana'>{html.escape(kana)}</div>" if kana else ""
        return f"<th>{html.escape(label)}</th><td>{ruby}{html.escape(value)}</td>"

    parts = [f"<h1>{html.escape(content.title)}</h1><table>"]
    for row in content.header_rows:
        parts.append("<tr>" + "".join(cell(f.label, f.value, f.kana) for f in row) + "</tr>")
    parts.append("</table>")
    for entry in content.entries:
        if isinstance(entry, Heading):
            parts.append(f"<h2>{html.escape(entry.text)}</h2>")
        elif isinstance(entry, Impression):
            parts.append("<div class='seal'></div>")
        else:
            parts.append("<table>")
            for row in entry.rows:
                parts.append("<tr>" + "".join(cell("".join(c.label_lines), "".join(c.lines), c.kana)
                                              for c in row.cells) + "</tr>")
            parts.append("</table>")
    parts.append(f"<p class='closing'>以下余白</p><p>{html.escape(content.attestation)}</p>")
    style = (f"@font-face {{ font-family: 'IPAmjMincho'; src: url('file://{font_path}'); }}"
             "@page { size: A4; margin: 15mm; } body { font-family: 'IPAmjMincho'; font-size: 10pt; }"
             "h1 { text-align: center; font-size: 18pt; letter-spacing: 0.5em; } h2 { font-size: 11pt; }"
             "table { width: 100%; border-collapse: collapse; margin-bottom: 3mm; }"
             "th, td { border: 0.5pt solid #000; padding: 1mm 2mm; vertical-align: top; }"
             "th { width: 28mm; background: #eee; font-weight: normal; } .kana { font-size: 6pt; }"
             ".seal { width: 20mm; height: 20mm; border: 0.5pt solid #000; }")
    return f"<!doctype html><html lang='ja'><head><meta charset='utf-8'><style>{style}</style></head>" \
           f"<body>{''.join(parts)}</body></html>"


def weasyprint_ratio(requests) -> float:
    """Ours / WeasyPrint in pages per second, for the same 住民票 content, alternating rounds."""
    from django.conf import settings
    from django.utils import timezone
    from weasyprint import HTML

    from madoguchi.catalog.models import CertificateType
    from madoguchi.documents.kinds import get_kind
    from madoguchi.documents.services import render_certificate

    request = next(r for r in requests if r.certificate_type == CertificateType.RESIDENCE)
    page = _as_html(get_kind(request.certificate_type).content(request), str(settings.CERTIFICATE_FONT))
    HTML(string=page).write_pdf()  # warm-up: font loading
    ours = theirs = 0.0
    our_pages = their_pages = 0
    for i in range(RATIO_ROUNDS):
        started = time.perf_counter()
        our_pages += render_certificate(request, f"{i:016d}", "ABCDEFGHJKMN", timezone.localdate()).pages
        ours += time.perf_counter() - started
        started = time.perf_counter()
        document = HTML(string=page).render()  # layout, then the PDF: the same work as ours
        document.write_pdf()
        their_pages += len(document.pages)
        theirs += time.perf_counter() - started
    return (our_pages / ours) / (their_pages / theirs)


def print_batch(municipality, rendered: list[tuple]) -> float:
    """B-LT signatures with timestamps from the sandbox TSA served locally (`bench.local_tsa`)."""
    from madoguchi.documents.print_batch import render_print_batch
    from madoguchi.documents.signing import ensure_signing_key, sign_pdf

    ensure_signing_key(municipality)
    sign_pdf(render_print_batch(rendered[:2]), municipality)  # warm-up: key decryption, pyhanko imports
    started = time.perf_counter()
    sign_pdf(render_print_batch(rendered), municipality)
    return time.perf_counter() - started


def run(report) -> None:
    municipality, _clerk = demo()
    requests = sample_requests(municipality)
    pages_per_second, rendered = render(requests, DOCUMENTS)
    report("certificate_pdf_render", pages_per_second, "pages/s")
    report("certificate_pdf_render_weasyprint_ratio", weasyprint_ratio(requests), "x")
    report("print_batch_1000", print_batch(municipality, rendered), "s")
