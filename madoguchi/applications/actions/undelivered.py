"""返戻: a mailed certificate came back to the office. The clerk records why (the post office's
mark, as a 定型文), then mails it again — reprinted if the sheet is spoiled — with a new tracking
number, or cancels the request with a refund (`cancellation.cancel_by_staff`).

The certificate goes only to the registered address (住民基本台帳法 第12条第1項, the request's
送付先); a returned envelope is never re-sent elsewhere, and a resident who moved applies again.
"""

from django.db import transaction
from django.utils.translation import gettext as _

from madoguchi.notifications.outbox import enqueue_notice
from madoguchi.tenancy.models import Staff

from .. import events
from ..models import CertificateRequest, EventKind, State, UndeliveredReason
from ..progress import UNDELIVERED_NEXT
from ._base import ActionError, _locked, _require_staff, _transition, clean_text
from .issuing import _signed_batch


@transaction.atomic
def record_undelivered(request: CertificateRequest, staff: Staff, reason_code: str,
                       note: str = "") -> CertificateRequest:
    request = _locked(request)
    _require_staff(request, staff)
    if reason_code not in UndeliveredReason.values:
        raise ActionError(_("返戻の理由を選んでください。"))
    note = clean_text(note, field=_("返戻のメモ"), limit=400)
    if reason_code == UndeliveredReason.OTHER and not note:
        raise ActionError(_("「その他」のときは、返戻の内容をメモに入力してください。"))
    if request.state != State.MAILED:
        raise ActionError(_(
            "受付番号 {number} は「{state}」のため、返戻を記録できません(発送済みの申請だけです)。").format(
            number=request.formatted_reception_number, state=request.get_state_display()))
    reason = str(UndeliveredReason(reason_code).label)
    _transition(request, events.undelivered(request, staff=staff, reason_code=reason_code, reason=reason, note=note))
    # The resident is told, by the notice address or LINE, that the certificate came back and what
    # to do (an envelope can come back more than once: one notice each time).
    times = request.events.filter(kind=EventKind.UNDELIVERED).count()
    enqueue_notice(request, "undelivered", key=f"undelivered:{times}", extra={
        "reason": reason, "next_step": str(UNDELIVERED_NEXT.get(reason_code, UNDELIVERED_NEXT[""]))})
    return request


@transaction.atomic
def reprint_undelivered(request: CertificateRequest, staff: Staff, reason: str):
    """A new print PDF of this one certificate (the returned sheet is spoiled or was opened); the
    request stays 返戻 until it is mailed again. The reprint names the batch it replaces and why."""
    from madoguchi.documents.services import build_print_batch

    request = _locked(request)
    _require_staff(request, staff)
    reason = clean_text(reason, field=_("再印刷の理由"))
    if not reason:
        raise ActionError(_("再印刷の理由を入力してください。"))
    if request.state != State.UNDELIVERED:
        raise ActionError(_("受付番号 {number} は「{state}」のため、ここから再印刷できません。").format(
            number=request.formatted_reception_number, state=request.get_state_display()))
    previous = request.document.batches.order_by("-pk").first()
    new = _signed_batch(build_print_batch, [request], staff, reprint_of=previous, reason=reason)
    events.record(events.reprinted(request, staff=staff, batch_id=new.pk,
                                   reprint_of=previous.pk if previous else None, reason=reason))
    return new

