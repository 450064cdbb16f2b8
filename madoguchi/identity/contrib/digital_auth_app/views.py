"""The two legs of the trip to デジタル認証アプリ: out (start a sign transaction, redirect to the
authorization endpoint) and back (check state, exchange the code, check the ID token's nonce, fetch
the signature, publish it for the workflow, then send the resident to the challenge's return or
retry URL). Sequence: docs/identity.md."""

import datetime
import logging
import secrets

from django.db import transaction
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.applications.signing_terms import canonical_bytes
from madoguchi.identity.models import SigningChallenge
from madoguchi.identity.returns import back_to_retry, hand_over

from .client import Client, ProviderError, pkce_pair
from .models import AuthorizationSession, ClientConfiguration
from .provider import DigitalAuthAppProvider

log = logging.getLogger(__name__)
# The resident has this long to finish in the app; the signing challenge itself lasts 15 minutes.
SESSION_LIFETIME = datetime.timedelta(minutes=10)


def resident_message(code: str) -> str:
    if code == "access_denied":
        return _("デジタル認証アプリでの署名が取り消されました。もう一度お試しください。")
    if code in {"unavailable", "temporarily_unavailable", "server_error"}:
        return _("デジタル認証アプリに接続できませんでした。しばらくしてからもう一度お試しください。")
    return _("デジタル認証アプリでの署名を確認できませんでした。もう一度お試しください。")


def _client(municipality) -> Client:
    config = ClientConfiguration.objects.for_municipality(municipality).filter(active=True).first()
    if config is None:
        raise ProviderError("configuration", f"no client for {municipality.code}")
    return Client(config.client_id, config.redirect_uri)


def start(http_request, nonce):
    challenge = (SigningChallenge.objects.select_related("request__municipality")
                 .filter(nonce=nonce, used_at__isnull=True, expires_at__gt=timezone.now()).sole())
    if challenge is None:
        raise Http404
    request = challenge.request
    try:
        client = _client(request.municipality)
        transaction_id = client.start_sign_transaction(
            canonical_bytes(request, nonce, challenge.purpose),
            _("{municipality} 証明書の交付申請").format(municipality=request.municipality.full_name))
    except ProviderError as exc:
        log.warning("digital_auth_app start failed: %s", exc)
        return back_to_retry(http_request, challenge, resident_message(exc.code))
    verifier, code_challenge = pkce_pair()
    session = AuthorizationSession.objects.create(
        municipality=request.municipality, challenge=challenge, state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32), code_verifier=verifier, sign_transaction_id=transaction_id,
        expires_at=timezone.now() + SESSION_LIFETIME)
    return redirect(client.authorization_url(state=session.state, nonce=session.nonce, code_challenge=code_challenge,
                                             sign_transaction_id=transaction_id))


def callback(http_request):
    state = http_request.GET.get("state", "")
    with transaction.atomic():
        session = (AuthorizationSession.objects.select_for_update()
                   .select_related("challenge__request__municipality")
                   .filter(state=state, used_at__isnull=True, expires_at__gt=timezone.now()).sole()
                   if state else None)
        if session is None:
            # Unknown, replayed or expired state: nothing of ours to continue (CSRF defence, RFC 6749 §10.12).
            return HttpResponseBadRequest(_("署名の手続きが見つからないか、すでに使われています。"
                                            "申請画面からもう一度お試しください。"))
        session.used_at = timezone.now()
        session.save(update_fields=["used_at"])
    challenge = session.challenge
    request = challenge.request
    if "error" in http_request.GET:
        log.info("digital_auth_app returned error %s", http_request.GET.get("error"))
        return back_to_retry(http_request, challenge, resident_message(http_request.GET["error"]))
    try:
        client = _client(request.municipality)
        access_token, _claims = client.exchange_code(http_request.GET.get("code", ""), session.code_verifier,
                                                     session.nonce)
        certificate, signature = client.sign_result(access_token, session.sign_transaction_id)
    except ProviderError as exc:
        log.warning("digital_auth_app callback failed: %s", exc)
        return back_to_retry(http_request, challenge, resident_message(exc.code))
    return hand_over(http_request, challenge, certificate=certificate, signature=signature,
                     provider=DigitalAuthAppProvider.name)
