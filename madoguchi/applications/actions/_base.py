"""What every action module shares: the refusal, the row lock and the single writer of state."""

from django.utils.translation import gettext as _

from madoguchi.notifications.outbox import enqueue_notice
from madoguchi.tenancy.models import Staff

from ..models import TRANSITIONS, CertificateRequest, RequestEvent, State

NOTICE_ON = {State.RECEIVED: "received", State.REJECTED: "rejected", State.REFUNDED: "refunded",
             State.ISSUED: "issued", State.MAILED: "mailed", State.COMPLETED: "completed"}


class ActionError(Exception):
    """A rule refused the action; `str(error)` is a Japanese message for the resident or clerk."""


class SignatureRejected(ActionError):
    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def _locked(request: CertificateRequest) -> CertificateRequest:
    # Lock the request row only: the joined municipality row must not serialize a whole town's actions.
    return (CertificateRequest.objects.select_for_update(of=("self",)).select_related("municipality")
            .get(pk=request.pk))


def _fresh(request: CertificateRequest) -> CertificateRequest:
    """The request as stored now (for checks before a step that must not hold the row lock)."""
    return CertificateRequest.objects.select_related("municipality").get(pk=request.pk)


def _transition(request: CertificateRequest, event: RequestEvent, *, fields: tuple[str, ...] = ()) -> None:
    """Move `request` to `event.to_state`, storing `event` (built by `applications.events` from the
    request before the change). The row is saved with the state and `fields`: name there every other
    column the caller changed on `request` before the transition, or the change is not stored."""
    if event.to_state not in TRANSITIONS[request.state]:
        raise ActionError(_("この申請は現在「{state}」のため、この操作はできません。").format(
            state=request.get_state_display()))
    event.save()
    request.state = event.to_state
    request.save(update_fields=["state", "updated_at", *fields])
    if request.state in NOTICE_ON:
        kind = NOTICE_ON[request.state]
        # Mailed again after 返戻: a new envelope with a new tracking number, so a notice of its own
        # (the first one of a kind keeps the key it always had).
        again = event.from_state == State.UNDELIVERED
        enqueue_notice(request, kind, key=f"{kind}:event-{event.pk}" if again else "")


def clean_text(value: str, *, field: str, limit: int = 500) -> str:
    """Free text typed by a resident or clerk (reasons, comments): stripped, at most `limit`
    characters, and refused with a clear message when it holds control characters (NUL) or lone
    surrogates that no database or notice can carry."""
    value = (value or "").strip()
    if any(ch in value for ch in "\x00") or any("\ud800" <= ch <= "\udfff" for ch in value) or any(
            ord(ch) < 32 and ch not in "\n\r\t" for ch in value):
        raise ActionError(_("{field}に使えない文字が含まれています。").format(field=field))
    if len(value) > limit:
        raise ActionError(_("{field}は{limit}文字以内で入力してください。").format(field=field, limit=limit))
    return value


def _require_staff(request: CertificateRequest, staff: Staff) -> None:
    """Defence in depth: views already scope by municipality."""
    if staff.municipality_id != request.municipality_id or not staff.can_review():
        raise ActionError(_("この申請を操作する権限がありません。"))
