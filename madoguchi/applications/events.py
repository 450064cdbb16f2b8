"""The history entries of a request, one function per kind, with typed parameters.

Each function builds (does not save) the `RequestEvent` of one kind from the request as it is
before the change: `from_state` is the request's current state. The workflow stores the entries
that change state through `actions._base._transition` (the single writer of state) and the others
with `record`. `data` holds the structured facts (serial numbers, order ids, amounts) that
statistics and audits query; `reason` says the same in words for the person reading the history.
"""

from .models import CertificateRequest, EventKind, RequestEvent, State


def _event(request: CertificateRequest, kind: str, to_state: str, *, actor_kind: str, actor=None,
           reason: str = "", data: dict | None = None) -> RequestEvent:
    return RequestEvent(municipality_id=request.municipality_id, request=request, kind=kind,
                        from_state=request.state, to_state=to_state, actor=actor, actor_kind=actor_kind,
                        reason=reason[:500], data=data or {})


def record(*events: RequestEvent) -> None:
    """Store entries that do not change the state (creation, reprints, fewer copies)."""
    RequestEvent.objects.bulk_create(events)


def created(request: CertificateRequest, *, channel: str) -> RequestEvent:
    event = _event(request, EventKind.CREATED, State.DRAFT, actor_kind="resident", reason="created",
                   data={"channel": channel})
    event.from_state = ""
    return event


def signed(request: CertificateRequest, *, serial: str, match_result: str, provider: str) -> RequestEvent:
    return _event(request, EventKind.SIGNED, State.SIGNED, actor_kind="resident",
                  reason=f"jpki:{serial} match:{match_result}",
                  data={"jpki_serial": serial, "match_result": match_result, "provider": provider})


def payment_started(request: CertificateRequest, *, provider: str) -> RequestEvent:
    return _event(request, EventKind.PAYMENT_STARTED, State.AWAITING_PAYMENT, actor_kind="resident",
                  data={"provider": provider})


def received(request: CertificateRequest, *, order_id: str, source: str, reception_number: str) -> RequestEvent:
    """`source`: how the capture became known (notification, return, query, reconciliation)."""
    return _event(request, EventKind.RECEIVED, State.RECEIVED, actor_kind="provider", reason=f"{source}:{order_id}",
                  data={"order_id": order_id, "source": source, "reception_number": reception_number})


def review_started(request: CertificateRequest, *, staff) -> RequestEvent:
    return _event(request, EventKind.REVIEW_STARTED, State.IN_REVIEW, actor_kind="staff", actor=staff)


def approved(request: CertificateRequest, *, staff, flags_acknowledged: list[str]) -> RequestEvent:
    return _event(request, EventKind.APPROVED, State.APPROVED, actor_kind="staff", actor=staff,
                  reason="flags acknowledged" if flags_acknowledged else "",
                  data={"flags_acknowledged": flags_acknowledged} if flags_acknowledged else {})


def rejected(request: CertificateRequest, *, staff, reason: str) -> RequestEvent:
    return _event(request, EventKind.REJECTED, State.REJECTED, actor_kind="staff", actor=staff, reason=reason)


def issued(request: CertificateRequest, *, staff, batch_id: int) -> RequestEvent:
    return _event(request, EventKind.ISSUED, State.ISSUED, actor_kind="staff", actor=staff,
                  reason=f"batch:{batch_id}", data={"batch_id": batch_id})


def reprinted(request: CertificateRequest, *, staff, batch_id: int, reprint_of: int, reason: str) -> RequestEvent:
    return _event(request, EventKind.REPRINTED, request.state, actor_kind="staff", actor=staff,
                  reason=f"reprint:{batch_id} of batch:{reprint_of}: {reason}",
                  data={"batch_id": batch_id, "reprint_of": reprint_of})


def mailed(request: CertificateRequest, *, staff, tracking_number: str) -> RequestEvent:
    return _event(request, EventKind.MAILED, State.MAILED, actor_kind="staff", actor=staff, reason=tracking_number,
                  data={"tracking_number": tracking_number} if tracking_number else {})


def undelivered(request: CertificateRequest, *, staff, reason_code: str, reason: str, note: str) -> RequestEvent:
    """返戻: `reason` is the 定型文 the resident is told; `note` stays in the office."""
    return _event(request, EventKind.UNDELIVERED, State.UNDELIVERED, actor_kind="staff", actor=staff, reason=reason,
                  data={"reason_code": reason_code, "tracking_number": request.tracking_number, "note": note})


