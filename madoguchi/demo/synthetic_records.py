"""Deterministic synthetic records behind the other certificates: 印鑑登録, 戸籍 with its 附票, and tax.

Built from the synthetic residents (`synthetic.generate_replica` calls `generate_records`), so every
record is consistent with the 住民票: a 戸籍 exists for each 本籍 in this municipality with its
筆頭者, its members are the residents recorded under it, their 附票 ends at their current address,
and only adults have a registered seal (印鑑条例: 15 and over) or tax assessments.
"""

import datetime
import random
from collections import defaultdict

from madoguchi.registry.matching import koseki_lookup_key
from madoguchi.registry.models import Koseki, KosekiMember, Resident, SealRegistration, Sex, TaxRecord
from madoguchi.tenancy.models import Municipality

from .seal_impression import seal_impression_png

SEAL_SHARE = 0.55
TAX_YEARS = (2024, 2025, 2026)
_BIRTH_PLACES = ("東京都千代田区", "大阪府大阪市", "神奈川県横浜市", "愛知県名古屋市", "福岡県福岡市",
                 "北海道札幌市", "宮城県仙台市", "広島県広島市", "静岡県静岡市", "新潟県新潟市")
_PREVIOUS_ADDRESSES = ("東京都新宿区西新宿二丁目8番1号", "神奈川県横浜市中区日本大通1番地",
                       "埼玉県さいたま市浦和区高砂三丁目15番1号", "千葉県千葉市中央区市場町1番1号",
                       "大阪府大阪市北区中之島一丁目3番20号", "愛知県名古屋市中区三の丸三丁目1番1号")
_SONS = ("長男", "二男", "三男", "四男")
_DAUGHTERS = ("長女", "二女", "三女", "四女")
_FATHERS = ("茂", "博", "正", "勇", "清", "実")
_MOTHERS = ("和子", "幸子", "洋子", "節子", "京子", "良子")


