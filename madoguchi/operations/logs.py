"""Searching the audit trail and the access log (auditors and managers), and their CSV export."""

import csv
import datetime
import io
from collections.abc import Iterator

from django.db.models import Q
from django.utils import timezone

from madoguchi.registry.models import Resident

from .models import AccessLog, AuditAction, AuditEvent, Log

MAX_PERSONS = 50


def day_start(d: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(d, datetime.time.min))


def period_filter(field: str, date_from, date_to) -> Q:
    q = Q()
    if date_from:
        q &= Q(**{f"{field}__gte": day_start(date_from)})
    if date_to:
        q &= Q(**{f"{field}__lt": day_start(date_to + datetime.timedelta(days=1))})
    return q


def find_persons(municipality, text: str) -> list[int]:
    """Residents of this municipality matching a 宛名番号 exactly, or a name or reading in part."""
    if not text:
        return []
    compact = text.replace(" ", "")
    return list(Resident.objects.for_municipality(municipality).filter(
        Q(person_number=compact) | Q(name__contains=text) | Q(name_kana__contains=text))
        .order_by("id").values_list("id", flat=True)[:MAX_PERSONS])


def search(municipality, criteria: dict):
    """The rows matching the cleaned search criteria, newest first, and the persons matched."""
    log = criteria.get("log") or Log.AUDIT
    persons = find_persons(municipality, criteria.get("person", ""))
    if log == Log.ACCESS:
        qs = AccessLog.objects.for_municipality(municipality).select_related("staff", "request", "resident")
        staff_field = "staff"
    else:
        qs = AuditEvent.objects.for_municipality(municipality).select_related("actor", "resident")
        staff_field = "actor"
    qs = qs.filter(period_filter("at", criteria.get("date_from"), criteria.get("date_to")))
    if criteria.get("staff"):
        qs = qs.filter(**{staff_field: criteria["staff"]})
    if criteria.get("person"):
        qs = qs.filter(resident_id__in=persons)
    if criteria.get("action"):
        qs = qs.filter(action=criteria["action"])
    return qs.order_by("-seq"), persons


def describe(criteria: dict, persons: list[int]) -> dict:
    """The criteria as recorded in the audit trail: ids, not the text typed (it may be a name)."""
    return {"log": criteria.get("log") or Log.AUDIT,
            "date_from": criteria["date_from"].isoformat() if criteria.get("date_from") else None,
            "date_to": criteria["date_to"].isoformat() if criteria.get("date_to") else None,
            "staff": criteria["staff"].pk if criteria.get("staff") else None,
            "persons": persons if criteria.get("person") else None,
            "action": criteria.get("action") or None}


def _local(at: datetime.datetime) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M:%S")


def csv_rows(log: str, rows) -> Iterator[list]:
    labels = dict(AuditAction.choices)
    if log == Log.ACCESS:
        from .forms import ACCESS_ACTIONS

        access_labels = dict(ACCESS_ACTIONS)
        yield ["連番", "日時", "職員", "操作", "受付番号", "対象者", "宛名番号", "IPアドレス", "ハッシュ"]
        for r in rows:
            yield [r.seq, _local(r.at), r.staff.username, str(access_labels.get(r.action, r.action)),
                   r.request.formatted_reception_number if r.request else "",
                   r.resident.name if r.resident else "", r.resident.person_number if r.resident else "",
                   r.ip_address or "", r.hash]
    else:
        yield ["連番", "日時", "職員", "操作", "対象", "対象ID", "対象者", "宛名番号", "変更前", "変更後",
               "IPアドレス", "ハッシュ"]
        for r in rows:
            yield [r.seq, _local(r.at), r.actor_name, str(labels.get(r.action, r.action)),
                   r.target_label, f"{r.target_type}:{r.target_id}" if r.target_type else "",
                   r.resident.name if r.resident_id and r.resident else "",
                   r.resident.person_number if r.resident_id and r.resident else "",
                   r.before, r.after, r.ip_address or "", r.hash]


def to_csv(rows: Iterator[list]) -> bytes:
    """UTF-8 with a byte order mark, so that Excel on an office PC opens the Japanese correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_neutralise(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _neutralise(value) -> str:
    """A cell that a spreadsheet would run as a formula is prefixed with an apostrophe (CSV injection)."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text
