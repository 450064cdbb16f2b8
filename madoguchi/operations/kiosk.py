"""Import of the 証明書交付センター's daily issuance report (コンビニ交付), for the statistics.

The layout is assumed (docs/operations.md, "Convenience-store issuance report"): CSV in Shift_JIS
(CP932) or UTF-8, an optional header row, one issuance per line:

    交付年月日 (YYYYMMDD), 交付時刻 (HHMMSS), 地方公共団体コード (6 digits), 証明書種別コード (2 digits),
    交付通数, 手数料 (yen, the total of the line), 住登区分 (1 住民登録あり, 2 住登外: 本籍のみ)

A file is imported whole or not at all; the same file, or a second report for the same day, is
refused. The report names no person, and nothing personal is kept.
"""

import csv
import datetime
import hashlib
import io
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.catalog.models import CertificateType

from . import stats
from .models import KioskIssuance, KioskReport

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 100_000
KIND_CODES = {"01": CertificateType.RESIDENCE, "02": CertificateType.RESIDENCE_ENTRY,
              "03": CertificateType.SEAL, "04": CertificateType.KOSEKI_FULL,
              "05": CertificateType.KOSEKI_INDIVIDUAL, "06": CertificateType.KOSEKI_FUHYO,
              "07": CertificateType.TAX}


class ReportError(Exception):
    """The file was refused; the message (Japanese) names the line."""


@dataclass(frozen=True)
class Line:
    at: datetime.datetime
    certificate_type: str
    copies: int
    fee: int
    outside: bool


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ReportError(_("文字コードを判別できません(Shift_JISまたはUTF-8のCSVにしてください)。"))


def parse(data: bytes, municipality) -> tuple[datetime.date, list[Line]]:
    if len(data) > MAX_BYTES:
        raise ReportError(_("ファイルが大きすぎます(5MBまで)。"))
    text = _decode(data)
    if "\x00" in text:
        raise ReportError(_("ファイルに制御文字(NUL)が含まれています。"))
    lines: list[Line] = []
    days = set()
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error:
        raise ReportError(_("CSVとして読み取れません。")) from None
    for number, row in enumerate(rows, start=1):
        if not row or (number == 1 and row[0].strip() == "交付年月日"):
            continue
        if len(lines) >= MAX_ROWS:
            raise ReportError(_("行数が多すぎます(10万行まで)。"))
        where = _("{n}行目").format(n=number)
        if len(row) != 7:
            raise ReportError(_("{where}: 項目の数が7ではありません。").format(where=where))
        day_text, time_text, code, kind_code, copies, fee, resident_class = (c.strip() for c in row)
        try:
            at = datetime.datetime.strptime(day_text + time_text, "%Y%m%d%H%M%S")
        except ValueError:
            raise ReportError(_("{where}: 交付年月日・時刻が正しくありません。").format(where=where)) from None
        if code != municipality.code:
            raise ReportError(_("{where}: 他の団体({code})の実績です。").format(where=where, code=code[:6]))
        if kind_code not in KIND_CODES:
            raise ReportError(_("{where}: 証明書種別コードが正しくありません。").format(where=where))
        if not (copies.isascii() and copies.isdigit() and 1 <= int(copies) <= 100):
            raise ReportError(_("{where}: 交付通数が正しくありません。").format(where=where))
        if not (fee.isascii() and fee.isdigit() and int(fee) <= 1_000_000):
            raise ReportError(_("{where}: 手数料が正しくありません。").format(where=where))
        if resident_class not in ("1", "2"):
            raise ReportError(_("{where}: 住登区分は1か2です。").format(where=where))
        days.add(at.date())
        lines.append(Line(timezone.make_aware(at), KIND_CODES[kind_code], int(copies), int(fee),
                          resident_class == "2"))
    if not lines:
        raise ReportError(_("交付実績の行がありません。"))
    if len(days) != 1:
        raise ReportError(_("1日分の実績ではありません(日付が複数あります)。"))
    day = days.pop()
    if day > timezone.localdate():
        raise ReportError(_("未来の日付の実績です。"))
    return day, lines


def import_report(data: bytes, municipality, staff) -> KioskReport:
    day, lines = parse(data, municipality)
    digest = hashlib.sha256(data).hexdigest()
    try:
        with transaction.atomic():
            report = KioskReport.objects.create(municipality=municipality, sha256=digest, report_day=day,
                                                rows=len(lines), imported_by=staff)
            issuances = KioskIssuance.objects.bulk_create([
                KioskIssuance(municipality=municipality, report=report, at=line.at,
                              certificate_type=line.certificate_type, copies=line.copies, fee=line.fee,
                              outside=line.outside) for line in lines])
            stats.count(municipality, (fact for issuance in issuances for fact in stats.kiosk_facts(issuance)))
    except IntegrityError:
        raise ReportError(_("この日({day})の実績はすでに取り込まれています。").format(day=day.isoformat())) from None
    return report
