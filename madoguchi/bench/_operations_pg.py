"""The statistics benchmarks on the local PostgreSQL server (run by bench.operations in a process
of its own): one municipality with 1,000,000 requests beside 20 with 100,000 each, generated with
set-based SQL (INSERT … SELECT over generate_series) into a database kept between runs; the marker
file under .bench/ says which fixture the database holds.

    BENCH stats_rebuild <s> s     the large municipality's aggregates rebuilt from its events
    BENCH stats_dashboard <ms> ms p95 of 200 loads of the statistics page, random filters
"""

import datetime
import json
import os
import random
import statistics
import sys
import time

import dj_database_url

from madoguchi.bench import BENCH_DIR

MARKER = BENCH_DIR / "stats_fixture.json"
FIXTURE_VERSION = 1
LARGE = int(os.environ.get("MADOGUCHI_BENCH_STATS_LARGE", "1000000"))
SMALL = int(os.environ.get("MADOGUCHI_BENCH_STATS_SMALL", "100000"))
OTHERS = int(os.environ.get("MADOGUCHI_BENCH_STATS_OTHERS", "20"))
HOUSEHOLDS = 2000
SPAN_DAYS = 3 * 365
LOADS = 200
KINDS = ["residence_certificate", "residence_entry_certificate", "seal_certificate", "koseki_full",
         "koseki_individual", "koseki_fuhyo", "tax_certificate"]


def _ensure_database(url: str) -> None:
    import psycopg

    config = dj_database_url.parse(url)
    admin = dict(host=config["HOST"] or "127.0.0.1", port=config["PORT"] or 5432, user=config["USER"],
                 password=config["PASSWORD"] or None, dbname="postgres", autocommit=True)
    with psycopg.connect(**admin) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{config["NAME"]}"')


def _setup() -> None:
    os.environ.setdefault("MADOGUCHI_TASK_BACKEND", "django_tasks.backends.immediate.ImmediateBackend")
    os.environ.setdefault("DEBUG", "1")
    _ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _codes(n: int) -> list[str]:
    from madoguchi.tenancy.models import municipality_code_check_digit

    return [f"{13101 + i:05d}{municipality_code_check_digit(f'{13101 + i:05d}')}" for i in range(n)]


def _insert_select(model, given: dict[str, str], source: str, params: list) -> None:
    """INSERT INTO model's table SELECT given expressions FROM source; every other column gets
    its default (NULL, the field's default, or '' for a blank text)."""
    from django.db import connection

    columns, expressions, defaults = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.column in given:
            expressions.append(given[field.column])
        elif field.null:
            expressions.append("NULL")
        elif field.has_default():
            expressions.append("%s")
            defaults.append(field.get_db_prep_save(field.get_default(), connection))
        elif field.blank:
            expressions.append("''")
        else:
            raise ValueError(f"no value for {model.__name__}.{field.name}")
    missing = set(given) - set(columns)
    if missing:
        raise ValueError(f"unknown columns {missing}")
    sql = f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(expressions)} FROM {source}"
    with connection.cursor() as cursor:
        cursor.execute(sql, defaults + params)  # the select list's placeholders come before FROM's


