"""Issuance history for 開示請求 (個人情報保護法 第76条 開示請求権, 第78条 開示義務).

Who obtained certificates naming a person: the persons on each certificate are recorded when its
content is fixed (approval), the history searches them, a staff review marks what is not disclosed
(第78条第1項 各号 — typically who asked, when that is another person: 第2号), and only a
reviewed case exports as the CSV or PDF the municipality hands over. Every search and export is
written to the audit trail and the access log.
"""

import datetime
import io

from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.applications.models import CertificateRequest, RequestEvent, State
from madoguchi.catalog.models import CertificateType
from madoguchi.registry.models import KosekiMember, Resident

from .chain import canonical_json
from .channels import CHANNELS
from .logs import period_filter
from .models import DisclosureCase, DisclosureItem, IssuedSubject, NonDisclosureReason

ISSUED_STATES = [State.ISSUED, State.MAILED, State.UNDELIVERED, State.COMPLETED]
MAX_ITEMS = 2000


def subjects_of(request: CertificateRequest) -> list[tuple[int | None, str, datetime.date | None]]:
    """(resident id, name, date of birth) of each person the certificate names."""
    from madoguchi.documents.kinds import PersonSelectionError, get_kind, is_kind

    if not is_kind(request.certificate_type):
        return []
    try:
        persons = get_kind(request.certificate_type).persons(request)
    except PersonSelectionError:  # approval stops too; nothing is issued
        return []
    # Residents, or members of a 戸籍 (who may live elsewhere: then no resident).
    return [(p.resident_id if isinstance(p, KosekiMember) else p.pk, p.name, p.date_of_birth) for p in persons]


def record_subjects(request: CertificateRequest) -> None:
    """Replace the recorded subjects of `request` with those of its content now."""
    rows = [IssuedSubject(municipality_id=request.municipality_id, request=request, resident_id=resident_id,
                          name=name[:100], date_of_birth=born)
            for resident_id, name, born in subjects_of(request)]
    with transaction.atomic():
        IssuedSubject.objects.filter(request=request).delete()
        IssuedSubject.objects.bulk_create(rows)


def find_person(municipality, person_number: str) -> Resident | None:
    return Resident.objects.for_municipality(municipality).filter(person_number=person_number).first()


def search(municipality, person: Resident, criteria: dict):
    """Issued requests naming `person` or asked by them, with the time they were issued."""
    issued_at = Subquery(RequestEvent.objects.filter(request=OuterRef("pk"), to_state=State.ISSUED)
                         .order_by("at").values("at")[:1])
    named = IssuedSubject.objects.for_municipality(municipality).filter(resident=person).values("request_id")
    qs = (CertificateRequest.objects.for_municipality(municipality)
          .filter(Q(resident=person) | Q(pk__in=named), state__in=ISSUED_STATES)
          .annotate(issued_at=issued_at).select_related("resident"))
    qs = qs.filter(period_filter("issued_at", criteria.get("date_from"), criteria.get("date_to")))
    if criteria.get("certificate_type"):
        qs = qs.filter(certificate_type=criteria["certificate_type"])
    if criteria.get("channel"):
        qs = qs.filter(channel=criteria["channel"])
    return qs.order_by("issued_at", "id")


def describe(person: Resident, criteria: dict) -> dict:
    return {"person": person.pk,
            "date_from": criteria["date_from"].isoformat() if criteria.get("date_from") else None,
            "date_to": criteria["date_to"].isoformat() if criteria.get("date_to") else None,
            "certificate_type": criteria.get("certificate_type") or None, "channel": criteria.get("channel") or None}


@transaction.atomic
def open_case(municipality, staff, person: Resident, criteria: dict, reference: str) -> DisclosureCase:
    case = DisclosureCase.objects.create(municipality=municipality, resident_id=person.pk, created_by=staff,
                                         criteria=canonical_json(describe(person, criteria)), reference=reference)
    DisclosureItem.objects.bulk_create([
        # Another person's request: who asked is that person's information (第78条第1項第2号) until
        # the reviewer decides otherwise.
        DisclosureItem(municipality=municipality, case=case, request=r, issued_at=r.issued_at,
                       requester_withheld=r.resident_id != person.pk,
                       reason="78-1-2" if r.resident_id != person.pk else "")
        for r in search(municipality, person, criteria)[:MAX_ITEMS]])
    return case


def answer_rows(case: DisclosureCase) -> list[list[str]]:
    """The table handed over: withheld entries and fields show the article, not the content."""
    kinds, channels = dict(CertificateType.choices), dict(CHANNELS)
    reasons = dict(NonDisclosureReason.choices)
    rows = [[_("交付日時"), _("証明書の種類"), _("通数"), _("申請の方法"), _("請求者"), _("受付番号")]]
    for item in case.items.select_related("request__resident"):
        r = item.request
        when = timezone.localtime(item.issued_at).strftime("%Y-%m-%d %H:%M")
        if item.withheld:
            rows.append([when, _("不開示"), "", "", str(reasons.get(item.reason, "")), ""])
            continue
        if r.resident_id == case.resident_id:
            requester = _("本人")
        elif item.requester_withheld:
            requester = _("不開示") + " " + str(reasons.get(item.reason, ""))
        else:
            requester = r.resident.name if r.resident else ""
        rows.append([when, str(kinds.get(r.certificate_type, r.certificate_type)), str(r.copies),
                     str(channels.get(r.channel, r.channel)), requester, r.formatted_reception_number])
    return rows


def answer_pdf(case: DisclosureCase, municipality) -> bytes:
    """The answer as an A4 PDF in the certificate font (names keep their registered 字形)."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    from madoguchi.documents.fonts import certificate_font

    font = certificate_font()
    buffer = io.BytesIO()
    width, height = landscape(A4)
    canvas = Canvas(buffer, pagesize=(width, height), pageCompression=1)
    canvas.setTitle(_("証明書の交付履歴(開示)"))
    widths = [38 * mm, 62 * mm, 14 * mm, 26 * mm, 92 * mm, 40 * mm]
    rows = answer_rows(case)

    def header():
        canvas.setFont(font.name, 14)
        canvas.drawString(15 * mm, height - 18 * mm, font.encode(_("証明書の交付履歴(保有個人情報の開示)")))
        canvas.setFont(font.name, 9)
        resident = Resident.objects.filter(pk=case.resident_id).first()
        line = "{m} {ref} {name}".format(m=municipality.full_name, ref=case.reference,
                                         name=resident.name if resident else "")
        canvas.drawString(15 * mm, height - 25 * mm, font.encode(line))
        return height - 35 * mm

    y = header()
    for index, row in enumerate(rows):
        if y < 15 * mm:
            canvas.showPage()
            y = header()
        canvas.setFont(font.name, 9 if index else 10)
        x = 15 * mm
        for cell, w in zip(row, widths, strict=True):
            text = cell
            while text and font.string_width(font.encode(text), 9) > w - 2 * mm:
                text = text[:-1]
            canvas.drawString(x, y, font.encode(text))
            x += w
        y -= 6 * mm
    canvas.save()
    return buffer.getvalue()
