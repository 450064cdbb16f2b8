"""The sandbox gateway's hosted payment page (what the provider would serve on its own site)."""

from django import forms
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _

from madoguchi.core.forms import Form

from . import gateway
from .models import SandboxCharge

# Test cards as providers publish them: one that pays, one that is declined.
CARD_OK, CARD_DECLINED = "4242424242424242", "4000000000000002"


class CheckoutForm(Form):
    card_number = forms.CharField(label=_("カード番号(テスト用)"), max_length=19, initial=CARD_OK)

    def clean_card_number(self):
        number = "".join(ch for ch in self.cleaned_data["card_number"] if ch.isdigit())
        if number == CARD_DECLINED:
            raise forms.ValidationError(_("このカードはご利用いただけません。別のカードをお試しください。"))
        if number != CARD_OK:
            raise forms.ValidationError(_("テスト用のカード番号を入力してください。"))
        return number


def checkout(http_request, charge_id):
    charge = get_object_or_404(SandboxCharge, charge_id=charge_id)
    if charge.status != "created":
        return redirect(gateway.return_url_for(charge))
    form = CheckoutForm(http_request.POST or None)
    if http_request.method == "POST" and form.is_valid():
        charge = gateway.capture(charge.charge_id)
        return redirect(gateway.return_url_for(charge))
    return render(http_request, "payments_sandbox/checkout.html", {"charge": charge, "form": form})
