"""Staff pages of the operations area: logs (auditors and managers), the issuance history for
開示請求, statistics and KPIs. The back office mounts them behind its sign-in and permissions;
every search and export here is itself written to the audit trail."""

import datetime
import json
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from madoguchi.catalog.models import CertificateType, FeeChannel
from madoguchi.registry.models import Resident

from . import audit, campaign, charts, disclosure, exports, kiosk, kpi, logs, stats
from .audit import log_access
from .channels import CHANNELS
from .forms import (
    ACCESS_ACTIONS,
    CounterRecordForm,
    DisclosureSearchForm,
    KioskReportForm,
    KpiTargetForm,
    LogSearchForm,
    StatisticsForm,
)
from .models import (
    AuditAction,
    CounterRecord,
    DisclosureCase,
    DisclosureItem,
    KioskReport,
    KpiTarget,
    Log,
    Metric,
    NonDisclosureReason,
)

LOG_PAGE = 200
EXPORT_LIMIT = 100_000


def csv_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def log_search(http_request):
    """Search the audit trail or the access log by period, staff, person and action; CSV export."""
    municipality = http_request.user.municipality
    form = LogSearchForm(http_request.GET or None, municipality=municipality)
    rows, persons, searched = [], [], False
    if form.is_bound and form.is_valid():
        searched = True
        criteria = form.cleaned_data
        qs, persons = logs.search(municipality, criteria)
        recorded = logs.describe(criteria, persons)
        if http_request.GET.get("export") == "csv":
            selected = list(qs[:EXPORT_LIMIT])
            audit.record(AuditAction.LOG_EXPORTED, http_request=http_request,
                         after=dict(recorded, rows=len(selected)))
            stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
            return csv_response(logs.to_csv(logs.csv_rows(criteria["log"], selected)),
                                f"{criteria['log']}-log-{municipality.code}-{stamp}.csv")
        rows = list(qs[:LOG_PAGE + 1])
        audit.record(AuditAction.LOG_SEARCHED, http_request=http_request,
                     after=dict(recorded, rows=min(len(rows), LOG_PAGE)))
    log = form.cleaned_data.get("log", Log.AUDIT) if searched else Log.AUDIT
    action_labels = dict(AuditAction.choices) | dict(ACCESS_ACTIONS)
    return render(http_request, "operations/logs.html", {
        "form": form, "searched": searched, "log": log, "rows": [
            {"row": r, "action": action_labels.get(r.action, r.action),
             "before": _pretty(getattr(r, "before", "")), "after": _pretty(getattr(r, "after", ""))}
            for r in rows[:LOG_PAGE]],
        "more": len(rows) > LOG_PAGE, "page_size": LOG_PAGE, "persons_matched": len(persons),
        "query": http_request.GET.urlencode(),
    })


def _pretty(text: str) -> str:
    if not text:
        return ""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


# --- 開示請求 ------------------------------------------------------------------------------------

def disclosure_search(http_request):
    """Find the certificates issued that name a person; open a case from the result."""
    municipality = http_request.user.municipality
    data = http_request.POST if http_request.method == "POST" else (http_request.GET or None)
    form = DisclosureSearchForm(data)
    results, person = None, None
    if form.is_bound and form.is_valid():
        criteria = form.cleaned_data
        person = disclosure.find_person(municipality, criteria["person_number"])
        if person is None:
            audit.record(AuditAction.DISCLOSURE_SEARCHED, http_request=http_request,
                         after={"person": None, "found": 0})
            form.add_error("person_number", _("この宛名番号の住民は見つかりません。"))
        elif http_request.method == "POST":
            case = disclosure.open_case(municipality, http_request.user, person, criteria, criteria["reference"])
            audit.record(AuditAction.DISCLOSURE_SEARCHED, http_request=http_request, resident=person,
                         target=("operations.disclosurecase", case.pk, case.reference),
                         after=dict(disclosure.describe(person, criteria), items=case.items.count()))
            return redirect("operations_office:disclosure_case", case_id=case.pk)
        else:
            results = list(disclosure.search(municipality, person, criteria)[:disclosure.MAX_ITEMS])
            audit.record(AuditAction.DISCLOSURE_SEARCHED, http_request=http_request, resident=person,
                         after=dict(disclosure.describe(person, criteria), found=len(results)))
            log_access(http_request, "view_disclosure", resident=person)
    return render(http_request, "operations/disclosure_search.html", {
        "form": form, "results": results, "person": person,
        "kinds": dict(CertificateType.choices), "channels": dict(CHANNELS),
        "cases": DisclosureCase.objects.for_municipality(municipality)[:20]})


