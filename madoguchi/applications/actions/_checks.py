"""The restriction checks at each step of a request (docs/restrictions.md).

- when the resident signs (`at_signing`, before any payment): entitlement, what the replica must hold,
  支援措置, 発行停止, the request window. A refusal ends the request with its reason codes and a plain
  message; nothing is charged. A hold or a finding for the clerk lets the resident pay (the answer
  never reveals a 支援措置) and keeps the request away from batch approval.
- at approval and again at printing (`recheck`): the same rules against today's replica, the
  signing certificate against fresh revocation data, whether the requester moved or died. A change
  stops the request: it is held with the new reason codes, and the clerk is told why.
"""

from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.documents import services as documents
from madoguchi.identity import jpki, trust
from madoguchi.identity.models import SignatureEvidence
from madoguchi.registry import protection
from madoguchi.registry.restrictions import Outcome, ReasonCode, WindowStage, policy_for, window_open

from .. import events
from ..models import CertificateRequest, State

SIGNING, APPROVAL, PRINTING = "signing", "approval", "printing"
# The revocation data J-LIS provides to 署名検証者 (公的個人認証法 第17条第1項 届出).
CARD_BASIS = "公的個人認証法 (署名用電子証明書の失効情報; 署名検証者 第17条第1項)"
WINDOW_BASIS = "各団体の定める受付・審査時間"


def _window(request: CertificateRequest, stage: str) -> list[documents.Finding]:
    if window_open(request.municipality, stage, request.certificate_type, request.channel, timezone.now()):
        return []
    return [documents.Finding(ReasonCode.OUTSIDE_HOURS, Outcome.REFUSE, WINDOW_BASIS,
                              _("この証明書の{stage}は時間外です。").format(stage=WindowStage(stage).label))]


def request_window_closed(municipality, certificate_type: str, channel: str) -> bool:
    return not window_open(municipality, WindowStage.REQUEST, certificate_type, channel, timezone.now())


def _card(request: CertificateRequest) -> list[documents.Finding]:
    evidence = SignatureEvidence.objects.filter(municipality=request.municipality_id, request=request).first()
    if evidence is None:
        return [documents.Finding(ReasonCode.CARD_UNVERIFIABLE, Outcome.REFUSE, CARD_BASIS,
                                  _("署名の記録がありません。"))]
    result = trust.recheck_signature(evidence)
    if result.valid:
        return []
    if result.reason == jpki.Reason.REVOKED:
        return [documents.Finding(ReasonCode.CARD_REVOKED, Outcome.REFUSE, CARD_BASIS,
                                  _("署名に使われた署名用電子証明書が、署名の後に失効しています。"))]
    return [documents.Finding(ReasonCode.CARD_UNVERIFIABLE, Outcome.HOLD, CARD_BASIS,
                              _("署名用電子証明書の失効確認ができません(理由: {reason})。失効情報の更新後に"
                                "もう一度操作してください。").format(reason=result.reason))]


def _replica(request: CertificateRequest) -> list[documents.Finding]:
    resident = request.resident
    if resident is None:
        return []
    findings = []
    if protection.deceased(resident):
        findings.append(documents.Finding(ReasonCode.SUBJECT_DECEASED, Outcome.REFUSE, "戸籍法 第86条",
                                          _("請求者の死亡が戸籍に記録されています。")))
    if protection.current_address(resident) != request.delivery_address:
        findings.append(documents.Finding(
            ReasonCode.REQUESTER_MOVED, Outcome.HOLD, "住民基本台帳法 第12条第1項 (送付先は住民登録の住所)",
            _("署名の後に請求者の住所が変わりました。送付先と請求の内容を確認してください。")))
    return findings


def at_signing(request: CertificateRequest) -> list[documents.Finding]:
    """`request.resident` is the matched requester (set by the caller, not yet saved)."""
    return _window(request, WindowStage.REQUEST) + documents.assess(request)


def window_closed(request: CertificateRequest, stage: str) -> str:
    """The clerk's message when approving (review window) or printing (issue window) is outside the
    municipality's hours for this kind and channel; "" when open. Time refuses the step, not the request."""
    window = WindowStage.REVIEW if stage == APPROVAL else WindowStage.ISSUE
    if _window(request, window):
        return _("受付番号 {number}: この証明書の{stage}は、定められた時間内にだけ行えます。").format(
            number=request.formatted_reception_number, stage=WindowStage(window).label)
    return ""


def recheck(request: CertificateRequest) -> list[documents.Finding]:
    return documents.assess(request) + _replica(request) + _card(request)


def stops(request: CertificateRequest, findings: list[documents.Finding]) -> list[documents.Finding]:
    """What stops the request now: any refusal, and any finding not already known and accepted (a
    released hold's codes were known; a new one was not)."""
    known = set(request.restriction_codes)
    return [f for f in findings if f.outcome == Outcome.REFUSE or f.code not in known]


def hold(request: CertificateRequest, findings: list[documents.Finding], stage: str) -> str:
    """Hold the (locked) request with `findings`, record it, and return the clerk's message."""
    known = {f["code"]: f for f in request.restrictions}
    for finding in findings:
        known[finding.code] = finding.as_json()
    request.restrictions = list(known.values())
    request.held = True
    request.save(update_fields=["restrictions", "held", "updated_at"])
    events.record(events.held(request, stage=stage, findings=[f.as_json() for f in findings]))
    labels = "、".join(f"{ReasonCode(f.code).label}({f.detail})" if f.detail else str(ReasonCode(f.code).label)
                      for f in findings)
    return _("受付番号 {number} は再確認で停止しました: {labels}").format(
        number=request.formatted_reception_number, labels=labels)


def where_to_apply(request: CertificateRequest) -> str:
    policy = policy_for(request.municipality)
    return policy.where_to_apply or _("{name}の窓口").format(name=request.municipality.full_name)


def stop_if_changed(request: CertificateRequest, stage: str) -> str:
    """The clerk's message when the request may not go on (held, out of hours, or a re-check found
    a change, which holds it); "" to go on. Only for requests in a state the step accepts."""
    if request.state not in {State.RECEIVED, State.IN_REVIEW, State.APPROVED}:
        return ""
    if request.held:
        return _("受付番号 {number} は保留中です。管理者が保留を解除するまで承認・印刷できません。").format(
            number=request.formatted_reception_number)
    closed = window_closed(request, stage)
    if closed:
        return closed
    stopping = stops(request, recheck(request))
    return hold(request, stopping, stage) if stopping else ""
