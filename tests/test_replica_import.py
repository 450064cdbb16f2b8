"""Replica imports: full loads with generations, 異動 in sequence, bad input refused or rejected row
by row with the serving replica unchanged, 外字, and the operator's command and page."""

import base64
import datetime
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from madoguchi.applications.models import CertificateRequest, Flag, State
from madoguchi.demo.seal_impression import seal_impression_png
from madoguchi.documents.services import PersonSelectionError, render_certificate
from madoguchi.registry.characters import issuance_blockers
from madoguchi.registry.imports.base import parse_wareki, parse_wareki_code
from madoguchi.registry.imports.contrib.standard.writer import write_standard
from madoguchi.registry.imports.loader import load
from madoguchi.registry.models import (
    AddressRecord,
    AliasRecord,
    CardCertificateLink,
    Household,
    ImportRun,
    IssuanceStop,
    Koseki,
    KosekiMember,
    RemovalReason,
    ReplicaState,
    Resident,
    SealRegistration,
    SupportMeasure,
    TaxRecord,
    UnmappedCharacter,
)
from madoguchi.tenancy.models import Role

pytestmark = pytest.mark.django_db
JST = datetime.timezone(datetime.timedelta(hours=9))
MY_NUMBER = "123456789018"


def png() -> str:
    return base64.b64encode(seal_impression_png("山田")).decode()


def households():
    return [{"household_number": "H1", "postal_code": "100-0001", "address": "東京都窓口市本町一丁目2番3号"},
            {"household_number": "H2", "postal_code": "100-0002", "address": "東京都窓口市栄町4番5号"}]


def residents():
    return [
        {"person_number": "P1", "household_number": "H1", "name": "山田 太郎", "name_kana": "やまだ たろう",
         "date_of_birth": "1970-05-01", "sex": "1", "relationship": "世帯主", "honseki": "東京都窓口市本町一丁目2番地",
         "koseki_head": "山田 太郎", "became_resident_on": "1970-05-01", "became_resident_reason": "出生",
         "address_since": "2010-04-01", "address_notified_on": "2010-04-05",
         "previous_address": "東京都窓口市旧町1番"},
        {"person_number": "P2", "household_number": "H1", "name": "山田 花子", "name_kana": "ﾔﾏﾀﾞ ﾊﾅｺ",
         "date_of_birth": "1972-08-15", "sex": "2", "relationship": "妻", "honseki": "東京都窓口市本町一丁目2番地",
         "koseki_head": "山田 太郎", "former_surname": "佐藤", "former_surname_kana": "さとう",
         "became_resident_on": "1998-06-01", "became_resident_reason": "転入",
         "address_before_moving_in": "大阪府大阪市北区1番"},
        {"person_number": "P3", "household_number": "H2", "name": "NGUYEN VAN AN", "name_kana": "グエン ヴァン アン",
         "date_of_birth": "1995-01-20", "sex": "1", "relationship": "世帯主", "alias": "阮 文安",
         "alias_kana": "グエン ブンアン", "nationality": "ベトナム", "became_resident_on": "2020-04-01",
         "foreign_resident_category": "mid_long_term", "became_foreign_resident_on": "2020-04-01",
         "residence_status": "技術・人文知識・国際業務", "period_of_stay": "3年",
         "period_of_stay_ends_on": "2027-03-31", "residence_card_number": "AB12345678CD"},
    ]


