import re
import unicodedata
from collections import Counter, defaultdict

import pytest

from madoguchi.demo.synthetic import (
    REFERENCE_DATE,
    VARIANT_IDEOGRAPHS,
    age_at,
    generate_replica,
    hard_cases,
    has_compatibility_ideograph,
    has_variation_selector,
)
from madoguchi.registry.models import Household, Resident, Sex

JAPANESE_NAME = re.compile(r"^\S+ \S+$")
HIRAGANA_NAME = re.compile(r"^[ぁ-ゖー]+ [ぁ-ゖー]+$")
LATIN_NAME = re.compile(r"^[A-Z]+( [A-Z]+)+$")
KATAKANA_NAME = re.compile(r"^[ァ-ヺー]+( [ァ-ヺー]+)+$")
POSTAL_CODE = re.compile(r"^\d{3}-\d{4}$")
# IVS the generator may use: Moji_Joho sequences (the MJ set of 住民記録) that IPAmj明朝 carries.
REGISTERED_IVS = {"葛\U000e0102", "葛\U000e0103", "辻\U000e0102", "辻\U000e0103"}


@pytest.fixture
def residents(municipality) -> list[Resident]:
    return generate_replica(municipality)


def households_of(residents: list[Resident]) -> dict[int, list[Resident]]:
    households: dict[int, list[Resident]] = defaultdict(list)
    for resident in residents:
        households[resident.household_id].append(resident)
    return households


def at_least_years_older(older: Resident, younger: Resident, years: int) -> bool:
    return age_at(older.date_of_birth) - age_at(younger.date_of_birth) >= years


def test_generates_the_requested_number_with_unique_numbers(municipality, residents):
    assert len(residents) == 1000
    assert Resident.objects.for_municipality(municipality).count() == 1000
    person_numbers = [r.person_number for r in residents]
    assert len(set(person_numbers)) == 1000
    assert all(re.fullmatch(r"\d{12}", number) for number in person_numbers)
    household_numbers = list(Household.objects.for_municipality(municipality).values_list("household_number",
                                                                                          flat=True))
    assert len(household_numbers) == len(set(household_numbers)) == len(households_of(residents))


def test_same_seed_gives_the_same_people_in_another_municipality(municipality, other_municipality):
    def people(residents: list[Resident], municipality) -> list[tuple]:
        prefix = municipality.full_name
        return [(r.name, r.name_kana, r.date_of_birth, r.sex, r.relationship, r.koseki_head, r.former_surname,
                 r.alias, r.nationality, r.became_resident_on, r.support_measure,
                 r.household.address.removeprefix(prefix), r.honseki.replace(prefix, "")) for r in residents]

    first = people(generate_replica(municipality, count=300), municipality)
    second = people(generate_replica(other_municipality, count=300), other_municipality)
    assert first == second
    other_seed = people(generate_replica(other_municipality, count=300, seed=1), other_municipality)
    assert [p[:3] for p in other_seed] != [p[:3] for p in first]


def test_running_twice_skips_numbers_already_in_use(municipality):
    generate_replica(municipality, count=50)
    generate_replica(municipality, count=50)
    assert Resident.objects.for_municipality(municipality).values("person_number").distinct().count() == 100


def test_count_cuts_the_last_household_but_keeps_its_head(municipality):
    assert generate_replica(municipality, count=0) == []
    for count in (1, 7):
        residents = generate_replica(municipality, count=count, seed=count)
        assert len(residents) == count
        for members in households_of(residents).values():
            assert members[0].relationship == "世帯主"


def test_every_household_has_exactly_one_head_who_is_set(municipality, residents):
    households = households_of(residents)
    heads = dict(Household.objects.for_municipality(municipality).values_list("id", "head_id"))
    for household_id, members in households.items():
        assert [m.relationship for m in members].count("世帯主") == 1
        assert members[0].relationship == "世帯主"
        assert heads[household_id] == members[0].pk


def test_household_shapes_are_varied(residents):
    sizes = Counter(len(members) for members in households_of(residents).values())
    assert sizes[1] > 100 and sizes[2] > 50 and sizes[4] > 20 and max(sizes) >= 5
    relationships = Counter(r.relationship for r in residents)
    for relationship in ("妻", "夫", "子", "父", "母", "孫", "子の妻", "同居人"):
        assert relationships[relationship] > 0, relationship


def test_hard_cases_appear_several_times(residents):
    counts = {
        "ivs_name": sum(has_variation_selector(r.name) for r in residents),
        "compat_kanji": sum(has_compatibility_ideograph(r.name) for r in residents),
        "variant_kanji": sum(bool(VARIANT_IDEOGRAPHS & set(r.name)) for r in residents),
        "foreign": sum(r.is_foreign for r in residents),
        "foreign_with_alias": sum(r.is_foreign and bool(r.alias) for r in residents),
        "former_surname": sum(bool(r.former_surname) for r in residents),
        "under_15": sum(age_at(r.date_of_birth) < 15 for r in residents),
        "support_measure": sum(r.support_measure for r in residents),
    }
    assert all(count >= 3 for count in counts.values()), counts
    assert 5 <= counts["support_measure"] <= 20  # about 1%
    for resident in residents:
        if has_variation_selector(resident.name):
            sequences = {resident.name[i - 1:i + 1] for i, ch in enumerate(resident.name)
                         if 0xE0100 <= ord(ch) <= 0xE01EF}
            assert sequences <= REGISTERED_IVS
    # 﨑 survives normalization: it is not a decomposable compatibility ideograph.
    compat = next(r for r in residents if has_compatibility_ideograph(r.name))
    assert unicodedata.normalize("NFC", compat.name) == compat.name


