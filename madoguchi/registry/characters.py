"""外字: vendor character codes mapped to MJ characters, and the issuance stop while one is unmapped.

A core system writes characters outside JIS as its own 外字 codes (private-use code points). The
import keeps such a character as it came and records it (`UnmappedCharacter`); until the
municipality maps the code (`map_characters`), nothing naming that person, household or 戸籍 is
issued, because a certificate must reproduce the register's characters exactly
(住民基本台帳法施行令 第30条の2; 戸籍法施行規則 第31条).
"""

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from .models import GaijiMapping, UnmappedCharacter


def _blocking(resident) -> "Q":
    return Q(person_number=resident.person_number) | Q(household_number=resident.household.household_number)


def unmapped_codes(resident) -> list[str]:
    return sorted(set(UnmappedCharacter.objects.filter(municipality_id=resident.municipality_id)
                      .filter(_blocking(resident)).values_list("vendor_code", flat=True)))


def koseki_unmapped_codes(koseki) -> list[str]:
    key = f"{koseki.honseki}\x1f{koseki.head_name}"
    return sorted(set(UnmappedCharacter.objects.filter(municipality_id=koseki.municipality_id, koseki_key=key)
                      .values_list("vendor_code", flat=True)))


def stop_message(codes: list[str]) -> str:
    return _("副本に未登録の外字({codes})があるため発行できません。外字対応表に登録してから発行してください"
             "(管理者: 副本の外字)。").format(codes="、".join(codes))


def issuance_blockers(resident) -> list[str]:
    """Messages for the clerk: why nothing about `resident` may be issued from the replica now."""
    codes = unmapped_codes(resident)
    return [stop_message(codes)] if codes else []


@transaction.atomic
def map_characters(municipality, mappings: dict[str, str]) -> int:
    """Register vendor codes → characters (Unicode, with an IVS where needed) and rewrite the rows
    that carry them; returns how many rows were rewritten. Their issuance resumes at once."""
    from .imports.base import RECORDS

    for code, character in mappings.items():
        GaijiMapping.objects.update_or_create(municipality=municipality, vendor_code=code,
                                              defaults={"character": character})
    rewritten = 0
    pending = UnmappedCharacter.objects.for_municipality(municipality).filter(vendor_code__in=list(mappings))
    for item in pending.select_for_update():
        record = RECORDS[item.record]
        lookup = {}
        for ref in record.refs:
            parent = RECORDS[ref.record]
            for column, parent_key in zip(ref.columns, parent.key, strict=True):
                lookup[column] = f"{ref.target.removesuffix('_id')}__{parent_key}"
        filters = {lookup.get(k, k): v for k, v in zip(record.key, item.record_key, strict=True)}
        row = record.model.objects.filter(municipality=municipality, **filters).first()
        if row is not None:
            value = getattr(row, item.field)
            setattr(row, item.field, value.replace(item.character, mappings[item.vendor_code]))
            row.save(update_fields=[item.field])
            rewritten += 1
        item.delete()
    return rewritten