def _case(http_request, case_id) -> DisclosureCase:
    return get_object_or_404(DisclosureCase.objects.for_municipality(http_request.user.municipality), pk=case_id)


def disclosure_case(http_request, case_id):
    """The review: the reviewer marks each entry, or who asked for it, as not disclosed, with the
    article of 第78条 that applies; saving with 確定 makes the case exportable."""
    case = _case(http_request, case_id)
    items = list(case.items.select_related("request__resident"))
    errors = []
    if http_request.method == "POST":
        before = {i.pk: [i.withheld, i.requester_withheld, i.reason] for i in items}
        reasons = set(NonDisclosureReason.values)
        for item in items:
            item.withheld = http_request.POST.get(f"withheld_{item.pk}") == "1"
            item.requester_withheld = http_request.POST.get(f"requester_{item.pk}") == "1"
            reason = http_request.POST.get(f"reason_{item.pk}", "")
            item.reason = reason if reason in reasons else ""
            if (item.withheld or item.requester_withheld) and not item.reason:
                errors.append(_("受付番号 {n}: 不開示とする根拠(第78条の号)を選んでください。").format(
                    n=item.request.formatted_reception_number))
        if not errors:
            with transaction.atomic():
                DisclosureItem.objects.bulk_update(items, ["withheld", "requester_withheld", "reason"])
                case.reviewed_by, case.reviewed_at = http_request.user, timezone.now()
                case.save(update_fields=["reviewed_by", "reviewed_at"])
                audit.record(AuditAction.DISCLOSURE_REVIEWED, http_request=http_request,
                             target=("operations.disclosurecase", case.pk, case.reference),
                             resident_id=case.resident_id,
                             before={str(k): v for k, v in before.items()},
                             after={str(i.pk): [i.withheld, i.requester_withheld, i.reason] for i in items})
            messages.success(http_request, _("不開示の判断を確定しました。"))
            return redirect("operations_office:disclosure_case", case_id=case.pk)
    log_access(http_request, "view_disclosure", resident=Resident.objects.filter(pk=case.resident_id).first())
    return render(http_request, "operations/disclosure_case.html", {
        "case": case, "items": items, "errors": errors, "reasons": NonDisclosureReason.choices,
        "kinds": dict(CertificateType.choices), "channels": dict(CHANNELS),
        "person": Resident.objects.filter(pk=case.resident_id).first()})


