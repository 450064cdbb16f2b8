"""Every tenant table can be distributed by municipality (docs/scale.md).

A table distributed by `municipality_id` can enforce a unique constraint only when the constraint
includes `municipality_id`; a table that is not a tenant table must say what it is instead.
"""

from django.apps import apps
from django.db import models

from madoguchi.tenancy.models import TenantOneToOneField

# Tables without a municipality, and why. In a distributed database these are reference tables
# (copied to every node) or stay on the coordinator; docs/scale.md lists them the same way.
NOT_TENANT_TABLES = {
    "tenancy.Municipality": "the tenants themselves: a reference table",
    "tenancy.Staff": "sign-in finds a user by name before the municipality is known; service operators "
                     "have none. Small: a reference table",
    "identity.TrustAnchor": "JPKI's signing CAs are national, one set for every municipality",
    "identity.RevocationList": "CRLs of the national JPKI CAs",
    "identity.RevokedSerial": "serials of those CRLs",
    "core.Throttle": "counters keyed by client address, before any municipality is known",
    "identity_sandbox.SandboxAuthority": "the sandbox JPKI's CA: the card side, national like the real one "
                                         "(development only)",
    "identity_sandbox.SandboxCard": "a virtual My Number Card, held by the resident, not the town "
                                    "(development only)",
    "payments_sandbox.SandboxCharge": "the sandbox gateway's own ledger: the provider side (development only)",
    "payments_sandbox.SandboxRefund": "the sandbox gateway's own ledger: the provider side (development only)",
}


def madoguchi_models() -> list[type[models.Model]]:
    return [m for m in apps.get_models() if m.__module__.startswith("madoguchi.")]


def label(model) -> str:
    return f"{model._meta.app_label}.{model.__name__}"


def municipality_field(model):
    try:
        field = model._meta.get_field("municipality")
    except Exception:
        return None
    return field if field.is_relation and field.related_model._meta.label == "tenancy.Municipality" else None


def tenant_models() -> list[type[models.Model]]:
    return [m for m in madoguchi_models() if label(m) not in NOT_TENANT_TABLES]


def unique_sets(model) -> list[tuple[str, tuple[str, ...], models.Q | None]]:
    """Every uniqueness the database enforces on the table: (where declared, columns, condition)."""
    found = []
    for field in model._meta.local_fields:
        if field.unique and not field.primary_key:
            found.append((f"{field.name} (unique=True)", (field.name,), None))
    for fields in model._meta.unique_together:
        found.append(("unique_together", tuple(fields), None))
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint):
            columns = tuple(constraint.fields) or tuple(str(e) for e in constraint.expressions)
            found.append((constraint.name, columns, constraint.condition))
    return found


def condition_pins_municipality(condition: models.Q | None) -> bool:
    """`municipality IS NULL` rows (e.g. a provider notification naming no order of ours) belong
    to no town: a constraint restricted to them may leave `municipality` out."""
    return condition is not None and ("municipality__isnull", True) in condition.children


def test_every_table_is_a_tenant_table_or_says_why_not():
    unexplained = [label(m) for m in madoguchi_models()
                   if municipality_field(m) is None and label(m) not in NOT_TENANT_TABLES]
    assert unexplained == [], "give these a municipality FK, or list them in NOT_TENANT_TABLES with a reason"
    stale = sorted(set(NOT_TENANT_TABLES) - {label(m) for m in madoguchi_models()})
    assert stale == []


def test_every_unique_constraint_on_a_tenant_table_includes_municipality():
    offenders = []
    for model in tenant_models():
        for where, columns, condition in unique_sets(model):
            if "municipality" not in columns and not condition_pins_municipality(condition):
                offenders.append(f"{label(model)}: {where} on {columns}")
    assert offenders == []


def test_every_one_to_one_link_of_a_tenant_table_is_unique_with_municipality():
    missing = []
    for model in tenant_models():
        for field in model._meta.local_fields:
            if field.one_to_one and field.name != "municipality":
                declared = {cols for _w, cols, cond in unique_sets(model) if cond is None}
                if not isinstance(field, TenantOneToOneField) or ("municipality", field.name) not in declared:
                    missing.append(f"{label(model)}.{field.name}")
    assert missing == []


def test_the_rule_catches_a_global_unique_value():
    """The walker itself: a tenant model with a bare unique field or constraint is reported."""

    class Offender(models.Model):
        municipality = models.ForeignKey("tenancy.Municipality", on_delete=models.CASCADE)
        token = models.CharField(max_length=10, unique=True)
        other = models.CharField(max_length=10)

        class Meta:
            app_label = "tenancy"
            constraints = [models.UniqueConstraint(fields=["other"], name="offender_other")]

    try:
        sets = unique_sets(Offender)
        assert [(w, c) for w, c, _ in sets if "municipality" not in c] == [
            ("token (unique=True)", ("token",)), ("offender_other", ("other",))]
    finally:
        apps.all_models["tenancy"].pop("offender", None)
        apps.clear_cache()
