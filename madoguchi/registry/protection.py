"""The replica's answers the restriction rules ask about a person: is a 支援措置 running and who are
its 相手方, is issuance stopped, has the person moved or died since.

This is the one module to re-point when the replica (i11) lands: `SupportMeasureRecord` becomes the
replica's `SupportMeasure` (same fields), the replica's `IssuanceStop` joins `IssuanceStopOrder` in
`active_stops`, and `Resident.removal_reason` (除票) joins the 死亡 entry of the 戸籍 in `deceased`.
"""

import datetime
from dataclasses import dataclass

from .matching import normalize_name
from .models import KosekiMember, Resident
from .restrictions import IssuanceStopOrder, SupportMeasureRecord


@dataclass(frozen=True)
class Protection:
    """A running 支援措置 on `resident` (住民基本台帳事務処理要領 第5-10)."""

    resident: Resident
    perpetrators: tuple[dict, ...]


def protections(residents: list[Resident], on: datetime.date) -> list[Protection]:
    """The running 支援措置 of any of `residents`. The register's flag alone (no 申出 row with the
    相手方) still protects the person: the 相手方 are then unknown."""
    if not residents:
        return []
    by_pk = {r.pk: r for r in residents}
    found: dict[int, list[dict]] = {}
    rows = SupportMeasureRecord.objects.filter(municipality=residents[0].municipality_id, resident_id__in=by_pk)
    for row in rows:
        if row.is_active(on):
            found.setdefault(row.resident_id, []).extend(row.perpetrators)
    for resident in residents:
        if resident.support_measure:
            found.setdefault(resident.pk, [])
    return [Protection(by_pk[pk], tuple(perpetrators)) for pk, perpetrators in found.items()]


def is_perpetrator(requester: Resident, protection: Protection) -> bool:
    """The requester is a listed 相手方: by the resident's number when the replica links them, else
    by name and date of birth (both must match; the name as the register writes it)."""
    for listed in protection.perpetrators:
        if listed.get("person_number") and listed["person_number"] == requester.person_number:
            return True
        if (normalize_name(listed.get("name", "")) == normalize_name(requester.name)
                and listed.get("date_of_birth") == requester.date_of_birth.isoformat()):
            return True
    return False


def active_stops(residents: list[Resident], on: datetime.date) -> list[IssuanceStopOrder]:
    """発行停止 running on any of `residents`."""
    if not residents:
        return []
    rows = IssuanceStopOrder.objects.filter(municipality=residents[0].municipality_id,
                                            resident_id__in=[r.pk for r in residents], lifted_at__isnull=True)
    return [row for row in rows if row.is_active(on)]


def deceased(resident: Resident) -> bool:
    """A 死亡 entry in the person's 戸籍 (戸籍法 第86条 届出, recorded in 身分事項)."""
    entries = KosekiMember.objects.filter(municipality=resident.municipality_id, resident=resident)
    return any(e.get("kind") == "死亡" for entry in entries for e in entry.events)


def current_address(resident: Resident) -> str:
    return Resident.objects.select_related("household").get(pk=resident.pk).household.address