def write_set(path, *, sequence=1, kind="full", code="139998", people=None, homes=None, extra=True,
              as_of=None):
    path.mkdir(parents=True, exist_ok=True)
    as_of = as_of or datetime.datetime(2026, 4, 1, 6, 0, tzinfo=JST)
    common = dict(municipality_code=code, kind=kind, sequence=sequence, as_of=as_of)
    write_standard(path / "household.csv", "household", homes if homes is not None else households(), **common)
    write_standard(path / "resident.csv", "resident", people if people is not None else residents(), **common)
    if not extra:
        return path
    write_standard(path / "address.csv", "address", [
        {"person_number": "P1", "seq": "1", "address": "東京都窓口市旧町1番", "since": "1995-04-01",
         "notified_on": "1995-04-03", "change": "転入"},
        {"person_number": "P1", "seq": "2", "address": "東京都窓口市本町一丁目2番3号", "since": "2010-04-01",
         "notified_on": "2010-04-05", "change": "転居"}], **common)
    write_standard(path / "alias.csv", "alias", [
        {"person_number": "P3", "seq": "1", "alias": "阮 文安", "alias_kana": "グエン ブンアン",
         "recorded_on": "2021-01-10", "recorded_by": "東京都窓口市"}], **common)
    write_standard(path / "seal.csv", "seal", [
        {"person_number": "P1", "registration_number": "S0001", "registered_on": "2011-02-03",
         "impression_png": png(), "uses_former_surname": "0"}], **common)
    write_standard(path / "koseki.csv", "koseki", [
        {"honseki": "東京都窓口市本町一丁目2番地", "head_name": "山田 太郎",
         "events": json.dumps([{"kind": "戸籍編製", "date": "1998-06-01"}], ensure_ascii=False)}], **common)
    write_standard(path / "koseki_member.csv", "koseki_member", [
        {"honseki": "東京都窓口市本町一丁目2番地", "head_name": "山田 太郎", "position": "1", "person_number": "P1",
         "name": "山田 太郎", "name_kana": "ヤマダ タロウ", "date_of_birth": "1970-05-01", "sex": "1",
         "spouse_category": "夫", "father": "山田 一郎", "mother": "山田 春子", "relationship": "長男",
         "events": json.dumps([{"kind": "出生", "date": "1970-05-01", "details": [["出生地", "東京都窓口市"]]}],
                              ensure_ascii=False),
         "address_history": json.dumps([{"address": "東京都窓口市本町一丁目2番3号", "since": "2010-04-01"}],
                                       ensure_ascii=False)},
        {"honseki": "東京都窓口市本町一丁目2番地", "head_name": "山田 太郎", "position": "2", "person_number": "P2",
         "name": "花子", "name_kana": "ハナコ", "date_of_birth": "1972-08-15", "sex": "2", "spouse_category": "妻",
         "relationship": "長女"}], **common)
    write_standard(path / "tax.csv", "tax", [
        {"person_number": "P1", "fiscal_year": "2025", "salary_income": "5000000", "income": "3560000",
         "deductions": "1200000", "dependents": "1", "municipal_per_capita": "3000", "municipal_income_levy": "141600",
         "prefectural_per_capita": "1000", "prefectural_income_levy": "94400",
         "income_breakdown": json.dumps({"給与": 3560000}, ensure_ascii=False),
         "deduction_breakdown": json.dumps({"基礎控除": 430000, "社会保険料控除": 770000}, ensure_ascii=False),
         "address_on_january_1": "東京都窓口市本町一丁目2番3号"}], **common)
    write_standard(path / "support_measure.csv", "support_measure", [
        {"measure_number": "M1", "person_number": "P2", "kind": "dv", "starts_on": "2026-01-01",
         "perpetrators": json.dumps([{"name": "佐藤 次郎", "date_of_birth": "1970-01-01"}], ensure_ascii=False)}],
        **common)
    write_standard(path / "issuance_stop.csv", "issuance_stop", [
        {"stop_number": "T1", "person_number": "P3", "reason": "本人申出", "starts_on": "2026-02-01"}], **common)
    write_standard(path / "card_link.csv", "card_link", [
        {"serial_number": "0123456789ABCDEF", "person_number": "P1", "valid_until": "2030-05-01"}], **common)
    return path


def snapshot(municipality):
    """Everything an import can change, to show that a refused one changed nothing."""
    rows = []
    for model in (Household, Resident, AddressRecord, AliasRecord, SealRegistration, Koseki, KosekiMember,
                  TaxRecord, SupportMeasure, IssuanceStop, CardCertificateLink, UnmappedCharacter):
        rows.append(sorted(map(repr, model.objects.filter(municipality=municipality).values())))
    state = ReplicaState.objects.filter(municipality=municipality).values().first()
    return rows, state


@pytest.fixture
def loaded(municipality, tmp_path):
    run = load(municipality, [write_set(tmp_path / "full1")])
    assert run.state == "applied", (run.refusal, run.rejections)
    return run


# --- full loads ----------------------------------------------------------------------------------

