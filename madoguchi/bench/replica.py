"""Replica import benchmarks, always on PostgreSQL (the production database), whatever the rest of
`make bench` runs on:

- `replica_import_full`: `manage.py replica import` of a full 住民記録 set of 1,500,000 residents (a
  city the size of 神戸市) with their households and address history, into an empty replica, in a
  process of its own: the load as the import records it (reading, checks, apply and commit; the
  process's start-up is printed beside it, not counted);
- `replica_import_full_peak_rss`: that process's peak resident set size (ru_maxrss from wait4);
- `replica_import_naive_ratio`: the same rows through the ORM with bulk_create(batch_size=2000), on a
  100,000-resident slice scaled to 1,500,000, divided by ours, in the same run;
- `replica_import_diff`: 10,000 異動 applied to that replica.

The files are generated once and cached under .bench/replica/ (not timed). The database is
`MADOGUCHI_BENCH_POSTGRES_URL` (default: database `madoguchi_bench_replica` on the local server),
created when missing; its replica tables are emptied before each run.
"""

import datetime
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

FULL_RESIDENTS = int(os.environ.get("MADOGUCHI_BENCH_REPLICA_RESIDENTS", 1_500_000))
NAIVE_RESIDENTS = 100_000
DIFF_ROWS = 10_000
CODE, NAIVE_CODE = "139998", "082082"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/madoguchi_bench_replica"
ROOT = Path(__file__).resolve().parent.parent.parent
CACHE = ROOT / ".bench" / "replica"
JST = datetime.timezone(datetime.timedelta(hours=9))
AS_OF = datetime.datetime(2026, 4, 1, 6, 0, tzinfo=JST)

