"""Who a requester is to the people a certificate is about, as far as the replica proves it.

The entitlement rules (documents.kinds.<kind>.ENTITLEMENT) name a relation; this module finds it:
- same household (世帯): 住民基本台帳法 第12条第1項;
- recorded in the 戸籍 (including those removed from it, 除籍者): 戸籍法 第10条第1項, 住民基本台帳法 第20条第1項;
- spouse (配偶者) and lineal ascendants and descendants (直系尊属・直系卑属) of someone recorded in it:
  the same articles. Collateral relatives (兄弟姉妹, おじ・おば) are not among them: they ask as third
  parties (戸籍法 第10条の2, 住民基本台帳法 第12条の3, 第20条第3項) at the counter.

A relation is *proven* only from the register's structure: two entries of the same 戸籍 (a child's
【父】【母】 naming a member, a 婚姻 entry naming the spouse) and the same person across 戸籍 by the
replica's link to the resident. A relation seen by name alone across 戸籍 (a namesake is possible) is
*unproven*: never automatic (issue 12).

Reads only: Resident (household), Koseki, KosekiMember (resident, name, father, mother, removed,
events). After the replica work (i11) `KosekiMember.spouse_category` can replace the 婚姻 lookup in
`_spouses`; nothing else changes.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from .matching import normalize_name
from .models import Koseki, KosekiMember, Resident

# Generations followed up or down: great-grandparents to great-grandchildren is more than any
# online request needs, and it bounds the queries.
MAX_GENERATIONS = 4


class Relation:
    SELF = "self"
    HOUSEHOLD = "household"
    RECORDED = "recorded"  # in the 戸籍, or removed from it (除籍者)
    SPOUSE = "spouse"
    LINEAL = "lineal"  # 直系尊属・直系卑属
    UNPROVEN = "unproven"  # spouse or lineal by name only
    NONE = "none"


def _name(text: str) -> str:
    return normalize_name(text or "")


def _is_divorced(member: KosekiMember, spouse_name: str) -> bool:
    return any(e.get("kind") == "離婚" and any(_name(v) == spouse_name for _l, v in e.get("details", []))
               for e in member.events)


def _married_to(member: KosekiMember) -> set[str]:
    """Names this entry records as spouse (婚姻 【配偶者氏名】), without those divorced since."""
    names = set()
    for event in member.events:
        if event.get("kind") == "婚姻":
            for label, value in event.get("details", []):
                if label == "配偶者氏名" and not _is_divorced(member, _name(value)):
                    names.add(_name(value))
    return names


def _spouses(entry: KosekiMember, members: list[KosekiMember]) -> list[KosekiMember]:
    mine = _married_to(entry)
    return [m for m in members if m.pk != entry.pk and (_name(m.name) in mine or _name(entry.name) in _married_to(m))]


def _parents(entry: KosekiMember, members: list[KosekiMember]) -> list[KosekiMember]:
    names = {_name(entry.father), _name(entry.mother)} - {""}
    return [m for m in members if m.pk != entry.pk and _name(m.name) in names]


def _children(entry: KosekiMember, members: list[KosekiMember]) -> list[KosekiMember]:
    me = _name(entry.name)
    return [m for m in members if m.pk != entry.pk and me in {_name(m.father), _name(m.mother)}]


@dataclass
class Kin:
    """The requester's entries and proven relatives, as 戸籍 entries and as residents."""

    own_entries: set[int] = field(default_factory=set)
    spouse_entries: set[int] = field(default_factory=set)
    spouse_residents: set[int] = field(default_factory=set)
    lineal_entries: set[int] = field(default_factory=set)
    lineal_residents: set[int] = field(default_factory=set)
    # Names seen only across 戸籍: a parent's name without their entry, a spouse's name.
    parent_names: set[str] = field(default_factory=set)
    spouse_names: set[str] = field(default_factory=set)


class _Register:
    """The 戸籍 entries of a municipality, loaded by 戸籍 and by resident as the walk needs them."""

    def __init__(self, municipality, known: dict[int, list[KosekiMember]] | None = None):
        self.municipality = municipality
        self._by_koseki: dict[int, list[KosekiMember]] = dict(known or {})

    def members(self, koseki_id: int) -> list[KosekiMember]:
        if koseki_id not in self._by_koseki:
            self._by_koseki[koseki_id] = list(KosekiMember.objects.filter(
                municipality=self.municipality, koseki_id=koseki_id))
        return self._by_koseki[koseki_id]

    def entries_of(self, resident_ids: Iterable[int]) -> list[KosekiMember]:
        ids = set(resident_ids)
        if not ids:
            return []
        return list(KosekiMember.objects.filter(municipality=self.municipality, resident_id__in=ids))


