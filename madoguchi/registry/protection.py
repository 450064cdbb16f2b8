"""The replica's answers the restriction rules ask about a person: is a 支援措置 running and who are
its 相手方, is issuance stopped, has the person moved or died since.

Each answer joins what the core system sent in the replica (`SupportMeasure`, `IssuanceStop`,
`Resident.removal_reason`) with what the municipality recorded here (`SupportMeasureRecord` for a
申出 not yet in the core system's file, `IssuanceStopOrder` placed by a manager, the 死亡 entry of the
戸籍): either source alone protects the person.
"""

import datetime
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q

from .matching import normalize_name
from .models import IssuanceStop, KosekiMember, RemovalReason, Resident, SupportMeasure
from .restrictions import IssuanceStopOrder, SupportMeasureRecord


@dataclass(frozen=True)
class Protection:
    """A running 支援措置 on `resident` (住民基本台帳事務処理要領 第5-10)."""

    resident: Resident
    perpetrators: tuple[dict, ...]


def _with_rows(models: tuple, municipality_id: int, resident_ids: list[int]) -> list:
    """Those of `models` that hold any row of these residents, asked in one statement. Each caller's
    own query adds conditions to (municipality, resident), so a model without such rows would give
    nothing anyway: most people have no 支援措置 and no 発行停止, and every rendering asks."""
    quote = connection.ops.quote_name
    marks = ", ".join(["%s"] * len(resident_ids))
    probes = [f"SELECT {i} FROM {quote(model._meta.db_table)} "
              f"WHERE {quote(model._meta.get_field('municipality').column)} = %s "
              f"AND {quote(model._meta.get_field('resident').column)} IN ({marks})"
              for i, model in enumerate(models)]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ".join(probes), [v for _m in models for v in (municipality_id, *resident_ids)])
        found = {i for (i,) in cursor.fetchall()}
    return [model for i, model in enumerate(models) if i in found]


def protections(residents: list[Resident], on: datetime.date) -> list[Protection]:
    """The running 支援措置 of any of `residents`. The register's flag alone (no 申出 row with the
    相手方) still protects the person: the 相手方 are then unknown."""
    if not residents:
        return []
    by_pk = {r.pk: r for r in residents}
    found: dict[int, list[dict]] = {}
    municipality = residents[0].municipality_id
    # The replica's, then those recorded here.
    for model in _with_rows((SupportMeasure, SupportMeasureRecord), municipality, list(by_pk)):
        for row in model.objects.filter(municipality=municipality, resident_id__in=by_pk):
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


def active_stops(residents: list[Resident], on: datetime.date) -> list[IssuanceStopOrder | IssuanceStop]:
    """発行停止 running on any of `residents`: placed by a manager here, or recorded in the core system."""
    if not residents:
        return []
    municipality, pks = residents[0].municipality_id, list(dict.fromkeys(r.pk for r in residents))
    stops: list[IssuanceStopOrder | IssuanceStop] = []
    holding = _with_rows((IssuanceStopOrder, IssuanceStop), municipality, pks)
    if IssuanceStopOrder in holding:
        placed = IssuanceStopOrder.objects.filter(municipality=municipality, resident_id__in=pks,
                                                  lifted_at__isnull=True)
        stops += [row for row in placed if row.is_active(on)]
    if IssuanceStop in holding:
        stops += IssuanceStop.objects.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=on), municipality=municipality,
                                             resident_id__in=pks, starts_on__lte=on)
    return stops


def deceased(resident: Resident) -> bool:
    """Died: the replica's 除票 by 死亡 (住民基本台帳法施行令 第8条), or a 死亡 entry in the person's 戸籍
    (戸籍法 第86条 届出, recorded in 身分事項)."""
    if Resident.objects.filter(pk=resident.pk, removal_reason=RemovalReason.DECEASED).exists():
        return True
    entries = KosekiMember.objects.filter(municipality=resident.municipality_id, resident=resident)
    return any(e.get("kind") == "死亡" for entry in entries for e in entry.events)


def current_address(resident: Resident) -> str:
    """Today's address in the replica; "" once the person's 住民票 is a 除票 (moved out, died, erased)."""
    current = Resident.objects.select_related("household").get(pk=resident.pk)
    return "" if current.removal_reason else current.household.address