def _progress(what: str, started: float) -> None:
    print(f"{what}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)


def _generate(municipality, requests: int, seed: int) -> None:
    from django.db import connection

    from madoguchi.applications.models import CertificateRequest, RequestEvent
    from madoguchi.registry.models import Household, Resident

    m = municipality.pk
    _insert_select(Household, {
        "municipality_id": str(m), "household_number": "'H' || g", "postal_code": "'100-0001'",
        "address": f"'{municipality.full_name}' || (ARRAY['本町','栄町','緑が丘','旭町','大字上野'])[1 + mod(g, 5)] "
                   "|| (ARRAY['一','二','三','四','五','六','七','八','九','十'])[1 + mod(g / 5, 10)] || '丁目' "
                   "|| (1 + mod(g, 30)) || '番' || (1 + mod(g, 20)) || '号'"},
        "generate_series(1, %s) g", [HOUSEHOLDS])
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM registry_household WHERE municipality_id = %s", [m])
        first_household = cursor.fetchone()[0]
    _insert_select(Resident, {
        "municipality_id": str(m), "household_id": f"{first_household} + g - 1",
        "person_number": "lpad(g::text, 12, '0')", "name": "'住民 ' || g", "name_kana": "'じゅうみん'",
        "date_of_birth": "date '1980-01-01' + mod(g, 20000)",
        "sex": "'1'", "relationship": "'世帯主'", "became_resident_on": "date '2000-04-01'"},
        "generate_series(1, %s) g", [HOUSEHOLDS])
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [seed / 1000])
        cursor.execute("SELECT min(id) FROM registry_resident WHERE municipality_id = %s", [m])
        first_resident = cursor.fetchone()[0]
    # One row per request: when it was received (hours weighted to the day), kind, channel, outcome.
    source = f"""(SELECT g,
        now() - (random() * {SPAN_DAYS}) * interval '1 day' AS day_base,
        CASE WHEN random() < 0.8 THEN 8 + floor(random() * 12) ELSE floor(random() * 24) END AS hour,
        (ARRAY{KINDS!r})[1 + floor(random() * random() * 7)::int] AS kind,
        CASE WHEN random() < 0.55 THEN 'web' ELSE 'line' END AS channel,
        1 + floor(random() * random() * 3)::int AS copies,
        random() AS fate,
        {first_resident} + floor(random() * {HOUSEHOLDS})::int AS resident
      FROM generate_series(1, %s) g) s"""
    received_at = "date_trunc('day', day_base) + hour * interval '1 hour' + random() * interval '59 minutes'"
    started = time.perf_counter()
    _insert_select(CertificateRequest, {
        "municipality_id": str(m), "public_id": "md5(random()::text || g::text)::uuid",
        "reception_number": "NULL",
        "state": "CASE WHEN fate < 0.85 THEN 'mailed' WHEN fate < 0.93 THEN 'refunded' "
                 "WHEN fate < 0.95 THEN 'cancelled' ELSE 'in_review' END",
        "channel": "channel", "certificate_type": "kind", "copies": "copies", "purpose": "'bank'",
        "postage_class": "'regular'", "fee_per_copy": "300", "postage_amount": "110",
        "total_amount": "300 * copies + 110", "resident_id": "resident",
        "created_at": received_at + " - interval '10 minutes'", "updated_at": "now()",
        "received_at": received_at}, source, [requests])
    _progress(f"{municipality.code}: {requests} requests", started)
    requests_of = f"applications_certificaterequest r WHERE r.municipality_id = {m}"
    events = [  # (kind, from, to, at, data, which requests)
        ("created", "", "draft", "r.created_at", "'{}'", ""),
        ("received", "awaiting_payment", "received", "r.received_at", "'{}'", ""),
        ("approved", "in_review", "approved", "r.received_at + interval '20 hours'", "'{}'",
         "AND r.state = 'mailed'"),
        ("issued", "approved", "issued", "r.received_at + interval '1 day'", "'{}'", "AND r.state = 'mailed'"),
        ("mailed", "issued", "mailed", "r.received_at + interval '1 day 2 hours'", "'{}'",
         "AND r.state = 'mailed'"),
        ("rejected", "in_review", "rejected", "r.received_at + interval '1 day'", "'{}'",
         "AND r.state = 'refunded'"),
        ("refunded", "rejected", "refunded", "r.received_at + interval '1 day 1 hour'",
         "json_build_object('amount', r.total_amount)", "AND r.state = 'refunded'"),
        ("cancelled", "received", "cancelled", "r.received_at + interval '2 hours'", "'{}'",
         "AND r.state = 'cancelled'"),
    ]
    for kind, from_state, to_state, at, data, condition in events:
        started = time.perf_counter()
        _insert_select(RequestEvent, {"municipality_id": str(m), "request_id": "r.id", "kind": f"'{kind}'",
                                      "from_state": f"'{from_state}'", "to_state": f"'{to_state}'",
                                      "actor_kind": "'staff'", "data": f"{data}::jsonb", "at": at},
                       f"{requests_of} {condition}", [])
        _progress(f"  {kind} events", started)


