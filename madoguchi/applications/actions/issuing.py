"""After approval: the print batch (issued), reprints and mailing, also again after a 返戻
(`undelivered`); 完了 is `completion`."""

from django.db import transaction
from django.utils.translation import gettext as _

from madoguchi.tenancy.models import Staff

from .. import events
from ..models import CertificateRequest, State
from . import _checks
from ._base import ActionError, _locked, _require_staff, _transition
from .restrictions import personal_notices


def _signed_batch(build_print_batch, *args, **kwargs):
    """The signed batch; a timestamp authority that does not answer stops the action (nothing is
    issued, the clerk tries again) rather than producing paper without a trusted signing time, and so
    does an address that would not show in the envelope's window."""
    from madoguchi.documents.services import AddressDoesNotFit, TimestampUnavailable

    try:
        return build_print_batch(*args, **kwargs)
    except (TimestampUnavailable, AddressDoesNotFit) as exc:
        raise ActionError(exc.message) from exc


def record_printed(requests: list[CertificateRequest], staff: Staff):
    """Build one printer PDF of approved requests and mark them issued. Each request is checked
    again first (restrictions, replica, signing certificate, the issue window): if one is stopped,
    its hold is kept, nothing is printed and the clerk reads which and why."""
    from madoguchi.documents.services import build_print_batch

    with transaction.atomic():
        locked = [_locked(r) for r in requests]
        for request in locked:
            _require_staff(request, staff)
            if request.state != State.APPROVED:
                raise ActionError(_("受付番号 {number} は印刷できる状態ではありません。").format(
                    number=request.formatted_reception_number))
        stopped = [m for m in (_checks.stop_if_changed(r, _checks.PRINTING) for r in locked) if m]
        if not stopped:
            batch = _signed_batch(build_print_batch, locked, staff)
            for request in locked:
                _transition(request, events.issued(request, staff=staff, batch_id=batch.pk))
                personal_notices(request)
    if stopped:
        raise ActionError(" ".join(stopped) + _(" 停止した申請を除いて、もう一度印刷してください。"))
    return batch


@transaction.atomic
def reprint(batch, staff: Staff, reason: str):
    """A new print PDF for the requests of `batch` (spoiled or lost sheets). The requests stay
    issued; each gets a history entry naming the reprint and its reason."""
    from madoguchi.documents.services import build_print_batch

    reason = reason.strip()
    if not reason:
        raise ActionError(_("再印刷の理由を入力してください。"))
    if len(reason) > 500:
        raise ActionError(_("再印刷の理由は500文字以内で入力してください。"))
    if batch.municipality_id != staff.municipality_id or not staff.can_review():
        raise ActionError(_("この操作を行う権限がありません。"))
    locked = [_locked(d.request) for d in batch.documents.select_related("request").order_by("request__received_at",
                                                                                            "request_id")]
    for request in locked:
        _require_staff(request, staff)
        if request.state != State.ISSUED:
            raise ActionError(_("受付番号 {number} は「{state}」のため再印刷できません。").format(
                number=request.formatted_reception_number, state=request.get_state_display()))
    new = _signed_batch(build_print_batch, locked, staff, reprint_of=batch, reason=reason)
    events.record(*(events.reprinted(request, staff=staff, batch_id=new.pk, reprint_of=batch.pk, reason=reason)
                    for request in locked))
    return new


@transaction.atomic
def mark_mailed(request: CertificateRequest, staff: Staff, tracking_number: str = "") -> CertificateRequest:
    request = _locked(request)
    _require_staff(request, staff)
    tracking_number = tracking_number.strip()
    if len(tracking_number) > 30:
        raise ActionError(_("お問い合わせ番号が長すぎます。"))
    if request.state == State.UNDELIVERED:  # 返戻, mailed again: a new envelope, a new number
        if not tracking_number:
            raise ActionError(_("再発送のお問い合わせ番号を入力してください。"))
        if tracking_number == request.tracking_number:
            raise ActionError(_(
                "再発送には新しいお問い合わせ番号を入力してください(戻ってきた郵便物の番号と同じです)。"))
    request.tracking_number = tracking_number
    _transition(request, events.mailed(request, staff=staff, tracking_number=tracking_number),
                fields=("tracking_number",))
    return request