def test_full_load_brings_every_record_into_the_replica(municipality, loaded):
    assert (loaded.added, loaded.changed, loaded.removed, loaded.rejected) == (16, 0, 0, 0)
    taro = Resident.objects.get(municipality=municipality, person_number="P1")
    hanako = Resident.objects.get(municipality=municipality, person_number="P2")
    foreigner = Resident.objects.get(municipality=municipality, person_number="P3")
    assert taro.household.head == taro and taro.address == "東京都窓口市本町一丁目2番3号"
    assert (taro.address_since, taro.address_notified_on, taro.previous_address) == (
        datetime.date(2010, 4, 1), datetime.date(2010, 4, 5), "東京都窓口市旧町1番")
    # 振り仮名 in katakana as on the register, whatever the file had (hiragana, half width).
    kana = (taro.name_kana, hanako.name_kana, hanako.former_surname_kana)
    assert kana == ("ヤマダ タロウ", "ヤマダ ハナコ", "サトウ")
    assert [a.change for a in taro.address_records.all()] == ["転入", "転居"]
    assert foreigner.residence_card_number == "AB12345678CD" and foreigner.period_of_stay_ends_on == datetime.date(
        2027, 3, 31) and foreigner.get_foreign_resident_category_display() == "中長期在留者"
    assert foreigner.alias_records.get().alias == "阮 文安"
    seal = SealRegistration.objects.get(resident=taro)
    assert bytes(seal.impression_png).startswith(b"\x89PNG")
    member = KosekiMember.objects.get(municipality=municipality, position=1)
    assert member.resident == taro and member.spouse_category == "夫" and member.events[0]["kind"] == "出生"
    tax = TaxRecord.objects.get(resident=taro)
    assert (tax.municipal_tax, tax.prefectural_tax, tax.municipal_income_levy) == (144600, 95400, 141600)
    assert tax.deduction_breakdown["基礎控除"] == 430000 and tax.address_on_january_1.startswith("東京都")
    # 支援措置 rows set the flag the request checks read (住民基本台帳事務処理要領 第6-10).
    assert hanako.support_measure and not taro.support_measure
    assert hanako.support_measures.get().perpetrators[0]["name"] == "佐藤 次郎"
    assert foreigner.issuance_stops.get().reason == "本人申出"
    assert CardCertificateLink.objects.get(serial_number="0123456789ABCDEF").resident == taro
    state = ReplicaState.objects.get(municipality=municipality)
    assert state.generation == 1 and state.current_import == loaded and state.sequence == 1
    assert state.data_as_of == datetime.datetime(2026, 4, 1, 6, 0, tzinfo=JST)


def test_the_same_full_file_again_changes_nothing(municipality, loaded, tmp_path):
    before = snapshot(municipality)[0]
    run = load(municipality, [write_set(tmp_path / "again")])
    assert (run.state, run.added, run.changed, run.removed) == ("applied", 0, 0, 0)
    assert snapshot(municipality)[0] == before


def test_people_absent_from_a_full_file_are_marked_removed_never_deleted(municipality, loaded, tmp_path):
    request = CertificateRequest.objects.create(
        municipality=municipality, certificate_type="residence_certificate", purpose="bank", postage_class="regular",
        fee_per_copy=300, postage_amount=110, total_amount=410, state=State.RECEIVED,
        resident=Resident.objects.get(municipality=municipality, person_number="P2"))
    state = ReplicaState.objects.get(municipality=municipality)
    state.max_removed_percent = 50
    state.save()
    people = [p for p in residents() if p["person_number"] != "P2"]
    run = load(municipality, [write_set(tmp_path / "full2", sequence=1, people=people, extra=False)])
    assert (run.state, run.removed) == ("applied", 1)
    gone = Resident.objects.get(municipality=municipality, person_number="P2")
    assert gone.removal_reason == RemovalReason.ABSENT and gone.removed_on == datetime.date(2026, 4, 1)
    assert gone.is_removed and request.resident_id == gone.pk
    assert ReplicaState.objects.get(municipality=municipality).generation == 2


def test_a_full_file_that_would_remove_too_many_is_refused(municipality, loaded, tmp_path):
    before = snapshot(municipality)
    run = load(municipality, [write_set(tmp_path / "few", people=residents()[:1], homes=households()[:1],
                                        extra=False)])
    assert (run.state, run.refusal_code) == ("refused", "too_many_removed")
    assert snapshot(municipality) == before
    assert load(municipality, [tmp_path / "few"], options={"allow_mass_removal": True}).state == "applied"


def test_an_older_full_file_is_refused(municipality, tmp_path):
    assert load(municipality, [write_set(tmp_path / "a", sequence=5)]).state == "applied"
    run = load(municipality, [write_set(tmp_path / "b", sequence=4)])
    assert run.refusal_code == "older_than_replica"


def test_a_full_load_fails_whole_or_not_at_all(municipality, loaded, tmp_path, monkeypatch):
    """A database failure half-way leaves the previous generation serving."""
    from madoguchi.registry.imports import loader

    before = snapshot(municipality)
    people = residents()
    people[0]["name"] = "山田 太朗"
    original = loader._Load.household_heads

    def crash(self):
        original(self)
        raise RuntimeError("disk full")

    monkeypatch.setattr(loader._Load, "household_heads", crash)
    with pytest.raises(RuntimeError):
        load(municipality, [write_set(tmp_path / "crash", people=people)])
    assert snapshot(municipality) == before
    failed = ImportRun.objects.filter(municipality=municipality).first()
    assert failed.state == "failed" and failed.refusal == "RuntimeError"


