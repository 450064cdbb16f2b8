"""The clerk's decision: review, approve (which renders the certificate) or reject (which refunds)."""

from django.db import transaction
from django.utils.translation import gettext as _

from madoguchi.payments import ledger
from madoguchi.tenancy.models import Staff

from .. import events
from ..models import CertificateRequest, State
from ._base import ActionError, _locked, _require_staff, _transition


@transaction.atomic
def start_review(request: CertificateRequest, staff: Staff) -> CertificateRequest:
    request = _locked(request)
    _require_staff(request, staff)
    if request.state == State.RECEIVED:
        _transition(request, events.review_started(request, staff=staff))
    return request


@transaction.atomic
def approve(request: CertificateRequest, staff: Staff, *, flags_acknowledged: bool = False) -> CertificateRequest:
    """Approve and render the document. Flagged requests (under 15, support measure, mismatch)
    are never approved without the clerk confirming they checked each flag."""
    from madoguchi.documents.services import MissingGlyph, PersonSelectionError, can_render, describe, issue_document

    request = _locked(request)
    _require_staff(request, staff)
    if not request.auto_acceptable and not flags_acknowledged:
        raise ActionError(_("確認が必要な項目があります。内容を確認してから個別に承認してください。"))
    if not can_render(request.certificate_type):
        raise ActionError(_("この種類の証明書は、まだこのシステムから発行できません。"))
    _transition(request, events.approved(request, staff=staff, flags_acknowledged=list(request.flags)))
    try:
        issue_document(request)
    except PersonSelectionError as exc:
        raise ActionError(str(exc)) from None
    except MissingGlyph as exc:
        # Never print a substitute glyph: the clerk issues this one from the core system instead.
        raise ActionError(_("証明書のフォントにない文字があるため作成できません({context}: {chars})。"
                            "住民記録の文字を確認し、基幹システムから発行してください。").format(
            context=exc.context, chars="、".join(describe(s) for s in exc.sequences))) from None
    return request


@transaction.atomic
def reject(request: CertificateRequest, staff: Staff, reason: str) -> CertificateRequest:
    request = _locked(request)
    _require_staff(request, staff)
    reason = reason.strip()
    if not reason:
        raise ActionError(_("却下の理由を入力してください。住民に通知されます。"))
    request.decision_reason = reason[:500]
    _transition(request, events.rejected(request, staff=staff, reason=reason[:500]), fields=("decision_reason",))
    ledger.refund_everything(request, "rejected")
    return request
