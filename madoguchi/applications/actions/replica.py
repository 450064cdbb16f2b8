"""Requests in the queue whose resident a replica import changed or removed."""

from django.db import transaction

from ..models import CertificateRequest, Flag, State

OPEN_STATES = (State.SIGNED, State.AWAITING_PAYMENT, State.RECEIVED, State.IN_REVIEW, State.APPROVED)


@transaction.atomic
def flag_replica_changes(sender, *, municipality, changed_at, **kwargs) -> int:
    """A replica import changed or removed people (`registry.imports.loader.replica_changed`): flag
    the open requests about them, so that neither batch approval nor printing goes ahead without a
    clerk looking again. Flags are not state: no transition, the request keeps its place."""
    requests = (CertificateRequest.objects.for_municipality(municipality).select_for_update(of=("self",))
                .filter(state__in=OPEN_STATES, resident__record_changed_at=changed_at)
                .select_related("resident"))
    flagged = 0
    for request in requests:
        flag = Flag.RESIDENT_REMOVED if request.resident.is_removed else Flag.REPLICA_CHANGED
        if flag not in request.flags:
            request.flags = [*request.flags, str(flag)]
            request.save(update_fields=["flags", "updated_at"])
            flagged += 1
    return flagged