def test_rejected_people_keep_their_previous_record_when_the_operator_allows_rejections(municipality, loaded,
                                                                                        tmp_path):
    people = residents()
    people[1]["date_of_birth"] = "1972-02-30"
    people[0]["name"] = "山田 太朗"
    run = load(municipality, [write_set(tmp_path / "some", people=people, extra=False)], max_rejected=1)
    assert (run.state, run.rejected, run.changed, run.removed) == ("applied", 1, 1, 0)
    assert run.rejections[0]["code"] == "bad_date" and run.rejections[0]["line"] == 4
    hanako = Resident.objects.get(municipality=municipality, person_number="P2")
    assert not hanako.is_removed and hanako.date_of_birth == datetime.date(1972, 8, 15)


def test_a_full_file_for_one_record_leaves_the_other_records_alone(municipality, loaded, tmp_path):
    path = tmp_path / "seal-only"
    path.mkdir()
    write_standard(path / "seal.csv", "seal", [], municipality_code="139998")
    run = load(municipality, [path])
    assert (run.state, run.removed) == ("applied", 1)  # the core system says: no seal registrations now
    assert not SealRegistration.objects.filter(municipality=municipality).exists()
    assert Koseki.objects.filter(municipality=municipality).count() == 1


# --- differential loads ----------------------------------------------------------------------------

def diff_set(path, sequence, people, *, homes=(), seals=None, trailer=True):
    path.mkdir(parents=True, exist_ok=True)
    common = dict(municipality_code="139998", kind="diff", sequence=sequence)
    write_standard(path / "resident.csv", "resident", people, trailer=trailer, **common)
    if homes:
        write_standard(path / "household.csv", "household", homes, **common)
    if seals is not None:
        write_standard(path / "seal.csv", "seal", seals, **common)
    return path


def moved_out(sequence=2):
    people = [dict(residents()[2], removal_reason="moved_out", removed_on="2026-04-10", moved_to="大阪府大阪市",
                   _op="U", _change="転出")]
    return people


def test_differences_apply_in_sequence_and_once(municipality, loaded, tmp_path):
    renamed = dict(residents()[1], name="山田 はな子", _op="U", _change="氏名変更")
    newborn = dict(person_number="P4", household_number="H1", name="山田 一郎", name_kana="ヤマダ イチロウ",
                   date_of_birth="2026-04-02", sex="1", relationship="子", became_resident_on="2026-04-02",
                   became_resident_reason="出生", _op="U", _change="出生")
    first = diff_set(tmp_path / "d2", 2, [renamed, newborn],
                     seals=[{"person_number": "P1", "_op": "D", "_change": "印鑑廃止"}])
    run = load(municipality, [first])
    assert (run.state, run.added, run.changed, run.removed) == ("applied", 1, 1, 1), run.rejections
    assert Resident.objects.get(municipality=municipality, person_number="P2").name == "山田 はな子"
    assert not SealRegistration.objects.filter(municipality=municipality).exists()
    again = load(municipality, [first])
    assert getattr(again, "repeated", False) and again.pk == run.pk
    assert ReplicaState.objects.get(municipality=municipality).sequence == 2
    run = load(municipality, [diff_set(tmp_path / "d3", 3, moved_out())])
    assert (run.state, run.removed) == ("applied", 1)
    p3 = Resident.objects.get(municipality=municipality, person_number="P3")
    assert p3.removal_reason == "moved_out" and p3.moved_to == "大阪府大阪市"
    assert Household.objects.get(municipality=municipality, household_number="H2").head is None


def test_out_of_sequence_repeated_with_other_content_and_truncated_are_refused(municipality, loaded, tmp_path):
    before = snapshot(municipality)
    assert load(municipality, [diff_set(tmp_path / "d3", 3, moved_out())]).refusal_code == "out_of_sequence"
    assert load(municipality, [diff_set(tmp_path / "d1", 1, moved_out())]).refusal_code == "repeated_sequence"
    run = load(municipality, [diff_set(tmp_path / "cut", 2, moved_out(), trailer=False)])
    assert run.refusal_code == "truncated"
    path = diff_set(tmp_path / "short", 2, moved_out())
    text = (path / "resident.csv").read_text().replace("#END,1", "#END,2")
    (path / "resident.csv").write_text(text)
    assert load(municipality, [path]).refusal_code == "truncated"
    assert snapshot(municipality) == before


def test_a_difference_before_any_full_load_is_refused(municipality, tmp_path):
    assert load(municipality, [diff_set(tmp_path / "d", 1, moved_out())]).refusal_code == "no_full_load"