def _fixture() -> list:
    """The municipalities of the fixture, generated unless the database already holds it."""
    from django.db import connection

    from madoguchi.applications.models import CertificateRequest
    from madoguchi.operations import stats
    from madoguchi.tenancy.models import Municipality

    wanted = {"version": FIXTURE_VERSION, "large": LARGE, "small": SMALL, "others": OTHERS,
              "db": os.environ["DATABASE_URL"]}
    codes = _codes(OTHERS + 1)
    if MARKER.exists() and json.loads(MARKER.read_text()) == wanted and \
            Municipality.objects.filter(code__in=codes).count() == len(codes):
        return list(Municipality.objects.filter(code__in=codes).order_by("code"))
    print("generating the statistics fixture (once; kept in the database)...", file=sys.stderr, flush=True)
    MARKER.unlink(missing_ok=True)
    with connection.cursor() as cursor:  # start clean: the whole schema, as migrate made it
        tables = connection.introspection.django_table_names(only_existing=True)
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # content types etc. again
    municipalities = []
    for index, code in enumerate(codes):
        municipality = Municipality.objects.create(
            code=code, name=f"統計{index}市", prefecture="東京都", certifier_title="市長", certifier_name="統計 太郎")
        _generate(municipality, LARGE if index == 0 else SMALL, seed=index + 1)
        if index:
            started = time.perf_counter()
            stats.rebuild(municipality)
            _progress("  aggregates", started)
        municipalities.append(municipality)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    assert CertificateRequest.objects.filter(municipality=municipalities[0]).count() == LARGE
    BENCH_DIR.mkdir(exist_ok=True)
    MARKER.write_text(json.dumps(wanted))
    return municipalities


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def main() -> int:
    _setup()
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from madoguchi.backoffice.auth import LAST_SEEN, OTP_SESSION_KEY, SIGNED_IN_AT
    from madoguchi.operations import stats
    from madoguchi.tenancy.models import Role, Staff

    municipalities = _fixture()
    large = municipalities[0]
    started = time.perf_counter()
    stats.rebuild(large)
    print(f"BENCH stats_rebuild {time.perf_counter() - started:.1f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE operations_hourlystat, operations_dailystat")

    manager, _ = Staff.objects.get_or_create(username="bench-manager", defaults={
        "municipality": large, "role": Role.MANAGER})
    client = Client()
    client.force_login(manager)
    session = client.session
    session[OTP_SESSION_KEY] = True
    session[SIGNED_IN_AT] = session[LAST_SEEN] = int(time.time())  # as a TOTP sign-in leaves it
    session.save()
    url = reverse("operations_office:statistics")
    rng = random.Random(13)
    today = datetime.date.today()
    for _ in range(3):  # warm up the process (templates, first queries)
        client.get(url)
    samples = []
    for _ in range(LOADS):
        start = today - datetime.timedelta(days=rng.randrange(SPAN_DAYS))
        end = min(today, start + datetime.timedelta(days=rng.randrange(1, 366)))
        params = {"date_from": start.isoformat(), "date_to": end.isoformat(),
                  "certificate_type": rng.choice([""] * 7 + KINDS), "channel": rng.choice(["", "", "web", "line"])}
        began = time.perf_counter()
        response = client.get(url, params)
        samples.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200 and b"<svg" in response.content, response.status_code
    print(f"BENCH stats_dashboard {_p95(samples):.1f} ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