_SURNAMES = (("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("伊藤", "イトウ"),
             ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"), ("小林", "コバヤシ"), ("加藤", "カトウ"),
             ("吉田", "ヨシダ"), ("山田", "ヤマダ"), ("佐々木", "ササキ"), ("山口", "ヤマグチ"), ("松本", "マツモト"))
_MALE = (("誠", "マコト"), ("健一", "ケンイチ"), ("大輔", "ダイスケ"), ("翔太", "ショウタ"), ("蓮", "レン"),
         ("博", "ヒロシ"))
_FEMALE = (("恵子", "ケイコ"), ("裕子", "ユウコ"), ("愛", "アイ"), ("美咲", "ミサキ"), ("陽葵", "ヒマリ"),
           ("和子", "カズコ"))
_TOWNS = ("本町", "栄町", "緑町", "旭町", "港町", "中央", "東町", "西町", "南町", "北町")


def database_url() -> str:
    return os.environ.get("MADOGUCHI_BENCH_POSTGRES_URL", DEFAULT_URL)


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


# --- files --------------------------------------------------------------------------------------

def _header(record: str, kind: str, sequence: int, code: str) -> str:
    return f"#MADOGUCHI-REPLICA,1,{record},{kind},{code},{sequence},{AS_OF.isoformat()}\n"


def generate(directory: Path, residents: int, code: str = CODE) -> None:
    """A full set: households of 1–5 people, a 世帯主 each, ~40 % with earlier addresses in town."""
    from madoguchi.registry.imports.base import RECORDS

    rng = random.Random(20260401)
    directory.mkdir(parents=True, exist_ok=True)
    hcols = ["household_number", "postal_code", "address"]
    rcols = ["person_number", "household_number", "name", "name_kana", "date_of_birth", "sex", "relationship",
             "honseki", "koseki_head", "became_resident_on", "became_resident_reason", "address_since",
             "address_notified_on", "previous_address", "nationality", "foreign_resident_category",
             "residence_status", "period_of_stay", "period_of_stay_ends_on", "residence_card_number"]
    acols = [c.name for c in RECORDS["address"].columns]
    counts = {"household": 0, "resident": 0, "address": 0}
    tmp = {name: directory / f".{name}.csv" for name in counts}
    with open(tmp["household"], "w", encoding="utf-8") as hf, open(tmp["resident"], "w", encoding="utf-8") as rf, \
            open(tmp["address"], "w", encoding="utf-8") as af:
        hf.write(_header("household", "full", 1, code) + ",".join(hcols) + "\n")
        rf.write(_header("resident", "full", 1, code) + ",".join(rcols) + "\n")
        af.write(_header("address", "full", 1, code) + ",".join(acols) + "\n")
        person = household = 0
        while person < residents:
            household += 1
            size = min(rng.choice((1, 1, 1, 2, 2, 2, 3, 3, 4, 5)), residents - person)
            town = _TOWNS[household % len(_TOWNS)]
            address = f"東京都窓口市{town}{household % 9 + 1}丁目{household % 40 + 1}番{household % 25 + 1}号"
            hnum = f"H{household:09d}"
            hf.write(f"{hnum},{100 + household % 900:03d}-{household % 10000:04d},{address}\n")
            surname, skana = _SURNAMES[household % len(_SURNAMES)]
            head_year = 1940 + rng.randrange(60)
            for i in range(size):
                person += 1
                male = (i == 0) == (rng.random() < 0.7)
                given, gkana = (_MALE if male else _FEMALE)[rng.randrange(6)]
                year = head_year + (0 if i < 2 else 25 + i)
                born = datetime.date(min(year, 2025), 1 + person % 12, 1 + person % 28).isoformat()
                moved = rng.random() < 0.4
                since = f"{2000 + person % 25}-04-01"
                foreign = person % 50 == 0
                rf.write(",".join((
                    f"P{person:010d}", hnum, f"{surname} {given}", f"{skana} {gkana}", born, "1" if male else "2",
                    "世帯主" if i == 0 else ("妻" if i == 1 else "子"),
                    "" if foreign else f"東京都窓口市{town}{household % 9 + 1}番地",
                    "" if foreign else f"{surname} 太郎",
                    since if i else born, "転入" if i else "出生", since, f"{since[:8]}05",
                    f"東京都窓口市旧町{person % 30 + 1}番" if moved else "",
                    "ベトナム" if foreign else "", "mid_long_term" if foreign else "",
                    "技能実習" if foreign else "", "3年" if foreign else "", "2027-03-31" if foreign else "",
                    f"AB{person:08d}CD" if foreign else "")) + "\n")
                if moved:
                    for seq in range(1, 2 + person % 2):
                        af.write(f"P{person:010d},{seq},東京都窓口市旧町{person % 30 + seq}番,"
                                 f"{1990 + seq * 5}-04-01,{1990 + seq * 5}-04-03,{'転入' if seq == 1 else '転居'}\n")
                        counts["address"] += 1
            counts["resident"] += size
            counts["household"] += 1
        hf.write(f"#END,{counts['household']}\n")
        rf.write(f"#END,{counts['resident']}\n")
        af.write(f"#END,{counts['address']}\n")
    for name, path in tmp.items():
        path.rename(directory / f"{name}.csv")


def generate_diff(directory: Path, full: Path, rows: int, sequence: int = 2) -> None:
    """異動 after-images of `rows` residents of the full set: 転居 (new 住所を定めた年月日 and 従前の住所),
    氏名変更, and 転出 of members who are not 世帯主."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(full / "resident.csv", encoding="utf-8") as f:
        f.readline()
        columns = f.readline().rstrip("\n").split(",")
        picked = []
        step = 37
        for n, line in enumerate(f):
            if line.startswith("#END"):
                break
            if n % step == 0:
                picked.append(line.rstrip("\n").split(","))
                if len(picked) == rows:
                    break
    index = {c: i for i, c in enumerate(columns)}
    out_columns = [*columns, "removed_on", "removal_reason", "moved_to", "_op", "_change"]
    with open(directory / ".resident.csv", "w", encoding="utf-8") as out:
        out.write(_header("resident", "diff", sequence, CODE) + ",".join(out_columns) + "\n")
        for n, row in enumerate(picked):
            extra = ["", "", ""]
            if n % 10 == 0 and row[index["relationship"]] != "世帯主":
                extra, change = ["2026-04-15", "moved_out", "大阪府大阪市北区1番"], "転出"
            elif n % 10 == 1:
                row[index["name"]] = row[index["name"]] + "子"
                change = "氏名変更"
            else:
                row[index["previous_address"]] = "東京都窓口市旧町99番"
                row[index["address_since"]] = "2026-04-10"
                row[index["address_notified_on"]] = "2026-04-12"
                change = "転居"
            out.write(",".join([*row, *extra, "U", change]) + "\n")
        out.write(f"#END,{len(picked)}\n")
    (directory / ".resident.csv").rename(directory / "resident.csv")


def slice_of(full: Path, directory: Path, residents: int, code: str) -> None:
    """The first `residents` people of the full set (whole households), for the naive comparison."""
    directory.mkdir(parents=True, exist_ok=True)
    households, people = set(), set()
    for name in ("resident", "household", "address"):
        count = 0
        with open(full / f"{name}.csv", encoding="utf-8") as f, open(directory / f"{name}.csv", "w",
                                                                       encoding="utf-8") as out:
            out.write(f.readline().replace(f",{CODE},", f",{code},"))
            out.write(f.readline())
            for line in f:
                if line.startswith("#END"):
                    break
                key = line.split(",", 2)
                if name == "resident":
                    if len(people) >= residents and key[1] not in households:
                        break
                    people.add(key[0])
                    households.add(key[1])
                elif (key[0] not in households) if name == "household" else (key[0] not in people):
                    continue
                out.write(line)
                count += 1
            out.write(f"#END,{count}\n")


# --- the timed children ------------------------------------------------------------------------

def _setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()


def naive_load(directory: Path, code: str) -> float:
    """What the ORM does with the same rows: csv, then bulk_create(batch_size=2000) per model."""
    import csv

    from madoguchi.registry.models import AddressRecord, Household, Resident
    from madoguchi.tenancy.models import Municipality

    municipality = Municipality.objects.get(code=code)
    start = time.perf_counter()

    def rows(name):
        with open(directory / f"{name}.csv", encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            next(reader)
            columns = next(reader)
            for row in reader:
                if row[0] == "#END":
                    return
                yield dict(zip(columns, row, strict=True))

    def date(value):
        return datetime.date.fromisoformat(value) if value else None

    Household.objects.bulk_create((Household(municipality=municipality, household_number=r["household_number"],
                                             postal_code=r["postal_code"], address=r["address"])
                                   for r in rows("household")), batch_size=2000)
    households = dict(Household.objects.filter(municipality=municipality).values_list("household_number", "id"))
    Resident.objects.bulk_create((Resident(
        municipality=municipality, household_id=households[r["household_number"]], person_number=r["person_number"],
        name=r["name"], name_kana=r["name_kana"], date_of_birth=date(r["date_of_birth"]), sex=r["sex"],
        relationship=r["relationship"], honseki=r["honseki"], koseki_head=r["koseki_head"],
        became_resident_on=date(r["became_resident_on"]), became_resident_reason=r["became_resident_reason"],
        address_since=date(r["address_since"]), address_notified_on=date(r["address_notified_on"]),
        previous_address=r["previous_address"], nationality=r["nationality"],
        foreign_resident_category=r["foreign_resident_category"], residence_status=r["residence_status"],
        period_of_stay=r["period_of_stay"], period_of_stay_ends_on=date(r["period_of_stay_ends_on"]),
        residence_card_number=r["residence_card_number"]) for r in rows("resident")), batch_size=2000)
    people = dict(Resident.objects.filter(municipality=municipality).values_list("person_number", "id"))
    heads = [Household(id=households[r["household_number"]], head_id=people[r["person_number"]])
             for r in rows("resident") if r["relationship"] == "世帯主"]
    Household.objects.bulk_update(heads, ["head"], batch_size=2000)
    AddressRecord.objects.bulk_create((AddressRecord(
        municipality=municipality, resident_id=people[r["person_number"]], seq=int(r["seq"]), address=r["address"],
        since=date(r["since"]), notified_on=date(r["notified_on"]), change=r["change"]) for r in rows("address")),
        batch_size=2000)
    return time.perf_counter() - start


def child(argv: list[str]) -> int:
    """`python -m madoguchi.bench.replica naive <dir> <code>`: prints the seconds of the load."""
    _setup(database_url())
    print(f"{naive_load(Path(argv[1]), argv[2]):.3f}", flush=True)
    return 0


def _timed(args: list[str], env: dict) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB (ru_maxrss of this child, from wait4) and stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.stdout.read(), proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"{args[2:4]} failed ({proc.returncode}): {err[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024, out


def _reset(url: str) -> None:
    """Migrate the bench database and empty its replica (from an earlier run)."""
    import psycopg

    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "1"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"], cwd=ROOT, env=env,
                   check=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE registry_household, registry_resident, registry_addressrecord, registry_aliasrecord, "
                     "registry_sealregistration, registry_koseki, registry_kosekimember, registry_taxrecord, "
                     "registry_supportmeasure, registry_issuancestop, registry_cardcertificatelink, "
                     "registry_unmappedcharacter, registry_replicastate, registry_importrun CASCADE")
    code = ("from madoguchi.tenancy.models import Municipality\n"
            "for code, name in (('139998', '窓口市'), ('082082', '龍ケ崎市')):\n"
            "    Municipality.objects.get_or_create(code=code, defaults=dict(name=name, prefecture='東京都', "
            "certifier_title='市長', certifier_name='窓口 一郎'))\n")
    subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True)


def _load_seconds(out: str) -> float:
    found = re.search(r"\(applied\).* in ([0-9.]+) s", out)
    if not found:
        raise RuntimeError(out)
    return float(found.group(1))


def run(report) -> None:
    url = database_url()
    ensure_database(url)
    full, diff = CACHE / f"full-{FULL_RESIDENTS}", CACHE / f"diff-{DIFF_ROWS}"
    naive = CACHE / f"naive-{NAIVE_RESIDENTS}"
    if not (full / "resident.csv").exists():
        generate(full, FULL_RESIDENTS)
    if not (diff / "resident.csv").exists():
        generate_diff(diff, full, DIFF_ROWS)
    if not (naive / "resident.csv").exists():
        slice_of(full, naive, NAIVE_RESIDENTS, NAIVE_CODE)
    _reset(url)
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "1"}
    print(f"# replica benchmarks on PostgreSQL ({url.rsplit('@', 1)[-1]}), files in {CACHE.relative_to(ROOT)}",
          flush=True)
    command = [sys.executable, "manage.py", "replica", "import", "--municipality", CODE, "--no-progress"]
    wall, peak, out = _timed([*command, str(full)], env)
    seconds = _load_seconds(out)
    report("replica_import_full", seconds, "s")
    print(f"# full: process wall time {wall:.1f} s", flush=True)
    report("replica_import_full_peak_rss", peak, "MiB")
    naive_seconds = float(_timed([sys.executable, "-m", "madoguchi.bench.replica", "naive", str(naive),
                                  NAIVE_CODE], env)[2])
    ours_per_resident = seconds / FULL_RESIDENTS
    report("replica_import_naive_ratio", naive_seconds / NAIVE_RESIDENTS / ours_per_resident, "x")
    print(f"# naive: {naive_seconds:.1f} s for {NAIVE_RESIDENTS} residents, scaled ×{FULL_RESIDENTS // NAIVE_RESIDENTS}"
          f" = {naive_seconds * FULL_RESIDENTS / NAIVE_RESIDENTS:.0f} s", flush=True)
    wall, _peak, out = _timed([*command, str(diff)], env)
    report("replica_import_diff", _load_seconds(out), "s")
    print(f"# diff: process wall time {wall:.1f} s", flush=True)


if __name__ == "__main__":
    sys.exit(child(sys.argv[1:]))