def test_hard_cases_returns_a_matching_example_for_every_key(residents):
    cases = hard_cases(residents)
    assert set(cases) == {"ordinary", "ivs_name", "compat_kanji", "variant_kanji", "foreign", "foreign_with_alias",
                          "former_surname", "under_15", "support_measure", "household_head_with_family"}
    ordinary = cases["ordinary"]
    assert ordinary.relationship == "世帯主" and not ordinary.is_foreign and not ordinary.support_measure
    assert not has_variation_selector(ordinary.name) and not has_compatibility_ideograph(ordinary.name)
    assert has_variation_selector(cases["ivs_name"].name)
    assert has_compatibility_ideograph(cases["compat_kanji"].name)
    assert cases["foreign_with_alias"].alias and not cases["foreign"].alias
    assert age_at(cases["under_15"].date_of_birth) < 15
    assert cases["support_measure"].support_measure
    head = cases["household_head_with_family"]
    assert sum(r.household_id == head.household_id for r in residents) >= 4


def test_names_and_readings_are_written_as_on_the_register(residents):
    for r in residents:
        if r.is_foreign:
            # As on the residence card; read in katakana.
            assert LATIN_NAME.fullmatch(r.name), r.name
            assert KATAKANA_NAME.fullmatch(r.name_kana), r.name_kana
            assert len(r.name.split()) == len(r.name_kana.split())
        else:
            assert JAPANESE_NAME.fullmatch(r.name), r.name
            assert HIRAGANA_NAME.fullmatch(r.name_kana), r.name_kana
        assert r.sex in {Sex.MALE, Sex.FEMALE}


def test_family_members_share_the_surname_of_the_head(residents):
    for members in households_of(residents).values():
        head = members[0]
        if head.is_foreign:
            continue
        surname = head.name.split()[0]
        for member in members[1:]:
            if member.relationship in {"子", "孫", "子の妻", "父", "母"} or (
                    member.relationship in {"妻", "夫"} and not member.is_foreign):
                assert member.name.split()[0] == surname, (head.name, member.name)
            if member.former_surname:
                assert member.former_surname != surname


def test_addresses_and_postal_codes_belong_to_the_municipality(municipality, residents):
    households = Household.objects.for_municipality(municipality)
    postal_codes_by_town: dict[str, set[str]] = defaultdict(set)
    for household in households:
        assert household.address.startswith(municipality.full_name)
        assert re.search(r"([一二三四五六七八九]丁目\d+番\d+号|\d+番地)", household.address), household.address
        assert POSTAL_CODE.fullmatch(household.postal_code)
        town = re.match(r"\D+?(?=[一二三四五六七八九]丁目|\d)", household.address.removeprefix(municipality.full_name))
        postal_codes_by_town[town.group(0)].add(household.postal_code)
    assert all(len(codes) == 1 for codes in postal_codes_by_town.values())
    assert len(postal_codes_by_town) > 5


def test_koseki_fields_follow_nationality(municipality, residents):
    for r in residents:
        if r.is_foreign:
            assert r.honseki == "" and r.koseki_head == ""
        else:
            assert r.honseki.endswith(("番地", "番")) and JAPANESE_NAME.fullmatch(r.koseki_head)
    local = sum(r.honseki.startswith(municipality.full_name) for r in residents if not r.is_foreign)
    assert 0.2 < local / sum(not r.is_foreign for r in residents) < 0.8


def test_a_married_couple_and_their_children_share_the_husbands_koseki(residents):
    checked = 0
    for members in households_of(residents).values():
        husband = next((m for m in members if m.relationship in {"世帯主", "夫"} and m.sex == Sex.MALE), None)
        wife = next((m for m in members if m.relationship in {"妻", "世帯主"} and m.sex == Sex.FEMALE), None)
        # A married son (子 with a 子の妻) heads a 戸籍 of his own.
        married_son = any(m.relationship == "子の妻" for m in members)
        if husband is None or wife is None or husband.is_foreign or wife.is_foreign or married_son:
            continue
        for member in [wife, *(m for m in members if m.relationship == "子")]:
            assert (member.koseki_head, member.honseki) == (husband.name, husband.honseki)
            checked += 1
    assert checked > 100


def test_ages_and_dates_are_plausible(residents):
    for members in households_of(residents).values():
        by_relationship: dict[str, list[Resident]] = defaultdict(list)
        for member in members:
            by_relationship[member.relationship].append(member)
        parents = by_relationship["世帯主"] + by_relationship["妻"] + by_relationship["夫"]
        for child in by_relationship["子"]:
            assert all(at_least_years_older(parent, child, 18) for parent in parents)
        for elder in by_relationship["父"] + by_relationship["母"] + by_relationship["妻の母"]:
            assert all(at_least_years_older(elder, member, 18) for member in parents)
        for grandchild in by_relationship["孫"]:
            assert all(at_least_years_older(parent, grandchild, 18)
                       for parent in by_relationship["子"] + by_relationship["子の妻"])
    for r in residents:
        assert 0 <= age_at(r.date_of_birth) < 100
        assert r.date_of_birth <= r.became_resident_on <= REFERENCE_DATE
        if r.relationship in {"世帯主", "妻", "夫", "子の妻", "妻(未届)", "同居人"}:
            assert age_at(r.date_of_birth) >= 19


def test_every_generated_character_prints_with_the_certificate_font(residents):
    from madoguchi.documents.fonts import certificate_font

    font = certificate_font()
    for resident in residents:
        for text in (resident.name, resident.alias, resident.household.address, resident.honseki,
                     resident.koseki_head, resident.former_surname):
            if text:
                font.encode(text)  # raises MissingGlyph for a character the font lacks