def test_a_difference_leaving_a_household_without_head_is_refused(municipality, loaded, tmp_path):
    before = snapshot(municipality)
    gone = [dict(residents()[0], removal_reason="deceased", removed_on="2026-04-03", _op="U", _change="死亡")]
    run = load(municipality, [diff_set(tmp_path / "d", 2, gone)])
    assert run.refusal_code == "household_without_head"
    assert snapshot(municipality) == before


def test_a_difference_with_any_rejected_row_is_refused_whole(municipality, loaded, tmp_path):
    bad = [dict(residents()[0], date_of_birth="平成31年5月1日", _op="U", _change="職権修正")]
    run = load(municipality, [diff_set(tmp_path / "d", 2, bad)], max_rejected=10)
    assert run.refusal_code == "rejected_rows" and run.rejections[0]["code"] == "bad_date"


def test_a_person_cannot_be_deleted_by_a_difference(municipality, loaded, tmp_path):
    run = load(municipality, [diff_set(tmp_path / "d", 2, [dict(residents()[0], _op="D", _change="職権消除")])])
    assert run.rejections[0]["code"] == "delete_person"


# --- queue flags -------------------------------------------------------------------------------------

def test_requests_in_the_queue_are_flagged_when_their_resident_changes(municipality, loaded, tmp_path,
                                                                       django_capture_on_commit_callbacks):
    def request_for(number, state=State.RECEIVED):
        return CertificateRequest.objects.create(
            municipality=municipality, certificate_type="residence_certificate", purpose="bank",
            postage_class="regular", fee_per_copy=300, postage_amount=110, total_amount=410, state=state,
            resident=Resident.objects.get(municipality=municipality, person_number=number))

    renamed, gone, untouched, done = request_for("P2"), request_for("P3"), request_for("P1"), request_for(
        "P2", State.MAILED)
    with django_capture_on_commit_callbacks(execute=True):
        run = load(municipality, [diff_set(tmp_path / "d", 2, [
            dict(residents()[1], name="山田 はな子", _op="U", _change="氏名変更"), *moved_out()])])
    assert run.state == "applied"
    for r in (renamed, gone, untouched, done):
        r.refresh_from_db()
    assert renamed.flags == [Flag.REPLICA_CHANGED] and not renamed.auto_acceptable
    assert gone.flags == [Flag.RESIDENT_REMOVED]
    assert untouched.flags == [] and done.flags == []


# --- bad input -----------------------------------------------------------------------------------------

def test_bad_files_are_refused_and_the_replica_is_unchanged(municipality, loaded, tmp_path):
    before = snapshot(municipality)
    cases = {}
    base = write_set(tmp_path / "base", extra=False)
    good = (base / "resident.csv").read_bytes()

    def variant(name, data: bytes):
        path = tmp_path / name
        path.mkdir()
        (path / "household.csv").write_bytes((base / "household.csv").read_bytes())
        (path / "resident.csv").write_bytes(data)
        cases[name] = path

    variant("cp932", good.decode().encode("cp932"))
    lines = good.split(b"\n")
    variant("mixed", b"\r\n".join(lines[:3]) + b"\r\n" + b"\n".join(lines[3:]))
    variant("empty", b"")
    variant("other_town", good.replace(b",139998,", b",082082,"))
    variant("surrogate", good.replace("花子".encode(), b"\xed\xa0\x80"))
    variant("after_trailer", good + b"P9,H1\n")
    variant("unknown_column", good.replace(b"person_number,", b"person_no,", 1))
    expected = {"cp932": "bad_encoding", "mixed": "mixed_line_endings", "empty": "empty",
                "other_town": "other_municipality", "surrogate": "bad_encoding",
                "after_trailer": "data_after_trailer", "unknown_column": "bad_columns"}
    for name, path in cases.items():
        run = load(municipality, [path])
        assert (name, run.state, run.refusal_code) == (name, "refused", expected[name])
        assert run.refusal
    assert snapshot(municipality) == before


def test_a_bom_and_quoted_commas_are_read_as_meant(municipality, tmp_path):
    path = write_set(tmp_path / "bom", homes=[dict(households()[0], address="東京都窓口市本町1-2,3号 \"コーポ\""),
                                              households()[1]], extra=False)
    (path / "household.csv").write_bytes(b"\xef\xbb\xbf" + (path / "household.csv").read_bytes())
    assert load(municipality, [path]).state == "applied"
    assert Household.objects.get(household_number="H1").address == "東京都窓口市本町1-2,3号 \"コーポ\""


def rejected_codes(run):
    return sorted({(r["line"], r["code"]) for r in run.rejections})


