"""Pages read tenant tables only through a municipality filter (docs/scale.md).

The SQL of one back-office page pair (queue, request detail) and of the resident's apply flow and
status page is recorded; every statement that reads, changes or deletes rows of a tenant table must
name `municipality_id` of that table in its conditions, and every insert must set it. A distributed
database routes such a statement to one node; without the filter it asks every node.

A table joined through a foreign key of an already filtered row (`select_related`) counts as
scoped: the row it reaches belongs to the same municipality (the foreign keys are co-located, see
docs/scale.md), and the join needs no condition of its own today.
"""

import re

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from madoguchi.applications.models import CertificateRequest

from .flow import received
from .test_backoffice import make_staff, signed_in
from .test_tenancy_rules import NOT_TENANT_TABLES
from .test_web import walk_to_confirm

pytestmark = pytest.mark.django_db(transaction=True)


def tenant_tables() -> set[str]:
    """Tables with a municipality, less the reference tables (Staff) named in test_tenancy_rules."""
    tables = set()
    for model in apps.get_models():
        field = next((f for f in model._meta.local_fields if f.name == "municipality"), None)
        if (field is not None and field.related_model._meta.label == "tenancy.Municipality"
                and model._meta.label not in NOT_TENANT_TABLES):
            tables.add(model._meta.db_table)
    return tables


READ = re.compile(r'\bFROM "(?P<table>\w+)"(?:\s+(?:AS\s+)?(?P<alias>(?!WHERE|INNER|LEFT|ORDER|GROUP|LIMIT)\w+))?')
WRITE = re.compile(r'^\s*(?:UPDATE|DELETE FROM) "(?P<table>\w+)"')
INSERT = re.compile(r'^\s*INSERT INTO "(?P<table>\w+)" \((?P<columns>[^)]*)\)')


def unscoped(sql: str, tenants: set[str]) -> list[str]:
    """The tenant tables the statement reads or changes without a municipality condition."""
    problems = []
    for match in INSERT.finditer(sql):
        if match["table"] in tenants and '"municipality_id"' not in match["columns"]:
            problems.append(match["table"])
    for pattern in (READ, WRITE):
        for match in pattern.finditer(sql):
            table = match["table"]
            if table not in tenants:
                continue
            names = [f'"{table}"']
            if match.groupdict().get("alias"):
                names.append(re.escape(match["alias"]))
            condition = re.compile("(?:" + "|".join(names) + r')\."municipality_id" (?:= |IN \()')
            bare = re.compile(r'WHERE[^;]*?(?<![."\w])"municipality_id" (?:= |IN \()')
            if not (condition.search(sql) or (pattern is WRITE and bare.search(sql))):
                problems.append(table)
    return problems


def assert_scoped(queries) -> None:
    tenants = tenant_tables()
    touched = {t for q in queries for t in tenants if f'"{t}"' in q["sql"]}
    assert len(touched) >= 2, touched  # the page really read tenant tables
    offenders = [(q["sql"], unscoped(q["sql"], tenants)) for q in queries]
    offenders = [f"{tables}: {sql}" for sql, tables in offenders if tables]
    assert offenders == [], "\n".join(offenders)


def test_the_checker_sees_a_missing_filter():
    tenants = {"applications_certificaterequest", "registry_resident"}
    ok = ('SELECT "applications_certificaterequest"."id" FROM "applications_certificaterequest" '
          'INNER JOIN "registry_resident" ON ("applications_certificaterequest"."resident_id" = '
          '"registry_resident"."id") WHERE ("applications_certificaterequest"."municipality_id" = 1 AND '
          '"applications_certificaterequest"."public_id" = x)')
    assert unscoped(ok, tenants) == []
    assert unscoped('SELECT "registry_resident"."id" FROM "registry_resident" WHERE "registry_resident"."id" = 3',
                    tenants) == ["registry_resident"]
    # A filter on another table's municipality does not scope this one.
    assert unscoped('SELECT 1 FROM "registry_resident" WHERE "applications_certificaterequest"."municipality_id" '
                    '= 1', tenants) == ["registry_resident"]
    assert unscoped('SELECT 1 FROM "x" WHERE "x"."id" IN (SELECT U0."id" FROM "registry_resident" U0 '
                    'WHERE U0."municipality_id" = 1)', tenants) == []
    assert unscoped('SELECT 1 FROM "x" WHERE "x"."id" IN (SELECT U0."id" FROM "registry_resident" U0 '
                    'WHERE U0."id" = 1)', tenants) == ["registry_resident"]
    assert unscoped('INSERT INTO "registry_resident" ("name") VALUES (%s)', tenants) == ["registry_resident"]
    assert unscoped('INSERT INTO "registry_resident" ("municipality_id", "name") VALUES (%s, %s)', tenants) == []
    assert unscoped('UPDATE "registry_resident" SET "name" = %s WHERE "registry_resident"."id" = %s',
                    tenants) == ["registry_resident"]
    assert unscoped('UPDATE "registry_resident" SET "name" = %s WHERE ("registry_resident"."id" = %s AND '
                    '"registry_resident"."municipality_id" = %s)', tenants) == []


def test_back_office_queue_and_detail_filter_every_tenant_table(municipality, resident):
    request = received(municipality, resident)
    client = signed_in(make_staff(municipality, "clerk"))
    with CaptureQueriesContext(connection) as queue:
        assert client.get(reverse("backoffice:queue")).status_code == 200
    assert_scoped(queue.captured_queries)
    with CaptureQueriesContext(connection) as detail:
        page = client.get(reverse("backoffice:detail", args=[request.public_id]))
    assert page.status_code == 200 and request.formatted_reception_number in page.content.decode()
    assert_scoped(detail.captured_queries)


def test_resident_apply_flow_and_status_page_filter_every_tenant_table(municipality, resident):
    client = Client()
    with CaptureQueriesContext(connection) as apply:
        walk_to_confirm(client, municipality.code)
        response = client.post(reverse("web:apply_confirm", args=[municipality.code]))
        request = CertificateRequest.objects.for_municipality(municipality).get()
        assert response.url == reverse("web:sign", args=[municipality.code, request.public_id])
        assert client.get(response.url).status_code == 200
    assert_scoped(apply.captured_queries)
    done = received(municipality, resident)
    with CaptureQueriesContext(connection) as status:
        page = client.post(reverse("web:status", args=[municipality.code]),
                           {"reception_number": done.formatted_reception_number, "date_of_birth": "1980-04-01"})
    assert "受付済みです" in page.content.decode()
    assert_scoped(status.captured_queries)
