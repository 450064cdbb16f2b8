"""Signing again with the same My Number Card after 受付: to confirm a cancellation when the request
has no notice address or LINE account to send a code to, and to sign the corrected terms of a
request sent back (差戻し).

The card signs `canonical_bytes(request, nonce, purpose)`: the request's terms as they are now, the
purpose and a one-time nonce. The signature must verify (JPKI chain, validity, revocation) and come
from the card that signed the request: the same signing certificate (serial number and subject DN,
which JPKI makes per certificate) as the original `SignatureEvidence`. A card renewed since has
another certificate; its holder cancels with a code or asks the municipality.
"""

import datetime
import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from madoguchi.identity import jpki, trust
from madoguchi.identity.events import SignatureNotAccepted
from madoguchi.identity.models import SignatureEvidence, SigningChallenge, SigningPurpose

from ..models import CertificateRequest
from ..signing_terms import canonical_bytes
from ._base import ActionError, SignatureRejected, _locked
from .signing import RESIDENT_MESSAGES

SIGNING_WINDOW = datetime.timedelta(minutes=15)

NOT_THE_SAME_CARD = gettext_lazy("申請のときに署名したマイナンバーカードの電子証明書と一致しません。"
                                 "申請に使ったカードで署名してください。カードを更新した場合は市民課にお問い合わせください。")


def start(request: CertificateRequest, purpose: str, *, return_url: str, retry_url: str) -> SigningChallenge:
    """A one-time challenge for signing `request` again for `purpose` (not the request itself)."""
    if purpose == SigningPurpose.REQUEST:
        raise ValueError("the request itself is signed by actions.start_signing")
    with transaction.atomic():
        request = _locked(request)
        if not SignatureEvidence.objects.filter(municipality_id=request.municipality_id, request=request,
                                                purpose=SigningPurpose.REQUEST).exists():
            raise ActionError(_("この申請はマイナンバーカードで署名されていないため、カードでの確認はできません。"))
        return SigningChallenge.objects.create(
            municipality=request.municipality, request=request, purpose=purpose, nonce=secrets.token_urlsafe(32),
            expires_at=timezone.now() + SIGNING_WINDOW, return_url=return_url, retry_url=retry_url)


def verify_same_card(request: CertificateRequest, *, nonce: str, purpose: str, certificate: bytes,
                     signature: bytes, provider: str) -> SignatureEvidence:
    """Burn the challenge, verify the signature over the request as it is now and check it is the
    original card's; the evidence is stored (in the caller's transaction, with the caller's change)."""
    with transaction.atomic():
        challenge = (SigningChallenge.objects.select_for_update()
                     .filter(municipality_id=request.municipality_id, request=request, nonce=nonce,
                             purpose=purpose).first())
        now = timezone.now()
        if challenge is None or challenge.used_at or challenge.expires_at < now:
            raise SignatureRejected(RESIDENT_MESSAGES["challenge"], "challenge")
        challenge.used_at = now  # one try per nonce, valid or not
        challenge.save(update_fields=["used_at"])
    content = canonical_bytes(request, nonce, purpose)
    anchors = trust.active_anchors()
    result = jpki.verify_signature(certificate, signature, content, [cert for _anchor, cert in anchors], at=now,
                                   revocation=trust.revocation_sources(anchors))
    if not result.valid:
        reason = result.reason or "invalid"
        raise SignatureRejected(RESIDENT_MESSAGES.get(reason, RESIDENT_MESSAGES["invalid"]), reason)
    original = SignatureEvidence.objects.filter(municipality_id=request.municipality_id, request=request,
                                                purpose=SigningPurpose.REQUEST).first()
    if original is None or (result.serial, result.subject) != (original.serial, original.subject):
        raise SignatureRejected(str(NOT_THE_SAME_CARD), "other_card")
    return SignatureEvidence.objects.create(
        municipality=request.municipality, request=request, purpose=purpose, provider=provider,
        certificate_der=certificate, signature=signature, signed_bytes=content, subject=result.subject,
        issuer=result.issuer, serial=result.serial, not_before=result.not_before, not_after=result.not_after,
        result=result.evidence_json(), verified_at=now)


def on_signature_returned(sender, *, challenge: SigningChallenge, certificate: bytes, signature: bytes,
                          provider: str, **kwargs) -> None:
    """Subscriber of `identity.events.signature_returned` for signatures other than the request's own."""
    from .cancellation import cancel_with_card
    from .correction import record_correction_signature

    handlers = {SigningPurpose.CANCEL: cancel_with_card, SigningPurpose.CORRECTION: record_correction_signature}
    handler = handlers.get(challenge.purpose)
    if handler is None:
        return
    try:
        handler(challenge.request, nonce=challenge.nonce, certificate=certificate, signature=signature,
                provider=provider)
    except ActionError as exc:
        raise SignatureNotAccepted(str(exc)) from exc
