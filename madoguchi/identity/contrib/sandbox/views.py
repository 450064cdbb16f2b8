"""The sandbox card page. It shows what will be signed, asks for the card and the signing PIN,
signs, and hands certificate and signature back through the resident's browser to `returned`, as
the real app would; `returned` gives them to the workflow and sends the resident to the channel."""

import base64
import binascii

from django import forms
from django.contrib import messages
from django.core.validators import RegexValidator
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from madoguchi.applications.signing_terms import canonical_bytes
from madoguchi.core.forms import Form
from madoguchi.identity import authentication
from madoguchi.identity.models import SigningChallenge
from madoguchi.identity.returns import hand_over

from . import card as cards
from .provider import SandboxIdentityProvider

MAX_FIELD = 16 * 1024  # base64 of a certificate or a signature is a few kilobytes


class CardForm(Form):
    card_code = forms.CharField(label=gettext_lazy("カード番号(デモ用)"), max_length=32)
    pin = forms.CharField(label=gettext_lazy("署名用電子証明書の暗証番号(6〜16桁の英数字)"), max_length=16,
                          min_length=6, widget=forms.PasswordInput(attrs={"autocomplete": "off"}))


class AuthenticationCardForm(Form):
    card_code = forms.CharField(label=gettext_lazy("カード番号(デモ用)"), max_length=32)
    pin = forms.CharField(
        label=gettext_lazy("利用者証明用電子証明書の暗証番号(数字4桁)"), max_length=4, min_length=4,
        validators=[RegexValidator(r"^[0-9]{4}\Z", gettext_lazy("暗証番号は数字4桁で入力してください。"))],
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "inputmode": "numeric"}))


def card(http_request, nonce):
    challenge = (SigningChallenge.objects.select_related("request__municipality")
                 .filter(nonce=nonce, used_at__isnull=True, expires_at__gt=timezone.now()).sole())
    if challenge is None:
        raise Http404
    request = challenge.request
    form = CardForm(http_request.POST or None)
    context = {"form": form, "r": request, "m": request.municipality, "purpose": challenge.get_purpose_display()}
    if http_request.method == "POST" and form.is_valid():
        held = cards.find_card(request.municipality, form.cleaned_data["card_code"])
        if held is None:
            form.add_error("card_code", _("カードを読み取れませんでした。カード番号を確認してください。"))
        else:
            try:
                certificate, signature = cards.sign(held, form.cleaned_data["pin"].upper(),
                                                    canonical_bytes(request, nonce, challenge.purpose))
            except cards.WrongPin as wrong:
                form.add_error("pin", _("暗証番号が違います。あと{n}回間違えるとロックされます。").format(
                    n=wrong.remaining))
            except cards.CardLocked:
                form.add_error(None, _("暗証番号のロックがかかっています。市区町村の窓口で初期化してください。"))
            else:
                context.update(signed=True, nonce=nonce, certificate=base64.b64encode(certificate).decode(),
                               signature=base64.b64encode(signature).decode(),
                               callback=reverse("identity_sandbox:returned"))
    return render(http_request, "identity_sandbox/card.html", context)


@require_POST
def returned(http_request):
    """Where the card hands back the certificate and the signature for a challenge."""
    fields = [http_request.POST.get(name, "") for name in ("nonce", "certificate", "signature")]
    nonce, certificate_b64, signature_b64 = fields
    try:
        if any(len(field) > MAX_FIELD for field in fields):
            raise ValueError("oversized")
        certificate = base64.b64decode(certificate_b64, validate=True)
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return HttpResponseBadRequest(_("署名データの形式が正しくありません。"))
    challenge = (SigningChallenge.objects.select_related("request__municipality").filter(nonce=nonce).first()
                 if nonce.isprintable() and len(nonce) <= 64 else None)
    if challenge is None:
        return render(http_request, "web/error.html", {"message": _(
            "署名の有効期限が切れたか、すでに使われています。もう一度署名してください。")}, status=400)
    return hand_over(http_request, challenge, certificate=certificate, signature=signature,
                     provider=SandboxIdentityProvider.name)


def _decoded(http_request) -> tuple[str, bytes, bytes]:
    fields = [http_request.POST.get(name, "") for name in ("nonce", "certificate", "signature")]
    if any(len(field) > MAX_FIELD for field in fields):
        raise ValueError("oversized")
    return fields[0], base64.b64decode(fields[1], validate=True), base64.b64decode(fields[2], validate=True)


def authenticate(http_request, nonce):
    """Sign in with the card: the 利用者証明用電子証明書 signs the one-time challenge after its 4-digit PIN."""
    challenge = authentication.pending(nonce)
    if challenge is None:
        raise Http404
    form = AuthenticationCardForm(http_request.POST or None)
    context = {"form": form, "m": challenge.municipality, "authentication": True}
    if http_request.method == "POST" and form.is_valid():
        held = cards.find_card(challenge.municipality, form.cleaned_data["card_code"])
        if held is None:
            form.add_error("card_code", _("カードを読み取れませんでした。カード番号を確認してください。"))
        else:
            try:
                certificate, signature = cards.authenticate(held, form.cleaned_data["pin"],
                                                            authentication.challenge_bytes(challenge))
            except cards.WrongPin as wrong:
                form.add_error("pin", _("暗証番号が違います。あと{n}回間違えるとロックされます。").format(
                    n=wrong.remaining))
            except cards.CardLocked:
                form.add_error(None, _("利用者証明用電子証明書の暗証番号のロックがかかっています。"
                                       "市区町村の窓口で初期化してください。"))
            else:
                context.update(signed=True, nonce=challenge.nonce,
                               certificate=base64.b64encode(certificate).decode(),
                               signature=base64.b64encode(signature).decode(),
                               callback=reverse("identity_sandbox:authenticated"))
    return render(http_request, "identity_sandbox/card.html", context)


@require_POST
def authenticated(http_request):
    """Where the card hands back the certificate and the signature over a sign-in challenge."""
    try:
        nonce, certificate, signature = _decoded(http_request)
    except (binascii.Error, ValueError):
        return HttpResponseBadRequest(_("署名データの形式が正しくありません。"))
    challenge = authentication.pending(nonce)
    try:
        authentication.answer(http_request, nonce, certificate=certificate, signature=signature,
                              provider=SandboxIdentityProvider.name)
    except authentication.AuthenticationRefused as refused:
        if challenge is None or not challenge.retry_url:
            return render(http_request, "web/error.html", {"message": str(refused)}, status=400)
        messages.error(http_request, str(refused))
        return redirect(challenge.retry_url)
    return redirect(challenge.return_url)
