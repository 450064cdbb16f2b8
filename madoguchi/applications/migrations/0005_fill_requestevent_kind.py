"""Fill RequestEvent.kind (and what `data` can be read back) for the history written before
events had a kind, from the states and the reason text the actions wrote then."""

import re

from django.db import migrations

BY_TARGET = {"draft": "created", "signed": "signed", "awaiting_payment": "payment_started", "received": "received",
             "in_review": "review_started", "approved": "approved", "rejected": "rejected", "issued": "issued",
             "mailed": "mailed", "completed": "completed", "cancelled": "cancelled", "expired": "expired",
             "refunded": "refunded"}
SIGNED = re.compile(r"jpki:(?P<serial>\S*) match:(?P<match>\S*)")
RECEIVED = re.compile(r"(?P<source>[a-z_]+):(?P<order>\S+)")
BATCH = re.compile(r"batch:(?P<batch>\d+)")
REPRINT = re.compile(r"reprint:(?P<batch>\d+) of batch:(?P<of>\d+)")
COPIES = re.compile(r"copies (?P<old>\d+)->(?P<new>\d+), refund (?P<amount>\d+)")


def kind_and_data(event) -> tuple[str, dict]:
    reason = event.reason
    if event.from_state == event.to_state:
        if m := REPRINT.match(reason):
            return "reprinted", {"batch_id": int(m["batch"]), "reprint_of": int(m["of"])}
        if m := COPIES.match(reason):
            return "copies_reduced", {"copies_from": int(m["old"]), "copies_to": int(m["new"]),
                                      "refund_amount": int(m["amount"])}
        return "", {}
    kind = BY_TARGET.get(event.to_state, "")
    if kind == "signed" and (m := SIGNED.match(reason)):
        return kind, {"jpki_serial": m["serial"], "match_result": m["match"]}
    if kind == "received" and (m := RECEIVED.match(reason)):
        return kind, {"order_id": m["order"], "source": m["source"]}
    if kind == "issued" and (m := BATCH.match(reason)):
        return kind, {"batch_id": int(m["batch"])}
    if kind == "mailed" and reason:
        return kind, {"tracking_number": reason}
    if kind == "refunded" and reason:
        return kind, {"order_id": reason}
    return kind, {}


def fill(apps, schema_editor):
    RequestEvent = apps.get_model("applications", "RequestEvent")
    # Ids first: SQLite does not isolate a running SELECT from the UPDATEs made while reading it.
    ids = list(RequestEvent.objects.filter(kind="").order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), 2000):
        events = list(RequestEvent.objects.filter(pk__in=ids[start:start + 2000]))
        for event in events:
            event.kind, event.data = kind_and_data(event)
        RequestEvent.objects.bulk_update([e for e in events if e.kind], ["kind", "data"])


class Migration(migrations.Migration):

    dependencies = [
        ("applications", "0004_requestevent_data_requestevent_kind"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
