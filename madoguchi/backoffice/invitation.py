"""The one-time invitation link: the invitee chooses a password and enrolls TOTP by scanning a QR
code (RFC 6238; the otpauth URI of Google Authenticator's key-uri format), proving it with a code.
Nobody else ever sees the password or the TOTP secret; the manager only hands over the link."""

import hashlib

import pyotp
import segno
from django import forms
from django.contrib.auth import login
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from madoguchi.tenancy import staffing
from madoguchi.tenancy.models import Role

from .auth import mark_signed_in
from .manage.common import ManageForm

ISSUER = "Madoguchi"


class EnrollForm(ManageForm):
    password = forms.CharField(label=gettext_lazy("新しいパスワード(12文字以上)"), widget=forms.PasswordInput,
                               max_length=128, min_length=12)
    password_again = forms.CharField(label=gettext_lazy("新しいパスワード(確認)"), widget=forms.PasswordInput,
                                     max_length=128)
    code = forms.CharField(label=gettext_lazy("認証アプリに表示された6桁の確認コード"), max_length=8,
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}))

    def __init__(self, *args, staff, secret, **kwargs):
        super().__init__(*args, **kwargs)
        self.staff, self.secret = staff, secret

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data["password"] != data["password_again"]:
            self.add_error("password_again", _("確認のパスワードが一致しません。"))
            return data
        try:
            validate_password(data["password"], self.staff)
        except ValidationError as exc:
            self.add_error("password", exc)
        code = "".join(ch for ch in data["code"] if ch.isdigit())
        if not pyotp.TOTP(self.secret).verify(code, valid_window=1):
            self.add_error("code", _("確認コードが違います。"
                                     "認証アプリに表示されている最新のコードを入力してください。"))
        return data


def home_for(user) -> str:
    """Where a member of staff starts after signing in."""
    if user.is_operator:
        return "backoffice:operator"
    if user.role == Role.AUDITOR:
        return "backoffice:audit_home"  # their landing page: what they may open, the latest log entries
    return "backoffice:queue"


@require_http_methods(["GET", "POST"])
def invitation(http_request, token):
    found = staffing.find_invitation(token)
    if found is None:
        return render(http_request, "backoffice/invitation_invalid.html", status=404)
    staff = found.staff
    # The secret offered to this browser for this link, kept across a wrong code or a reload.
    key = "enroll:" + hashlib.sha256(token.encode()).hexdigest()[:16]
    secret = http_request.session.get(key) or pyotp.random_base32()
    http_request.session[key] = secret
    form = EnrollForm(http_request.POST or None, staff=staff, secret=secret)
    if http_request.method == "POST" and form.is_valid():
        enrolled = staffing.accept_invitation(token, password=form.cleaned_data["password"], totp_secret=secret,
                                                totp_step=pyotp.TOTP(secret).timecode(timezone.now()))
        if enrolled is None:
            return render(http_request, "backoffice/invitation_invalid.html", status=404)
        http_request.session.pop(key, None)
        login(http_request, enrolled, backend="django.contrib.auth.backends.ModelBackend")
        mark_signed_in(http_request)
        return redirect(home_for(enrolled))
    uri = pyotp.TOTP(secret).provisioning_uri(name=staff.username, issuer_name=f"{ISSUER} {staff.municipality.name}")
    return render(http_request, "backoffice/invitation.html", {
        "form": form, "staff": staff, "qr": segno.make(uri, error="m").svg_data_uri(scale=5), "secret": secret,
    }, status=400 if http_request.method == "POST" else 200)
