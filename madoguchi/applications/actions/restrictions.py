"""Actions of the restriction rules that are not a step of the request itself: a manager releasing
a hold, the 本人通知 after issuance, a resident registering for the 本人通知制度 with their card."""

import datetime
import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from madoguchi.catalog.models import CertificateType
from madoguchi.documents.services import persons_shown
from madoguchi.identity import jpki, trust
from madoguchi.notifications.outbox import enqueue_personal_notice
from madoguchi.operations import audit
from madoguchi.operations.models import AuditAction
from madoguchi.registry.matching import match_resident
from madoguchi.registry.restrictions import (
    Outcome,
    PersonalNoticeChallenge,
    PersonalNoticeRegistration,
    ReasonCode,
    policy_for,
)
from madoguchi.tenancy.models import Role, Staff

from .. import events
from ..models import CertificateRequest
from . import _checks
from ._base import ActionError, _locked

# The 本人通知制度 covers 住民票, 附票 and 戸籍 (each municipality's 要綱), not 印鑑・税 certificates.
NOTICE_KINDS = {CertificateType.RESIDENCE, CertificateType.RESIDENCE_ENTRY, CertificateType.KOSEKI_FUHYO,
                CertificateType.KOSEKI_FULL, CertificateType.KOSEKI_INDIVIDUAL}
# Findings that make the requester a third party (住民基本台帳法 第12条の3): the 本人等 (本人, 同一世帯,
# and for 戸籍・附票 the spouse and lineal relatives) are not notified under the 要綱.
THIRD_PARTY_CODES = {ReasonCode.RELATIVE_OTHER_HOUSEHOLD}
REGISTRATION_WINDOW = datetime.timedelta(minutes=15)
REGISTRATION_YEARS = 3


@transaction.atomic
def release_hold(request: CertificateRequest, manager: Staff, note: str) -> CertificateRequest:
    """A manager releases a held request after checking it (a 支援措置 of someone on the certificate,
    a change found at re-check). Refused while any finding says the request may not be issued: that
    request can only be rejected (and refunded)."""
    request = _locked(request)
    if manager.municipality_id != request.municipality_id or manager.role != Role.MANAGER:
        raise ActionError(_("保留の解除は管理者だけが行えます。"))
    note = note.strip()
    if not note:
        raise ActionError(_("解除の理由(確認した内容)を入力してください。"))
    if len(note) > 500:
        raise ActionError(_("解除の理由は500文字以内で入力してください。"))
    if not request.held:
        raise ActionError(_("この申請は保留されていません。"))
    findings = _checks.recheck(request)
    refusals = [f for f in findings if f.outcome == Outcome.REFUSE]
    if refusals:
        raise ActionError(_("発行できない理由があるため保留を解除できません({labels})。"
                            "申請を却下してください。").format(
            labels="、".join(str(ReasonCode(f.code).label) for f in refusals)))
    known = {f["code"]: f for f in request.restrictions}
    known.update({f.code: f.as_json() for f in findings})
    request.restrictions = list(known.values())
    request.held = False
    request.save(update_fields=["restrictions", "held", "updated_at"])
    events.record(events.hold_released(request, staff=manager, note=note, codes=request.restriction_codes))
    audit.record(AuditAction.HOLD_RELEASED, actor=manager, target=request, after={"codes": request.restriction_codes})
    return request


REQUESTER_CATEGORY = {ReasonCode.RELATIVE_OTHER_HOUSEHOLD: gettext_lazy("第三者(正当な理由のある者)")}


def personal_notices(request: CertificateRequest) -> int:
    """After issuance: queue the 本人通知 for each registered person the certificate shows, when the
    requester asked as a third party. Says only what the municipality's setting allows."""
    if request.certificate_type not in NOTICE_KINDS:
        return 0
    third_party = [c for c in request.restriction_codes if c in THIRD_PARTY_CODES]
    if not third_party:
        return 0
    shown = [p for p in persons_shown(request) if p.pk != request.resident_id]
    if not shown:
        return 0
    today = timezone.localdate()
    items = set(policy_for(request.municipality).personal_notice_items)
    values = {"issued_on": today.isoformat(), "certificate": request.get_certificate_type_display(),
              "copies": request.copies, "requester_category": str(REQUESTER_CATEGORY[third_party[0]])}
    context = {k: v for k, v in values.items() if k in items}
    sent = 0
    registrations = PersonalNoticeRegistration.objects.filter(
        municipality=request.municipality, resident__in=shown, withdrawn_at__isnull=True)
    for registration in registrations:
        if not registration.is_active(today):
            continue
        if enqueue_personal_notice(request, registration_id=registration.pk, recipient=registration.email,
                                   context=context):
            events.record(events.personal_notice(request, registration_id=registration.pk, items=sorted(context)))
            sent += 1
    return sent


def registration_bytes(municipality, nonce: str, email: str) -> bytes:
    """What the card signs to register: the municipality, the e-mail address and the one-time nonce."""
    return f"madoguchi:personal-notice:v1\nmunicipality={municipality.code}\nemail={email}\nnonce={nonce}\n".encode()


def start_personal_notice_registration(municipality, email: str) -> PersonalNoticeChallenge:
    email = email.strip()
    if not email or len(email) > 254 or "@" not in email or "\x00" in email:
        raise ActionError(_("通知先のメールアドレスを正しく入力してください。"))
    return PersonalNoticeChallenge.objects.create(municipality=municipality, nonce=secrets.token_urlsafe(32),
                                                  email=email, expires_at=timezone.now() + REGISTRATION_WINDOW)


def register_personal_notice(municipality, *, nonce: str, certificate: bytes,
                             signature: bytes) -> PersonalNoticeRegistration:
    """Verify the card's signature over the registration (as for a request: chain, revocation, the
    basic four matched exactly to the replica) and register the signer."""
    now = timezone.now()
    with transaction.atomic():
        challenge = (PersonalNoticeChallenge.objects.select_for_update()
                     .filter(municipality=municipality, nonce=nonce).first())
        if challenge is None or challenge.used_at or challenge.expires_at < now:
            raise ActionError(_("署名の有効期限が切れたか、すでに使われています。もう一度お手続きください。"))
        challenge.used_at = now
        challenge.save(update_fields=["used_at"])
    anchors = trust.active_anchors()
    result = jpki.verify_signature(certificate, signature, registration_bytes(municipality, nonce, challenge.email),
                                   [cert for _anchor, cert in anchors], at=now,
                                   revocation=trust.revocation_sources(anchors))
    if not result.valid:
        raise ActionError(_("マイナンバーカードの署名を確認できませんでした。もう一度お試しください。"))
    match = match_resident(municipality, result.basic_four)
    if match.result != "exact":
        # Only an exact match registers: a notice must never go to someone else's address.
        raise ActionError(_("マイナンバーカードの情報と一致する住民登録が見つかりませんでした。"
                            "窓口でお手続きください。"))
    try:
        with transaction.atomic():
            return PersonalNoticeRegistration.objects.create(
                municipality=municipality, resident=match.resident, email=challenge.email, registered_at=now,
                valid_until=timezone.localdate() + datetime.timedelta(days=365 * REGISTRATION_YEARS),
                jpki_serial=result.serial, nonce=nonce)
    except IntegrityError:
        raise ActionError(_("すでに本人通知制度に登録されています。")) from None