def completed(request: CertificateRequest, *, source: str, channel: str = "") -> RequestEvent:
    """`source`: "receipt" (the resident confirmed receipt, on `channel`) or "schedule" (the
    municipality's number of business days after mailing passed)."""
    return _event(request, EventKind.COMPLETED, State.COMPLETED,
                  actor_kind="resident" if source == "receipt" else "system", reason=source,
                  data={"source": source, **({"channel": channel} if channel else {})})


def cancelled(request: CertificateRequest, *, actor_kind: str, actor=None, reason: str = "",
              confirmed_by: str = "", channel: str = "") -> RequestEvent:
    """`confirmed_by`: how a resident proved it was them ("code", "card", "line"; "" for staff and
    the system); `channel` where they asked."""
    data = {k: v for k, v in {"confirmed_by": confirmed_by, "channel": channel}.items() if v}
    return _event(request, EventKind.CANCELLED, State.CANCELLED, actor_kind=actor_kind, actor=actor, reason=reason,
                  data=data)


def returned(request: CertificateRequest, *, staff, reason_code: str, reason: str, deadline: str,
             correction: int) -> RequestEvent:
    return _event(request, EventKind.RETURNED, State.RETURNED, actor_kind="staff", actor=staff, reason=reason,
                  data={"reason_code": reason_code, "deadline": deadline, "correction": correction})


def corrected(request: CertificateRequest, *, old: dict, new: dict, difference: int, channel: str,
              correction: int) -> RequestEvent:
    """The resident changed the terms of a returned request (not yet signed again)."""
    changed = sorted(k for k in new if old.get(k) != new.get(k))
    return _event(request, EventKind.CORRECTED, request.state, actor_kind="resident", reason=", ".join(changed),
                  data={"changed": changed, "old": {k: old.get(k) for k in changed},
                        "new": {k: new.get(k) for k in changed}, "difference": difference, "channel": channel,
                        "correction": correction})


def resubmitted(request: CertificateRequest, *, correction: int, serial: str = "", order_id: str = "",
                refund_amount: int = 0) -> RequestEvent:
    """Back to the queue after a correction (signed again when the terms changed, the difference paid
    or refunded)."""
    data = {"correction": correction, "jpki_serial": serial, "order_id": order_id, "refund_amount": refund_amount}
    return _event(request, EventKind.RESUBMITTED, State.RECEIVED, actor_kind="resident",
                  data={k: v for k, v in data.items() if v})


def expired(request: CertificateRequest) -> RequestEvent:
    return _event(request, EventKind.EXPIRED, State.EXPIRED, actor_kind="system")


def refunded(request: CertificateRequest, *, order_id: str, amount: int) -> RequestEvent:
    return _event(request, EventKind.REFUNDED, State.REFUNDED, actor_kind="provider", reason=order_id,
                  data={"order_id": order_id, "amount": amount})


def copies_reduced(request: CertificateRequest, *, staff, old: int, new: int, refund_amount: int,
                   order_id: str) -> RequestEvent:
    return _event(request, EventKind.COPIES_REDUCED, request.state, actor_kind="staff", actor=staff,
                  reason=f"copies {old}->{new}, refund {refund_amount}",
                  data={"copies_from": old, "copies_to": new, "refund_amount": refund_amount, "order_id": order_id})


def refused(request: CertificateRequest, *, stage: str, findings: list[dict], message: str) -> RequestEvent:
    """The restriction rules refused the request before payment (docs/restrictions.md); `message` is
    what the resident read."""
    return _event(request, EventKind.REFUSED, State.CANCELLED, actor_kind="system", reason=message,
                  data={"stage": stage, "codes": [f["code"] for f in findings], "findings": findings})


def held(request: CertificateRequest, *, stage: str, findings: list[dict], actor=None) -> RequestEvent:
    """A hold: at signing (支援措置 of a person on the certificate) or a re-check that found a change."""
    return _event(request, EventKind.HELD, request.state, actor_kind="staff" if actor else "system", actor=actor,
                  reason=",".join(f["code"] for f in findings),
                  data={"stage": stage, "codes": [f["code"] for f in findings], "findings": findings})


def hold_released(request: CertificateRequest, *, staff, note: str, codes: list[str]) -> RequestEvent:
    return _event(request, EventKind.HOLD_RELEASED, request.state, actor_kind="staff", actor=staff, reason=note,
                  data={"codes": codes})


def personal_notice(request: CertificateRequest, *, registration_id: int, items: list[str]) -> RequestEvent:
    """A 本人通知 was queued for a registered person named on the issued certificate."""
    return _event(request, EventKind.PERSONAL_NOTICE, request.state, actor_kind="system",
                  data={"registration": registration_id, "items": items})