def _walk(register: _Register, start: list[KosekiMember], step) -> tuple[set[int], set[int], set[str]]:
    """Follow `step` (parents or children) for MAX_GENERATIONS, crossing 戸籍 through the resident
    link. Returns (entry ids, resident ids) reached, and the names seen without an entry to follow."""
    entries, residents, names = set(), set(), set()
    frontier = start
    for _generation in range(MAX_GENERATIONS):
        found: list[KosekiMember] = []
        for entry in frontier:
            members = register.members(entry.koseki_id)
            relatives = step(entry, members)
            found += relatives
            if step is _parents:
                names |= {_name(entry.father), _name(entry.mother)} - {""} - {_name(m.name) for m in relatives}
        found = [m for m in found if m.pk not in entries]
        if not found:
            break
        entries |= {m.pk for m in found}
        linked = {m.resident_id for m in found if m.resident_id}
        residents |= linked
        # The same person's other entries (e.g. a parent's own 戸籍 after marriage).
        frontier = found + [e for e in register.entries_of(linked) if e.pk not in entries]
    return entries, residents, names


def kin_of(resident: Resident, known: dict[int, list[KosekiMember]] | None = None) -> Kin:
    """`known`: the members of 戸籍 the caller has already read, by 戸籍 id."""
    register = _Register(resident.municipality_id, known)
    own = register.entries_of([resident.pk])
    kin = Kin(own_entries={e.pk for e in own})
    for entry in own:
        for spouse in _spouses(entry, register.members(entry.koseki_id)):
            kin.spouse_entries.add(spouse.pk)
            if spouse.resident_id:
                kin.spouse_residents.add(spouse.resident_id)
        kin.spouse_names |= _married_to(entry)
    up_entries, up_residents, up_names = _walk(register, own, _parents)
    down_entries, down_residents, _names = _walk(register, own, _children)
    kin.lineal_entries = up_entries | down_entries
    kin.lineal_residents = (up_residents | down_residents) - {resident.pk}
    kin.parent_names = up_names
    return kin


def relation_to_koseki(resident: Resident, koseki: Koseki) -> str:
    """RECORDED, SPOUSE, LINEAL, UNPROVEN or NONE: the requester's closest relation to anyone
    recorded in `koseki` (those removed from it included)."""
    members = list(KosekiMember.objects.filter(municipality=koseki.municipality_id, koseki=koseki))
    kin = kin_of(resident, {koseki.pk: members})
    ids = {m.pk for m in members}
    residents = {m.resident_id for m in members if m.resident_id}
    # The spouse of someone *in* the 戸籍: a spouse removed from it by marriage does not make their
    # husband or wife entitled to the in-laws' 戸籍 (the practice under 戸籍法 第10条第1項).
    present = [m for m in members if not m.removed]
    if kin.own_entries & ids or resident.pk in residents:
        return Relation.RECORDED
    if (kin.spouse_entries & {m.pk for m in present}
            or kin.spouse_residents & {m.resident_id for m in present if m.resident_id}):
        return Relation.SPOUSE
    if kin.lineal_entries & ids or kin.lineal_residents & residents:
        return Relation.LINEAL
    me = _name(resident.name)
    for member in members:
        if (_name(member.name) in kin.parent_names or me in {_name(member.father), _name(member.mother)}
                or (not member.removed and (_name(member.name) in kin.spouse_names or me in _married_to(member)))):
            return Relation.UNPROVEN
    return Relation.NONE


def relation_to_resident(requester: Resident, subject: Resident) -> str:
    """SELF, HOUSEHOLD, SPOUSE, LINEAL or NONE between two residents (住民票)."""
    if requester.pk == subject.pk:
        return Relation.SELF
    if requester.household_id == subject.household_id:
        return Relation.HOUSEHOLD
    kin = kin_of(requester)
    if subject.pk in kin.spouse_residents:
        return Relation.SPOUSE
    if subject.pk in kin.lineal_residents:
        return Relation.LINEAL
    return Relation.NONE


def household_of(resident: Resident) -> list[Resident]:
    return list(Resident.objects.filter(municipality=resident.municipality_id, household=resident.household_id))