def _age(born: datetime.date, on: datetime.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _shift(day: datetime.date, years: int, days: int = 0) -> datetime.date:
    try:
        moved = day.replace(year=day.year + years)
    except ValueError:  # 29 February
        moved = day.replace(year=day.year + years, day=28)
    return moved + datetime.timedelta(days=days)


def _given(name: str) -> str:
    return name.split(" ", 1)[-1]


def _surname(name: str) -> str:
    return name.split(" ", 1)[0]


class _RecordPlanner:
    def __init__(self, municipality: Municipality, rng: random.Random, reference: datetime.date) -> None:
        self.municipality = municipality
        self.rng = rng
        self.reference = reference

    def _date_between(self, start: datetime.date, end: datetime.date) -> datetime.date:
        start = min(start, end)
        return start + datetime.timedelta(days=self.rng.randint(0, (end - start).days))

    def _birth_event(self, born: datetime.date, reporter: str) -> dict:
        return {"kind": "出生", "date": born.isoformat(),
                "details": [["出生地", self.rng.choice(_BIRTH_PLACES)],
                            ["届出日", _shift(born, 0, self.rng.randint(3, 13)).isoformat()], ["届出人", reporter]]}

    def koseki(self, honseki: str, head_name: str, residents: list[Resident]) -> tuple[Koseki, list[KosekiMember]]:
        """One 戸籍 from the residents recorded under it; the 筆頭者 is added as 除籍 (死亡) when
        they are not among them (e.g. a widow still in her late husband's 戸籍)."""
        residents = sorted(residents, key=lambda r: r.date_of_birth)
        head = next((r for r in residents if r.name == head_name), None)
        others = [r for r in residents if r is not head]
        oldest = others[0] if others else None
        head_sex = head.sex if head else (Sex.FEMALE if oldest and oldest.sex == Sex.MALE else Sex.MALE)
        head_born = head.date_of_birth if head else _shift(oldest.date_of_birth, -self.rng.randint(1, 5))
        spouse = next((r for r in others if r.sex != head_sex and abs(_age(r.date_of_birth, head_born)) < 15
                       and _age(r.date_of_birth, self.reference) >= 18), None)
        children = [r for r in others if r is not spouse]

        married_on = None
        if spouse is not None:
            younger = max(head_born, spouse.date_of_birth)
            first_child = min((c.date_of_birth for c in children), default=self.reference)
            married_on = self._date_between(_shift(younger, 20), min(_shift(younger, 32), first_child,
                                                                      self.reference))
        formed_on = married_on or self._date_between(_shift(head_born, 20), _shift(head_born, 40))
        formed_on = min(formed_on, self.reference)
        koseki = Koseki(municipality=self.municipality, honseki=honseki, head_name=head_name,
                        lookup_key=koseki_lookup_key(honseki, head_name),
                        events=[{"kind": "戸籍編製", "date": formed_on.isoformat()}])

        members: list[KosekiMember] = []
        father = head_name if head_sex == Sex.MALE else (spouse.name if spouse else "")
        mother = head_name if head_sex == Sex.FEMALE else (spouse.name if spouse else "")

        def member(name: str, born: datetime.date, sex: str, relationship: str, resident: Resident | None,
                   events: list[dict], **fields: object) -> None:
            history = [{"address": self.rng.choice(_PREVIOUS_ADDRESSES),
                        "since": _shift(born, 0, self.rng.randint(0, 400)).isoformat()}]
            if resident is not None:
                history.append({"address": resident.address, "since": resident.became_resident_on.isoformat()})
                # 氏名の振り仮名 (recorded since 2025-05-26) as the 住民票 has it.
                fields.setdefault("name_kana", resident.name_kana)
            members.append(KosekiMember(municipality=self.municipality, koseki=koseki, position=len(members) + 1,
                                        resident=resident, name=name, date_of_birth=born, sex=sex,
                                        relationship=relationship, events=events, address_history=history,
                                        **fields))

        own_parents = self.rng.choice(("父", "母"))
        head_events = [self._birth_event(head_born, own_parents)]
        if married_on is not None:
            head_events.append({"kind": "婚姻", "date": married_on.isoformat(),
                                "details": [["配偶者氏名", spouse.name]]})
        removed = head is None
        if removed:
            died = self._date_between(max(formed_on, _shift(head_born, 55)), self.reference)
            head_events.append({"kind": "死亡", "date": died.isoformat(),
                                "details": [["死亡地", self.municipality.full_name],
                                            ["届出日", _shift(died, 0, 2).isoformat()], ["届出人", "親族"]]})
        # The 筆頭者's and the spouse's own parents, named without drawing from the generator (the
        # records stay as they were for the same seed).
        def parents(surname: str, born: datetime.date) -> dict:
            return {"father": f"{surname} {_FATHERS[born.year % len(_FATHERS)]}",
                    "mother": f"{surname} {_MOTHERS[born.month % len(_MOTHERS)]}"}

        head_spouse = {"spouse_category": "夫" if head_sex == Sex.MALE else "妻"} if spouse is not None else {}
        member(head_name, head_born, head_sex, self.rng.choice(_SONS[:2] if head_sex == Sex.MALE else _DAUGHTERS[:2]),
               head, head_events, removed=removed, **parents(_surname(head_name), head_born), **head_spouse)
        if spouse is not None:
            previous = f"{self.rng.choice(_BIRTH_PLACES)}{self.rng.randint(1, 30)}番地"
            member(spouse.name, spouse.date_of_birth, spouse.sex,
                   self.rng.choice(_SONS[:2] if spouse.sex == Sex.MALE else _DAUGHTERS[:2]), spouse,
                   [self._birth_event(spouse.date_of_birth, self.rng.choice(("父", "母"))),
                    {"kind": "婚姻", "date": married_on.isoformat(),
                     "details": [["配偶者氏名", head_name],
                                 ["従前戸籍", f"{previous}　{spouse.former_surname or _surname(spouse.name)}"
                                             f" {self.rng.choice(('一郎', '正', '博', '茂'))}"]]}],
                   spouse_category="夫" if spouse.sex == Sex.MALE else "妻",
                   **parents(spouse.former_surname or _surname(spouse.name), spouse.date_of_birth))
        sons = daughters = 0
        for child in children:
            if child.sex == Sex.MALE:
                relationship, sons = _SONS[min(sons, 3)], sons + 1
            else:
                relationship, daughters = _DAUGHTERS[min(daughters, 3)], daughters + 1
            member(child.name, child.date_of_birth, child.sex, relationship, child,
                   [self._birth_event(child.date_of_birth, "父" if father else "母")],
                   father=father, mother=mother)
        return koseki, members

    def seal(self, resident: Resident, number: int) -> SealRegistration:
        earliest = max(_shift(resident.date_of_birth, 15), resident.became_resident_on)
        # Foreign residents without 通称 register a seal of their name in katakana.
        surname = _surname(resident.alias or (resident.name_kana if resident.is_foreign else resident.name))
        return SealRegistration(municipality=self.municipality, resident=resident,
                                registration_number=f"{number:08d}",
                                registered_on=self._date_between(earliest, self.reference),
                                impression_png=seal_impression_png(surname))

    def taxes(self, resident: Resident) -> list[TaxRecord]:
        """Assessments in the style of 地方税法: 給与所得控除 by the table (`salary_income_deduction`),
        基礎控除 43万円 (住民税), social insurance about 15% of salary, 扶養控除 33万円; 所得割 6% + 4%,
        均等割 3,000 + 1,000 円 (森林環境税, a national tax, left out); 非課税 up to 所得 45万円 (+35万円
        a dependant; 単身, 1級地). Only years whose 1 January found the resident here: the tax is levied
        where the taxpayer lived that day (地方税法 第39条・第294条)."""
        records = []
        age = _age(resident.date_of_birth, self.reference)
        base_salary = 0 if age >= 68 or self.rng.random() < 0.15 else self.rng.randrange(1_200_000, 9_000_000, 10_000)
        dependents = self.rng.choice((0, 0, 1, 2)) if base_salary else 0
        for fiscal_year in TAX_YEARS:
            salary = int(base_salary * (1 + (fiscal_year - TAX_YEARS[0]) * 0.02)) // 1000 * 1000
            pension = 0 if salary else self.rng.choice((0, 0, 600_000, 1_200_000))  # 公的年金等の所得
            if resident.became_resident_on > datetime.date(fiscal_year, 1, 1):
                continue
            salary_income = salary - salary_income_deduction(salary, fiscal_year - 1) if salary else 0
            income = salary_income + pension
            social_insurance = salary * 15 // 100
            deduction_breakdown = {"社会保険料控除": social_insurance, "基礎控除": 430_000}
            if dependents:
                deduction_breakdown["扶養控除"] = dependents * 330_000
            deductions = sum(deduction_breakdown.values())
            taxable = max(0, income - deductions) // 1000 * 1000
            exempt = income <= 450_000 + dependents * 350_000
            municipal_levy = 0 if exempt else taxable * 6 // 100 // 100 * 100
            prefectural_levy = 0 if exempt else taxable * 4 // 100 // 100 * 100
            municipal_per_capita, prefectural_per_capita = (0, 0) if exempt else (3_000, 1_000)
            breakdown = {kind: amount for kind, amount in (("給与", salary_income), ("雑(公的年金等)", pension))
                         if amount}
            records.append(TaxRecord(
                municipality=self.municipality, resident=resident, fiscal_year=fiscal_year, salary_income=salary,
                income=income, deductions=deductions, dependents=dependents,
                municipal_tax=municipal_levy + municipal_per_capita,
                prefectural_tax=prefectural_levy + prefectural_per_capita,
                municipal_per_capita=municipal_per_capita, municipal_income_levy=municipal_levy,
                prefectural_per_capita=prefectural_per_capita, prefectural_income_levy=prefectural_levy,
                income_breakdown=breakdown, deduction_breakdown=deduction_breakdown,
                # Every dependant here gives the 一般 扶養控除 of 33万円 (地方税法 第314条の2第1項第11号).
                dependant_breakdown={"一般扶養親族": dependents} if dependents else {},
                address_on_january_1=resident.household.address))
        return records


def salary_income_deduction(salary: int, income_year: int) -> int:
    """給与所得控除 (所得税法 第28条第3項 and 別表第五, which 地方税法 第32条第2項 follows): from 2020
    income on, with the minimum raised to 65万円 (up to 190万円 of salary) for 2025 income on (令和7年度
    税制改正). From 1,625,001 yen to under 6,600,000 yen the table works on the salary rounded down to
    4,000 yen."""
    minimum, minimum_up_to = (650_000, 1_900_000) if income_year >= 2025 else (550_000, 1_625_000)
    if salary <= minimum_up_to:
        return min(salary, minimum)
    if salary < 6_600_000:
        rounded = salary // 4000 * 4000
        if rounded <= 1_800_000:
            income = rounded * 60 // 100 + 100_000
        elif rounded <= 3_600_000:
            income = rounded * 70 // 100 - 80_000
        else:
            income = rounded * 80 // 100 - 440_000
        return salary - income
    if salary <= 8_500_000:
        return salary * 10 // 100 + 1_100_000
    return 1_950_000


def generate_records(municipality: Municipality, residents: list[Resident], seed: int,
                     reference: datetime.date) -> None:
    """Create the 印鑑登録, 戸籍 and tax records for freshly generated `residents` (saved, in order)."""
    koseki_rows, member_rows, seals, taxes = plan_records(municipality, residents, seed, reference)
    Koseki.objects.bulk_create(koseki_rows)
    KosekiMember.objects.bulk_create(member_rows)
    SealRegistration.objects.bulk_create(seals)
    TaxRecord.objects.bulk_create(taxes)


def plan_records(municipality: Municipality, residents: list[Resident], seed: int, reference: datetime.date):
    """The 戸籍 (with their members), 印鑑登録 and tax records of `residents`, not saved."""
    rng = random.Random(seed ^ 0x5EA1)
    planner = _RecordPlanner(municipality, rng, reference)
    local = f"{municipality.prefecture}{municipality.name}"
    groups: dict[tuple[str, str], list[Resident]] = defaultdict(list)
    for resident in residents:
        if resident.honseki.startswith(local) and resident.koseki_head:
            groups[(resident.honseki, resident.koseki_head)].append(resident)
    existing = set(Koseki.objects.for_municipality(municipality).values_list("honseki", "head_name"))
    koseki_rows, member_rows = [], []
    for (honseki, head_name), group in groups.items():
        if (honseki, head_name) in existing:
            continue
        koseki, members = planner.koseki(honseki, head_name, group)
        koseki_rows.append(koseki)
        member_rows.extend(members)
    adults = [r for r in residents if _age(r.date_of_birth, reference) >= 18]
    last = SealRegistration.objects.for_municipality(municipality).order_by("-registration_number").first()
    number = int(last.registration_number) if last else 10_000
    seals = []
    for resident in adults:
        if rng.random() < SEAL_SHARE:
            number += rng.randint(1, 9)
            seals.append(planner.seal(resident, number))
    return koseki_rows, member_rows, seals, [record for resident in adults for record in planner.taxes(resident)]
