"""The sandbox card page. It shows what will be signed, asks for the card and the signing PIN,
signs, and hands certificate and signature back to the request, as the real app would."""

import base64

from django import forms
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from madoguchi.applications.actions import canonical_bytes
from madoguchi.core.forms import Form
from madoguchi.identity.models import SigningChallenge

from . import card as cards


class CardForm(Form):
    card_code = forms.CharField(label=gettext_lazy("カード番号(デモ用)"), max_length=32)
    pin = forms.CharField(label=gettext_lazy("署名用電子証明書の暗証番号(6〜16桁の英数字)"), max_length=16,
                          min_length=6, widget=forms.PasswordInput(attrs={"autocomplete": "off"}))


def card(http_request, nonce):
    challenge = (SigningChallenge.objects.select_related("request__municipality")
                 .filter(nonce=nonce, used_at__isnull=True, expires_at__gt=timezone.now()).sole())
    if challenge is None:
        raise Http404
    request = challenge.request
    form = CardForm(http_request.POST or None)
    context = {"form": form, "r": request, "m": request.municipality}
    if http_request.method == "POST" and form.is_valid():
        held = cards.find_card(request.municipality, form.cleaned_data["card_code"])
        if held is None:
            form.add_error("card_code", _("カードを読み取れませんでした。カード番号を確認してください。"))
        else:
            try:
                certificate, signature = cards.sign(held, form.cleaned_data["pin"].upper(),
                                                    canonical_bytes(request, nonce))
            except cards.WrongPin as wrong:
                form.add_error("pin", _("暗証番号が違います。あと{n}回間違えるとロックされます。").format(
                    n=wrong.remaining))
            except cards.CardLocked:
                form.add_error(None, _("暗証番号のロックがかかっています。市区町村の窓口で初期化してください。"))
            else:
                context.update(signed=True, nonce=nonce, certificate=base64.b64encode(certificate).decode(),
                               signature=base64.b64encode(signature).decode(),
                               callback=reverse("web:signed", args=[request.municipality.code, request.public_id]))
    return render(http_request, "identity_sandbox/card.html", context)
