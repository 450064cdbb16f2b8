"""Signing in with the My Number Card's 利用者証明用電子証明書 (公的個人認証法 第22条: 利用者証明).

    challenge = authentication.start(http_request, municipality, return_url=..., retry_url=...)
    → the provider's page has the card sign `challenge_bytes(challenge)` and hands the certificate
      and signature to `answer` (one try per nonce, only from the session that asked)
    → the channel's `return_url` calls `claim`, which gives the verified person once.

The certificate is verified as a signing certificate is (path to the user-authentication CA,
validity, key usage, revocation); it carries no name or address, so the person is the one the
replica's linkage file names for its serial (`registry.CardCertificateLink`). Every answer, good or
not, is written to the audit trail (個人情報の保護に関する法律 第66条: 安全管理措置).
"""

import datetime
import hmac
import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from madoguchi.operations import audit
from madoguchi.registry.models import CardCertificateLink
from madoguchi.tenancy.models import Municipality

from . import jpki, trust
from .models import AuthenticationChallenge

WINDOW = datetime.timedelta(minutes=5)
# A verified answer must be taken by the channel soon after it came back.
CLAIM_WINDOW = datetime.timedelta(minutes=5)
OK = "ok"
UNKNOWN_SERIAL, LINK_REVOKED, LINK_EXPIRED, CHALLENGE = "unknown_serial", "link_revoked", "link_expired", "challenge"

MESSAGES = {
    CHALLENGE: gettext_lazy("サインインの有効期限が切れたか、すでに使われています。もう一度お試しください。"),
    UNKNOWN_SERIAL: gettext_lazy(
        "このマイナンバーカードの利用者証明用電子証明書は、この市区町村の記録にありません(転入直後や、電子証明書を"
        "更新した直後は登録まで数日かかります)。申請のときに入力したメールアドレスで、申請の一覧を開くリンクを"
        "受け取ってください。"),
    LINK_REVOKED: gettext_lazy("マイナンバーカードの利用者証明用電子証明書が失効しています。"
                               "市区町村の窓口で電子証明書を更新してください。"),
    LINK_EXPIRED: gettext_lazy("マイナンバーカードの利用者証明用電子証明書の有効期限が切れています。"
                               "市区町村の窓口で電子証明書を更新してください。"),
    jpki.Reason.REVOKED: gettext_lazy("マイナンバーカードの利用者証明用電子証明書が失効しています。"
                                      "市区町村の窓口で電子証明書を更新してください。"),
    jpki.Reason.EXPIRED: gettext_lazy("マイナンバーカードの利用者証明用電子証明書の有効期限が切れています。"
                                      "市区町村の窓口で電子証明書を更新してください。"),
    "invalid": gettext_lazy("マイナンバーカードでのサインインを確認できませんでした。もう一度お試しください。"),
}


class AuthenticationRefused(Exception):
    """The sign-in was not accepted; `str(error)` is the resident's message, `reason` the code."""

    def __init__(self, reason: str):
        super().__init__(str(MESSAGES.get(reason, MESSAGES["invalid"])))
        self.reason = reason


def _session_key(municipality: Municipality) -> str:
    return f"identity:authentication:{municipality.code}"


def challenge_bytes(challenge: AuthenticationChallenge) -> bytes:
    """What the card signs: the nonce, for this service and this municipality only."""
    return f"madoguchi-user-authentication\n{challenge.municipality.code}\n{challenge.nonce}".encode()


def start(http_request, municipality: Municipality, *, return_url: str, retry_url: str) -> AuthenticationChallenge:
    """A one-time challenge bound to this browser session (a newer one replaces it)."""
    challenge = AuthenticationChallenge.objects.create(
        municipality=municipality, nonce=secrets.token_urlsafe(32), expires_at=timezone.now() + WINDOW,
        return_url=return_url, retry_url=retry_url)
    http_request.session[_session_key(municipality)] = challenge.nonce
    return challenge


def pending(nonce: str) -> AuthenticationChallenge | None:
    """The unanswered, unexpired challenge with this nonce (the provider's card page)."""
    if not (isinstance(nonce, str) and nonce.isascii() and nonce.isprintable() and len(nonce) <= 64):
        return None
    return (AuthenticationChallenge.objects.select_related("municipality")
            .filter(nonce=nonce, answered_at__isnull=True, expires_at__gt=timezone.now()).first())


def _bound(http_request, challenge: AuthenticationChallenge) -> bool:
    held = http_request.session.get(_session_key(challenge.municipality), "")
    return isinstance(held, str) and hmac.compare_digest(held.encode(), challenge.nonce.encode())


def answer(http_request, nonce: str, *, certificate: bytes, signature: bytes,
           provider: str) -> AuthenticationChallenge:
    """Verify the card's answer to the challenge `nonce`; raises AuthenticationRefused.

    One try per nonce: the nonce is burnt before the cryptography, so a replay (or a second guess
    after a forged signature) finds it used."""
    challenge = pending(nonce)
    if challenge is None or not _bound(http_request, challenge):
        raise AuthenticationRefused(CHALLENGE)
    now = timezone.now()
    with transaction.atomic():
        burnt = AuthenticationChallenge.objects.filter(pk=challenge.pk, answered_at__isnull=True).update(
            answered_at=now, provider=provider[:30])
    if not burnt:
        raise AuthenticationRefused(CHALLENGE)
    anchors = trust.active_anchors(jpki.CertificatePurpose.AUTHENTICATION)
    result = jpki.verify_authentication(certificate, signature, challenge_bytes(challenge),
                                        [cert for _anchor, cert in anchors], now,
                                        revocation=trust.revocation_sources(anchors))
    outcome, link = result.reason or "invalid", None
    if result.valid:
        link = (CardCertificateLink.objects.select_related("resident")
                .filter(municipality=challenge.municipality, serial_number__iexact=result.serial).first())
        today = timezone.localdate()
        if link is None:
            outcome = UNKNOWN_SERIAL
        elif link.revoked_on is not None and link.revoked_on <= today:
            outcome = LINK_REVOKED
        elif link.valid_until is not None and link.valid_until < today:
            outcome = LINK_EXPIRED
        else:
            outcome = OK
    challenge.outcome, challenge.serial = outcome, result.serial[:64]
    challenge.resident = link.resident if outcome == OK else None
    challenge.save(update_fields=["outcome", "serial", "resident"])
    audit.record(audit.AuditAction.RESIDENT_CARD_SIGN_IN if outcome == OK
                 else audit.AuditAction.RESIDENT_CARD_SIGN_IN_FAILED,
                 http_request=http_request, municipality=challenge.municipality,
                 target=("identity.authenticationchallenge", challenge.pk, "利用者証明用電子証明書"),
                 resident=challenge.resident, after={"outcome": outcome, "provider": provider[:30]})
    if outcome != OK:
        raise AuthenticationRefused(outcome)
    return challenge


def claim(http_request, municipality: Municipality) -> AuthenticationChallenge | None:
    """The verified sign-in of this session, once: None when there is none (or it was taken)."""
    nonce = http_request.session.pop(_session_key(municipality), None)
    if not isinstance(nonce, str):
        return None
    now = timezone.now()
    with transaction.atomic():
        challenge = (AuthenticationChallenge.objects.select_for_update().select_related("resident")
                     .filter(municipality=municipality, nonce=nonce, outcome=OK, claimed_at__isnull=True,
                             answered_at__gt=now - CLAIM_WINDOW, resident__isnull=False).first())
        if challenge is None:
            return None
        challenge.claimed_at = now
        challenge.save(update_fields=["claimed_at"])
    return challenge