def test_bad_rows_are_rejected_one_by_one_with_their_reason(municipality, loaded, tmp_path):
    before = snapshot(municipality)
    people = residents()
    people.append(dict(people[1]))  # line 6: duplicate key (line 4)
    people.append(dict(people[2], person_number="P5", household_number="H2", relationship="子",
                       name="A\x00B"))  # line 7: NUL byte
    people.append(dict(people[2], person_number="P6", household_number="H9"))  # line 8: unknown household
    run = load(municipality, [write_set(tmp_path / "rows", people=people, extra=False)])
    assert run.state == "refused" and run.refusal_code == "rejected_rows"
    assert rejected_codes(run) == [(4, "duplicate_key"), (6, "duplicate_key"), (7, "control_character"),
                                   (8, "unknown_household")]
    assert "A" not in json.dumps(run.rejections).replace("ASCII", "")  # names no value
    assert snapshot(municipality) == before


def test_a_person_in_two_households_and_a_household_without_head(municipality, tmp_path):
    people = residents()
    people.append(dict(people[1], household_number="H2"))
    homes = [*households(), {"household_number": "H3", "address": "東京都窓口市北町1番"}]
    people.append(dict(people[2], person_number="P7", household_number="H3", relationship="同居人"))
    run = load(municipality, [write_set(tmp_path / "x", people=people, homes=homes, extra=False)])
    codes = {r["code"] for r in run.rejections}
    assert run.state == "refused" and {"two_households", "household_without_head"} <= codes
    assert not Resident.objects.filter(municipality=municipality).exists()


def test_a_koseki_member_without_its_head(municipality, loaded, tmp_path):
    path = tmp_path / "k"
    path.mkdir()
    write_standard(path / "koseki_member.csv", "koseki_member", [
        {"honseki": "東京都窓口市栄町4番地", "head_name": "鈴木 一", "position": "2", "name": "鈴木 二",
         "date_of_birth": "2000-01-01", "sex": "1", "relationship": "二男"}], municipality_code="139998")
    run = load(municipality, [path])
    assert {r["code"] for r in run.rejections} == {"unknown_koseki", "koseki_without_head"} or \
        {r["code"] for r in run.rejections} == {"unknown_koseki"}


def test_a_ten_megabyte_line_is_rejected_not_read_into_a_field(municipality, loaded, tmp_path):
    path = write_set(tmp_path / "long", extra=False)
    data = (path / "resident.csv").read_bytes().split(b"\n")
    data.insert(3, b"P8," + b"x" * (10 * 1024 * 1024))
    (path / "resident.csv").write_bytes(b"\n".join(data).replace(b"#END,3", b"#END,4"))
    run = load(municipality, [path])
    assert run.refusal_code == "rejected_rows" and rejected_codes(run) == [(4, "line_too_long")]


def test_wareki_dates_that_do_not_exist():
    assert parse_wareki("平成31年4月30日") == datetime.date(2019, 4, 30)
    assert parse_wareki("令和元年5月1日") == datetime.date(2019, 5, 1)
    assert parse_wareki_code("5010501") == datetime.date(2019, 5, 1)
    from madoguchi.registry.imports.base import RowError

    for text in ("平成31年5月1日", "令和元年4月30日", "昭和64年1月8日", "平成2年2月30日", "令和0年1月1日"):
        with pytest.raises(RowError):
            parse_wareki(text)
    with pytest.raises(RowError):
        parse_wareki_code("4310501")


# --- vendor mapping ------------------------------------------------------------------------------------

MAPPING = """
vendor = "テスト住記"
encoding = "cp932"
layout = "csv"
date_style = "wareki"
header_lines = 1
trailer_prefix = "E"
kinds = { ZEN = "full", IDO = "diff" }

[records.household]
file = '^SETAI_(?P<municipality>\\d{6})_(?P<kind>ZEN|IDO)_(?P<sequence>\\d{4})_(?P<as_of>\\d{14})\\.csv$'
columns = { household_number = 1, postal_code = 2, address = 3 }

[records.resident]
file = '^KOJIN_(?P<municipality>\\d{6})_(?P<kind>ZEN|IDO)_(?P<sequence>\\d{4})_(?P<as_of>\\d{14})\\.csv$'
dropped = [3]
[records.resident.columns]
person_number = 1
household_number = 2
name = 4
name_kana = 5
date_of_birth = 6
sex = 7
relationship = 8
became_resident_on = 9
[records.resident.codes]
sex = { "M" = "1", "F" = "2" }
relationship = { "01" = "世帯主", "02" = "妻", "03" = "子" }
"""


