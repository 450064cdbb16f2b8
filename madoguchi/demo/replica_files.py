"""The synthetic replica as linkage files in the standard layout, so the demo loads its data
through the same importer a municipality's core system feeds (`registry.imports`).

`write_replica_files` writes the people `synthetic.plan_replica` plans (and their 戸籍, 印鑑登録,
課税 and 支援措置) as one full file set; `seed_demo` loads it with `registry.imports.loader.load`.
振り仮名 are written in hiragana as the generator makes them: the import turns them into katakana,
as it does for a core system that sends hiragana.
"""

import base64
import datetime
import json
from pathlib import Path

from madoguchi.registry.imports.contrib.standard.writer import write_standard

from .synthetic import DEFAULT_SEED, REFERENCE_DATE, plan_replica
from .synthetic_records import plan_records

AS_OF = datetime.datetime(2026, 4, 1, 5, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=9)))


def _iso(day) -> str:
    return day.isoformat() if day else ""


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def write_replica_files(municipality, directory: Path, count: int = 1000, seed: int = DEFAULT_SEED) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    plans = plan_replica(municipality, count, seed)
    residents = [member for _, members in plans for member in members]
    koseki_rows, member_rows, seals, taxes = plan_records(municipality, residents, seed, REFERENCE_DATE)
    common = dict(municipality_code=municipality.code, kind="full", sequence=1, as_of=AS_OF)

    write_standard(directory / "household.csv", "household", (
        {"household_number": h.household_number, "postal_code": h.postal_code, "address": h.address}
        for h, _members in plans), **common)

    def resident_row(r) -> dict:
        row = {"person_number": r.person_number, "household_number": r.household.household_number,
               "name": r.name, "name_kana": r.name_kana, "date_of_birth": _iso(r.date_of_birth), "sex": r.sex,
               "relationship": r.relationship, "honseki": r.honseki, "koseki_head": r.koseki_head,
               "former_surname": r.former_surname, "alias": r.alias, "nationality": r.nationality,
               "became_resident_on": _iso(r.became_resident_on),
               "became_resident_reason": "出生" if r.became_resident_on == r.date_of_birth else "転入",
               "address_since": _iso(r.became_resident_on), "address_notified_on": _iso(r.became_resident_on)}
        if r.nationality:
            # 第30条の45: 特別永住者 for the Korean residents with a 通称, 中長期在留者 otherwise.
            special = r.nationality == "韓国" and bool(r.alias)
            ends = datetime.date(max(r.became_resident_on.year + 5, REFERENCE_DATE.year + 1), 3, 31)
            row.update({"foreign_resident_category": "special_permanent" if special else "mid_long_term",
                        "became_foreign_resident_on": _iso(r.became_resident_on),
                        "residence_card_number": f"{'SP' if special else 'AB'}{r.person_number[-8:]}"
                                                 f"{'' if special else 'CD'}"})
            if not special:
                row.update({"residence_status": "技術・人文知識・国際業務", "period_of_stay": "5年",
                            "period_of_stay_ends_on": _iso(ends)})
        return row

    write_standard(directory / "resident.csv", "resident", (resident_row(r) for r in residents), **common)
    write_standard(directory / "alias.csv", "alias", (
        {"person_number": r.person_number, "seq": "1", "alias": r.alias, "recorded_on": _iso(r.became_resident_on),
         "recorded_by": f"{municipality.prefecture}{municipality.name}"} for r in residents if r.alias), **common)
    # 支援措置 (住民基本台帳事務処理要領 第6-10): the import sets each person's flag from these rows.
    write_standard(directory / "support_measure.csv", "support_measure", (
        {"measure_number": f"S{r.person_number}", "person_number": r.person_number, "kind": "dv",
         "starts_on": _iso(REFERENCE_DATE - datetime.timedelta(days=90)),
         "ends_on": _iso(REFERENCE_DATE + datetime.timedelta(days=275))}
        for r in residents if r.support_measure), **common)
    write_standard(directory / "koseki.csv", "koseki", (
        {"honseki": k.honseki, "head_name": k.head_name, "events": _json(k.events)} for k in koseki_rows), **common)
    write_standard(directory / "koseki_member.csv", "koseki_member", (
        {"honseki": m.koseki.honseki, "head_name": m.koseki.head_name, "position": str(m.position),
         "person_number": m.resident.person_number if m.resident else "", "name": m.name,
         "name_kana": m.name_kana, "spouse_category": m.spouse_category,
         "date_of_birth": _iso(m.date_of_birth), "sex": m.sex, "father": m.father, "mother": m.mother,
         "relationship": m.relationship, "removed": "1" if m.removed else "0", "events": _json(m.events),
         "address_history": _json(m.address_history)} for m in member_rows), **common)
    write_standard(directory / "seal.csv", "seal", (
        {"person_number": s.resident.person_number, "registration_number": s.registration_number,
         "registered_on": _iso(s.registered_on), "impression_png": base64.b64encode(s.impression_png).decode(),
         "uses_former_surname": "0"} for s in seals), **common)

    def tax_row(t) -> dict:
        return {"person_number": t.resident.person_number, "fiscal_year": str(t.fiscal_year),
                "salary_income": str(t.salary_income), "income": str(t.income), "deductions": str(t.deductions),
                "dependents": str(t.dependents), "municipal_per_capita": str(t.municipal_per_capita),
                "municipal_income_levy": str(t.municipal_income_levy),
                "prefectural_per_capita": str(t.prefectural_per_capita),
                "prefectural_income_levy": str(t.prefectural_income_levy),
                "income_breakdown": _json(t.income_breakdown), "deduction_breakdown": _json(t.deduction_breakdown),
                "dependant_breakdown": _json(t.dependant_breakdown),
                "address_on_january_1": t.address_on_january_1}

    write_standard(directory / "tax.csv", "tax", (tax_row(t) for t in taxes), **common)
    return directory