def disclosure_export(http_request, case_id, fmt):
    if fmt not in ("csv", "pdf"):
        raise Http404
    case = _case(http_request, case_id)
    if case.reviewed_at is None:
        messages.error(http_request, _("不開示の判断を確定してから出力してください。"))
        return redirect("operations_office:disclosure_case", case_id=case.pk)
    audit.record(AuditAction.DISCLOSURE_EXPORTED, http_request=http_request,
                 target=("operations.disclosurecase", case.pk, case.reference), resident_id=case.resident_id,
                 after={"format": fmt, "items": case.items.count()})
    name = f"disclosure-{case.municipality.code}-{case.pk}"
    if fmt == "pdf":
        response = HttpResponse(disclosure.answer_pdf(case, case.municipality), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
        response["Cache-Control"] = "no-store"
        return response
    return csv_response(logs.to_csv(disclosure.answer_rows(case)), f"{name}.csv")


# --- statistics ------------------------------------------------------------------------------------

@dataclass
class Section:
    title: str
    headers: list[str]
    rows: list[list]
    chart: str = ""


def _sections(data: dict) -> list[Section]:
    kinds, channels = dict(CertificateType.choices), dict(CHANNELS)
    metrics = dict(Metric.choices)
    hour_rows = [[_("{h}時台").format(h=h), n] for h, n in data["by_hour"]]
    weekday_rows = [[_(w) + _("曜日"), n] for w, n in data["by_weekday"]]
    office_rows = [[_("開庁時間内") if inside else _("開庁時間外"), n] for inside, n in data["office_hours"]]
    area_rows = [[a or _("不明"), n] for a, n in data["by_area"]]
    kind_rows = [[str(kinds.get(k, k)), r, i, c] for k, r, i, c in data["by_kind"]]
    channel_rows = [[str(channels.get(k, k)), r, i, c] for k, r, i, c in data["by_channel"]]
    outcome_rows = [[str(metrics.get(m, m)), reason, n, c] for m, reason, n, c in data["outcomes"]]
    money_rows = [list(row) for row in data["money"]]
    return [
        Section(_("時間帯別の受付件数"), [_("時間帯"), _("件数")], hour_rows,
                charts.bar_chart(_("時間帯別の受付件数"), hour_rows)),
        Section(_("曜日別の受付件数"), [_("曜日"), _("件数")], weekday_rows,
                charts.bar_chart(_("曜日別の受付件数"), weekday_rows)),
        Section(_("開庁時間内外の受付件数"), [_("区分"), _("件数")], office_rows,
                charts.bar_chart(_("開庁時間内外の受付件数"), office_rows)),
        Section(_("地区別(町丁目)の受付件数"), [_("地区"), _("件数")], area_rows,
                charts.bar_chart(_("地区別(町丁目)の受付件数"), area_rows[:20])),
        Section(_("証明書の種類別"), [_("種類"), _("受付件数"), _("交付件数"), _("交付通数")], kind_rows,
                charts.bar_chart(_("証明書の種類別の交付通数"), [[r[0], r[3]] for r in kind_rows], unit="通",
                                 label_width=220)),
        Section(_("申請の方法別"), [_("方法"), _("受付件数"), _("交付件数"), _("交付通数")], channel_rows,
                charts.bar_chart(_("申請の方法別の受付件数"), [[r[0], r[1]] for r in channel_rows])),
        Section(_("結果(理由コード別)"), [_("結果"), _("理由コード"), _("件数"), _("通数")], outcome_rows),
        Section(_("月別の手数料・郵便料(円)"), [_("月"), _("手数料"), _("郵便料"), _("返金"), _("差引")], money_rows,
                charts.bar_chart(_("月別の収入(差引)"), [[r[0], r[4]] for r in money_rows], unit="円")),
    ]


def _default_period() -> dict:
    today = timezone.localdate()
    start = (today.replace(day=1) - datetime.timedelta(days=335)).replace(day=1)
    return {"date_from": start.isoformat(), "date_to": today.isoformat()}


def statistics(http_request):
    municipality = http_request.user.municipality
    form = StatisticsForm(http_request.GET or _default_period())
    sections, criteria = [], None
    if form.is_valid():
        criteria = form.cleaned_data
        export = http_request.GET.get("export", "")
        if export == "opendata":
            rows = stats.open_data_rows(municipality, criteria)
            _record_export(http_request, criteria, export, len(rows))
            header = [_("地方公共団体コード"), _("年月"), _("証明書の種類"), _("申請の方法"), _("区分"), _("件数"),
                      _("通数")]
            return csv_response(logs.to_csv([header, *rows]), f"opendata-certificates-{municipality.code}.csv")
        sections = _sections(stats.report(municipality, criteria))
        stamp = f"{municipality.code}-{criteria['date_from'] or ''}-{criteria['date_to'] or ''}"
        if export == "csv":
            _record_export(http_request, criteria, export, sum(len(s.rows) for s in sections))
            rows = []
            for section in sections:
                rows += [[section.title], section.headers, *section.rows, []]
            return csv_response(logs.to_csv(rows), f"statistics-{stamp}.csv")
        if export == "xlsx":
            _record_export(http_request, criteria, export, sum(len(s.rows) for s in sections))
            response = HttpResponse(exports.workbook(sections), content_type=exports.XLSX)
            response["Content-Disposition"] = f'attachment; filename="statistics-{stamp}.xlsx"'
            response["Cache-Control"] = "no-store"
            return response
    return render(http_request, "operations/statistics.html", {
        "form": form, "sections": sections, "query": http_request.GET.urlencode() or _urlencode(_default_period())})


def _urlencode(data: dict) -> str:
    from urllib.parse import urlencode

    return urlencode(data)


def _record_export(http_request, criteria: dict, fmt: str, rows: int) -> None:
    audit.record(AuditAction.STATISTICS_EXPORTED, http_request=http_request, after={
        "format": fmt, "rows": rows, "date_from": str(criteria.get("date_from") or ""),
        "date_to": str(criteria.get("date_to") or ""), "certificate_type": criteria.get("certificate_type") or "",
        "channel": criteria.get("channel") or ""})


# --- every channel counted -------------------------------------------------------------------------

def counter_record(http_request):
    """Register a 窓口 or 郵送 request for the statistics (clerks and managers; no personal data)."""
    municipality = http_request.user.municipality
    form = CounterRecordForm(http_request.POST or None,
                             initial={"at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")})
    if http_request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with transaction.atomic():
            record = CounterRecord.objects.create(municipality=municipality, registered_by=http_request.user,
                                                  **data)
            stats.count(municipality, stats.counter_facts(record))
            audit.record(AuditAction.COUNTER_REQUEST_REGISTERED, http_request=http_request,
                         target=("operations.counterrecord", record.pk, record.get_channel_display()),
                         after={"channel": record.channel, "certificate_type": record.certificate_type,
                                "copies": record.copies, "fee": record.fee, "postage": record.postage,
                                "at": record.at.isoformat()})
        messages.success(http_request, _("登録しました。"))
        return redirect("operations_office:counter")
    recent = CounterRecord.objects.for_municipality(municipality).order_by("-created_at")[:20]
    return render(http_request, "operations/counter.html", {"form": form, "recent": recent,
                                                            "kinds": dict(CertificateType.choices)})