def vendor_files(path, rows, *, mapping=MAPPING):
    path.mkdir()
    (path / "mapping.toml").write_text(mapping, encoding="utf-8")
    data = path / "data"
    data.mkdir()
    (data / "SETAI_139998_ZEN_0001_20260401060000.csv").write_bytes(
        "世帯番号,郵便番号,住所\r\nH1,100-0001,東京都窓口市本町一丁目2番3号\r\nE,1\r\n".encode("cp932"))
    body = "宛名番号,世帯番号,個人番号,氏名,カナ,生年月日,性別,続柄,住民日\r\n" + "".join(
        ",".join(r) + "\r\n" for r in rows) + f"E,{len(rows)}\r\n"
    (data / "KOJIN_139998_ZEN_0001_20260401060000.csv").write_bytes(body.encode("cp932"))
    return data, path / "mapping.toml"


def test_a_vendor_file_through_its_mapping(municipality, tmp_path):
    rows = [["P1", "H1", MY_NUMBER, "山田 太郎", "ﾔﾏﾀﾞ ﾀﾛｳ", "昭和45年5月1日", "M", "01", "昭和45年5月1日"],
            ["P2", "H1", MY_NUMBER, "山田 \ue000子", "ヤマダ ハナコ", "昭和47年8月15日", "F", "02", "平成10年6月1日"],
            ["P3", "H1", MY_NUMBER, "山田 次郎", "ヤマダ ジロウ", "平成31年5月1日", "M", "03", "令和元年5月1日"],
            ["P4", "H1", MY_NUMBER, "山田 三郎", "ヤマダ サブロウ", "令和2年1月1日", "X", "03", "令和2年1月1日"]]
    data, mapping = vendor_files(tmp_path / "v", rows)
    run = load(municipality, [data], format_name="mapped", options={"mapping": str(mapping)}, max_rejected=2)
    assert run.state == "applied", run.refusal
    assert rejected_codes(run) == [(4, "bad_wareki"), (5, "bad_code")]
    assert run.unmapped_characters == {"F040": 1}
    hanako = Resident.objects.get(municipality=municipality, person_number="P2")
    assert hanako.date_of_birth == datetime.date(1972, 8, 15) and hanako.relationship == "妻"
    assert Resident.objects.get(person_number="P1").name_kana == "ヤマダ タロウ"
    # 個人番号 is dropped while parsing: it is nowhere in the database, the run or its report.
    with connection.cursor() as cursor:
        for model in (Resident, Household, ImportRun, UnmappedCharacter):
            table = model._meta.db_table
            columns = [f.column for f in model._meta.concrete_fields if f.get_internal_type() in (
                "CharField", "TextField", "JSONField")]
            cursor.execute(f"SELECT {', '.join(columns)} FROM {table}")
            assert MY_NUMBER not in repr(cursor.fetchall())
    # 外字: imported and flagged; issuance stops until mapped, then resumes.
    assert issuance_blockers(hanako) and "F040" in issuance_blockers(hanako)[0]
    request = CertificateRequest(municipality=municipality, certificate_type="residence_certificate",
                                 resident=hanako, options={"scope": "self"})
    with pytest.raises(PersonSelectionError, match="外字"):
        render_certificate(request, "1", "2", datetime.date(2026, 4, 2))
    out = io.StringIO()
    call_command("replica", "gaiji", "--municipality", "139998", "--map", "F040=\U00020B9F", stdout=out)
    hanako.refresh_from_db()
    assert hanako.name == "山田 \U00020B9F子" and not issuance_blockers(hanako)


def test_a_fixed_width_shift_jis_file(municipality, tmp_path):
    mapping = """
encoding = "shift_jis"
layout = "fixed"
date_style = "yyyymmdd"
trailer_prefix = "E"
kinds = { Z = "full" }
[records.household]
file = '^H(?P<municipality>\\d{6})(?P<kind>Z)(?P<sequence>\\d{3})(?P<as_of>\\d{14})\\.dat$'
columns = { household_number = [1, 4], address = [5, 20] }
[records.resident]
file = '^R(?P<municipality>\\d{6})(?P<kind>Z)(?P<sequence>\\d{3})(?P<as_of>\\d{14})\\.dat$'
dropped = [9]
[records.resident.columns]
person_number = [1, 4]
household_number = [5, 4]
name = [21, 12]
name_kana = [33, 12]
date_of_birth = [45, 8]
sex = [53, 1]
relationship = [54, 6]
became_resident_on = [45, 8]
"""
    (tmp_path / "m.toml").write_text(mapping, encoding="utf-8")
    data = tmp_path / "d"
    data.mkdir()

    def fixed(*parts):
        out = b""
        for text, width in parts:
            raw = text.encode("shift_jis")
            out += raw + b" " * (width - len(raw))
        return out

    (data / "H139998Z00120260401060000.dat").write_bytes(
        fixed(("H001", 4), ("東京都窓口市本町１", 20)) + b"\r\n" + b"E1\r\n")
    (data / "R139998Z00120260401060000.dat").write_bytes(
        fixed(("P001", 4), ("H001", 4), (MY_NUMBER, 12), ("山田　太郎", 12), ("ﾔﾏﾀﾞ ﾀﾛｳ", 12), ("19700501", 8),
              ("1", 1), ("世帯主", 6)) + b"\r\n" + b"E1\r\n")
    run = load(municipality, [data], format_name="mapped", options={"mapping": str(tmp_path / "m.toml")})
    assert run.state == "applied", (run.refusal, run.rejections)
    taro = Resident.objects.get(municipality=municipality, person_number="P001")
    assert (taro.name, taro.name_kana) == ("山田　太郎", "ヤマダ タロウ")
    assert taro.date_of_birth == datetime.date(1970, 5, 1)
    assert taro.household.address == "東京都窓口市本町１" and taro.household.head == taro


