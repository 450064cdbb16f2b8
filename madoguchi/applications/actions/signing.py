"""Signing with the My Number Card: the one-time challenge, then the verified signature and the
automatic checks (replica match and restriction flags)."""

import datetime
import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.identity import jpki, trust
from madoguchi.identity.events import SignatureNotAccepted
from madoguchi.identity.models import SignatureEvidence, SigningChallenge, SigningPurpose
from madoguchi.registry.matching import match_resident

from .. import events
from ..models import CertificateRequest, Flag, MatchResult, State
from ..signing_terms import canonical_bytes
from ._base import ActionError, SignatureRejected, _locked, _transition

SIGNING_WINDOW = datetime.timedelta(minutes=15)


@transaction.atomic
def start_signing(request: CertificateRequest, *, return_url: str, retry_url: str) -> SigningChallenge:
    """A one-time challenge for the card. The channel names its pages: `return_url` where the
    resident continues once the signature is recorded, `retry_url` where they try again after a
    refusal (the identity provider returns there and never names a channel's page)."""
    request = _locked(request)
    if request.state != State.DRAFT:
        raise ActionError(_("この申請はすでに署名済みです。"))
    now = timezone.now()
    return SigningChallenge.objects.create(municipality=request.municipality, request=request,
                                           nonce=secrets.token_urlsafe(32), expires_at=now + SIGNING_WINDOW,
                                           return_url=return_url, retry_url=retry_url)


RESIDENT_MESSAGES = {
    "no_match": _("マイナンバーカードの情報と一致する住民登録が見つかりませんでした。"
                  "住民登録のある市区町村で申請するか、市民課にお問い合わせください。"),
    "challenge": _("署名の有効期限が切れたか、すでに使われています。もう一度署名してください。"),
    "invalid": _("マイナンバーカードの署名を確認できませんでした。もう一度お試しください。"),
    jpki.Reason.UNDER_15: _("15歳未満の方はオンラインで申請できません。"
                            "法定代理人の方が市民課の窓口で申請してください。"),
    jpki.Reason.REVOKED: _("マイナンバーカードの署名用電子証明書が失効しています。"
                           "市区町村の窓口で電子証明書を更新してください。"),
}


def record_signature(request: CertificateRequest, *, nonce: str, certificate: bytes, signature: bytes,
                     provider: str) -> CertificateRequest:
    """Verify the card's signature over the request and match the signer to the replica."""
    with transaction.atomic():
        request = _locked(request)
        if request.state != State.DRAFT:
            raise ActionError(_("この申請はすでに署名済みです。"))
        challenge = (SigningChallenge.objects.select_for_update()
                     .filter(request=request, nonce=nonce, purpose=SigningPurpose.REQUEST).first())
        now = timezone.now()
        if challenge is None or challenge.used_at or challenge.expires_at < now:
            raise SignatureRejected(RESIDENT_MESSAGES["challenge"], "challenge")
        challenge.used_at = now  # one try per nonce, valid or not
        challenge.save(update_fields=["used_at"])
    # Outside the first transaction so that a failed verification still burns the nonce.
    content = canonical_bytes(request, nonce)
    anchors = trust.active_anchors()
    result = jpki.verify_signature(certificate, signature, content, [cert for _anchor, cert in anchors], at=now,
                                   revocation=trust.revocation_sources(anchors))
    if not result.valid:
        reason = result.reason or "invalid"
        raise SignatureRejected(RESIDENT_MESSAGES.get(reason, RESIDENT_MESSAGES["invalid"]), reason)
    match = match_resident(request.municipality, result.basic_four)
    if match.result == MatchResult.NONE:
        raise SignatureRejected(RESIDENT_MESSAGES["no_match"], "no_match")
    resident = match.resident
    # Under 15 was refused by the verification core (from the certificate's date of birth).
    flags = [Flag(f) for f in result.flags]
    if resident.support_measure:
        flags.append(Flag.SUPPORT_MEASURE)
    if "name" in match.differences:
        flags.append(Flag.NAME_MISMATCH)
    if "address" in match.differences:
        flags.append(Flag.ADDRESS_MISMATCH)
    with transaction.atomic():
        request = _locked(request)
        if request.state != State.DRAFT:
            raise ActionError(_("この申請はすでに署名済みです。"))
        SignatureEvidence.objects.create(
            municipality=request.municipality, request=request, provider=provider,
            certificate_der=certificate, signature=signature, signed_bytes=content, subject=result.subject,
            issuer=result.issuer, serial=result.serial, not_before=result.not_before,
            not_after=result.not_after, result=result.evidence_json(), verified_at=now)
        request.resident = resident
        request.match_result = match.result
        request.match_detail = match.differences
        request.flags = [str(f) for f in flags]
        # Mailed to the registered address only: taken from the replica, never typed.
        request.delivery_name = resident.name
        request.delivery_postal_code = resident.household.postal_code
        request.delivery_address = resident.household.address
        _transition(request, events.signed(request, serial=result.serial, match_result=match.result,
                                           provider=provider),
                    fields=("resident", "match_result", "match_detail", "flags", "delivery_name",
                            "delivery_postal_code", "delivery_address"))
    return request


def on_signature_returned(sender, *, challenge: SigningChallenge, certificate: bytes, signature: bytes,
                          provider: str, **kwargs) -> None:
    """Subscriber of `identity.events.signature_returned`: an identity provider brought back the
    card's certificate and signature for `challenge` (signatures for a correction or a cancellation
    are `resigning`'s)."""
    if challenge.purpose != SigningPurpose.REQUEST:
        return
    try:
        record_signature(challenge.request, nonce=challenge.nonce, certificate=certificate, signature=signature,
                         provider=provider)
    except ActionError as exc:
        raise SignatureNotAccepted(str(exc)) from exc