def kiosk_import(http_request):
    """Import the 証明書交付センター's daily issuance report (managers)."""
    municipality = http_request.user.municipality
    form = KioskReportForm(http_request.POST or None, http_request.FILES or None)
    if http_request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["report"]
        try:
            if upload.size > kiosk.MAX_BYTES:
                raise kiosk.ReportError(_("ファイルが大きすぎます(5MBまで)。"))
            report = kiosk.import_report(upload.read(), municipality, http_request.user)
        except kiosk.ReportError as exc:
            form.add_error("report", str(exc))
        else:
            audit.record(AuditAction.ISSUANCE_REPORT_IMPORTED, http_request=http_request,
                         target=("operations.kioskreport", report.pk, report.report_day.isoformat()),
                         after={"rows": report.rows, "sha256": report.sha256})
            messages.success(http_request, _("{day}の交付実績{n}件を取り込みました。").format(
                day=report.report_day.isoformat(), n=report.rows))
            return redirect("operations_office:kiosk")
    reports = KioskReport.objects.for_municipality(municipality).order_by("-report_day")[:30]
    return render(http_request, "operations/kiosk.html", {"form": form, "reports": reports})


# --- KPIs ------------------------------------------------------------------------------------------

def kpi_dashboard(http_request):
    """The four KPIs against their targets; managers enter the targets here (audited)."""
    municipality = http_request.user.municipality
    targets = {t.kpi: t for t in KpiTarget.objects.for_municipality(municipality)}
    form = KpiTargetForm(http_request.POST or None, targets=targets)
    can_edit = http_request.user.role == "manager"
    if http_request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if form.is_valid():
            _save_targets(http_request, municipality, targets, form.cleaned_data)
            messages.success(http_request, _("目標値を保存しました。"))
            return redirect("operations_office:kpi")
    cards = kpi.dashboard(municipality)
    for card in cards:
        rows = [(label, int(n)) for label, n in card["value"].rows]
        card["chart"] = charts.bar_chart(str(card["label"]), rows, unit="") if rows else ""
    return render(http_request, "operations/kpi.html", {"cards": cards, "form": form, "can_edit": can_edit})