def test_a_mapping_that_would_keep_my_number_is_refused(municipality, tmp_path):
    bad = MAPPING.replace("name = 4\n", "name = 4\nmy_number = 3\n")
    data, mapping = vendor_files(tmp_path / "v", [], mapping=bad)
    run = load(municipality, [data], format_name="mapped", options={"mapping": str(mapping)})
    assert run.refusal_code == "bad_mapping"


# --- the operator's command and the manager's page ----------------------------------------------------------

def test_replica_command_import_dry_run_status_verify(municipality, tmp_path):
    path = write_set(tmp_path / "c")
    out = io.StringIO()
    call_command("replica", "import", "--municipality", "139998", "--dry-run", "--no-progress", str(path),
                 stdout=out)
    assert "dry_run" in out.getvalue() and not Resident.objects.exists()
    call_command("replica", "import", "--municipality", "139998", "--no-progress", str(path), stdout=out)
    assert Resident.objects.count() == 3
    call_command("replica", "status", "--municipality", "139998", stdout=out)
    call_command("replica", "verify", "--municipality", "139998", stdout=out)
    assert "generation 1" in out.getvalue() and "consistent" in out.getvalue()
    bad = write_set(tmp_path / "bad", people=[dict(residents()[0], date_of_birth="1970-13-01"), *residents()[1:]],
                    extra=False)
    with pytest.raises(CommandError, match="rejected_rows"):
        call_command("replica", "import", "--municipality", "139998", "--no-progress", str(bad), stdout=out)
    assert "resident.csv:3 [resident] bad_date" in out.getvalue()
    assert "山田" not in out.getvalue()  # no personal data in the operator's output


def test_manager_page_shows_imports_freshness_and_the_alarm(municipality, loaded, client):
    from tests.test_backoffice import make_staff, signed_in

    manager = signed_in(make_staff(municipality, "manager", Role.MANAGER))
    page = manager.get(reverse("registry_office:imports")).content.decode()
    assert "副本の更新日時" in page and "2026/4/1 06:00" in page and "全件" in page
    assert "更新されていません" in page  # 2026-04-01 is older than 26 hours by the time this runs
    clerk = signed_in(make_staff(municipality, "clerk"))
    assert clerk.get(reverse("registry_office:imports")).status_code == 403


# --- the demo through the real path ----------------------------------------------------------------

def test_the_demo_replica_goes_through_the_importer(municipality, tmp_path):
    from madoguchi.demo.replica_files import write_replica_files
    from madoguchi.demo.synthetic import hard_cases, plan_replica

    planned = [m for _h, members in plan_replica(municipality, count=120) for m in members]
    run = load(municipality, [write_replica_files(municipality, tmp_path / "demo", count=120)])
    assert (run.state, run.rejected) == ("applied", 0), (run.refusal, run.rejections[:3])
    residents = list(Resident.objects.filter(municipality=municipality).select_related("household"))
    assert len(residents) == len(planned) == 120
    assert all(not any("\u3041" <= ch <= "\u3096" for ch in r.name_kana) for r in residents)  # katakana
    flagged = {r.person_number for r in residents if r.support_measure}
    assert flagged == {r.person_number for r in planned if r.support_measure}
    assert all(h.head is not None for h in Household.objects.filter(municipality=municipality))
    assert "ordinary" in hard_cases(residents)
    assert KosekiMember.objects.filter(municipality=municipality, resident__isnull=False).exists()
    assert TaxRecord.objects.filter(municipality=municipality).exists()