def _save_targets(http_request, municipality, targets: dict, data: dict) -> None:
    with transaction.atomic():
        for name, _label in KpiTarget.Kpi.choices:
            current = targets.get(name)
            new = {"baseline": _cents(data[f"{name}_baseline"]), "target": _cents(data[f"{name}_target"]),
                   "target_date": data[f"{name}_date"]}
            old = ({"baseline": current.baseline, "target": current.target, "target_date": current.target_date}
                   if current else None)
            if new["target"] is None:
                if current is not None:
                    current.delete()
                    audit.record(AuditAction.SETTING_CHANGED, http_request=http_request,
                                 target=("operations.kpitarget", name, name), before=old, after=None)
                continue
            if old == new:
                continue
            KpiTarget.objects.update_or_create(municipality=municipality, kpi=name, defaults=new)
            audit.record(AuditAction.SETTING_CHANGED, http_request=http_request,
                         target=("operations.kpitarget", name, name), before=old, after=new)


def _cents(value):
    return value.quantize(Decimal("0.01")) if value is not None else None


# --- campaign effect -------------------------------------------------------------------------------

def campaign_effect(http_request):
    """Volumes and channel shares before, during and after a fee campaign (managers)."""
    municipality = http_request.user.municipality
    choices = list(campaign.campaigns(municipality))
    selected = None
    raw = http_request.GET.get("campaign", "")
    if raw.isascii() and raw.isdigit() and len(raw) < 19:
        selected = next((c for c in choices if c.pk == int(raw)), None)
    if selected is None and choices and not raw:
        selected = choices[0]
    windows, rows, chart, simulation = [], [], "", None
    if selected is not None:
        windows = campaign.effect(municipality, selected)
        fee_channels = dict(FeeChannel.choices)
        rows = [[str(label)] + [f"{w.volumes.get(ch, 0):,}({w.share(ch):.1f}%)" for w in windows]
                for ch, label in fee_channels.items()]
        chart = charts.bar_chart(_("{channel}の割合(%)").format(channel=fee_channels[selected.channel]),
                                 [(w.label, round(w.share(selected.channel))) for w in windows], unit="%")
        during = next((w for w in windows if w.start >= selected.valid_from), None)
        if during is not None:
            simulation = _urlencode(campaign.simulation_query(municipality, during, selected))
    return render(http_request, "operations/campaign.html", {
        "choices": choices, "selected": selected, "windows": windows, "rows": rows, "chart": chart,
        "simulation": simulation, "unknown": bool(raw) and selected is None,
        "kinds": dict(CertificateType.choices)})


def register(pages) -> None:
    """The operations pages, contributed to the back office (found by `backoffice.pages`), which
    signs staff in and checks the permission before these views run."""
    pages.add("logs/", log_search, name="logs", permission="logs", menu_label=gettext_lazy("操作記録・アクセスログ"))
    pages.add("disclosure/", disclosure_search, name="disclosure", permission="logs",
              menu_label=gettext_lazy("開示請求"))
    pages.add("disclosure/<int:case_id>/", disclosure_case, name="disclosure_case", permission="logs")
    pages.add("disclosure/<int:case_id>/answer.<str:fmt>", disclosure_export, name="disclosure_export",
              permission="logs")
    pages.add("statistics/", statistics, name="statistics", permission="logs", menu_label=gettext_lazy("統計"))
    pages.add("kpi/", kpi_dashboard, name="kpi", permission="logs", menu_label=gettext_lazy("KPI"))
    pages.add("campaign/", campaign_effect, name="campaign", permission="manage",
              menu_label=gettext_lazy("キャンペーン効果"))
    pages.add("counter/", counter_record, name="counter", permission="review",
              menu_label=gettext_lazy("窓口・郵送の登録"))
    pages.add("kiosk/", kiosk_import, name="kiosk", permission="manage", menu_label=gettext_lazy("コンビニ交付実績"))
