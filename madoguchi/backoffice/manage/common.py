"""What every manager screen shares: the permission check, the audit call, text hygiene and the
refusal of a stale form."""

import unicodedata
from functools import wraps

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from madoguchi.core.forms import Form
from madoguchi.operations import audit

from ..auth import OTP_SESSION_KEY, staff_required


def _audit(staff, action: str, target: tuple[str, object, str], before, after, *, municipality=None) -> None:
    """The one place the manager screens and the operator console record a change in the
    hash-chained audit trail (operations.audit): who, what (type, id, label), before and after.
    `action` is an AuditAction value: setting_changed or staff_changed."""
    audit.record(action, actor=staff, municipality=municipality, target=target, before=before, after=after)


def check_text(value: str) -> str:
    """Refuse what no setting should contain: NUL and other control characters, lone surrogates
    and the replacement character a broken encoding leaves behind (U+FFFD)."""
    for char in value:
        if char in "\t\r\n":
            continue
        category = unicodedata.category(char)
        if category in {"Cc", "Cs"} or char == "\ufffd":
            raise ValidationError(_("使えない文字(制御文字や壊れた文字)が含まれています。"))
    return value


class ManageForm(Form):
    """Every text field checked with `check_text`, values trimmed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.CharField):
                field.validators.append(check_text)


class VersionField(forms.IntegerField):
    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        super().__init__(min_value=0, max_value=2**31, required=False, **kwargs)


def difference(labels: dict[str, str], current: dict, submitted: dict) -> list[tuple[str, str, str]]:
    """(label, value now saved, value in the refused form) of each field that differs."""
    return [(labels.get(key, key), _show(current.get(key)), _show(submitted.get(key)))
            for key in labels if _show(current.get(key)) != _show(submitted.get(key))]


def _show(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("はい") if value else _("いいえ")
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value)
    return str(value)


def manager_required(view):
    """Signed in with both factors, a manager of a municipality. Writes are refused while the
    municipality is suspended (the middleware answers those before the view)."""
    return staff_required("manage")(view)


def seal_custodian_required(view):
    @wraps(view)
    def wrapped(http_request, *args, **kwargs):
        if not http_request.user.seal_custodian:
            raise PermissionDenied
        return view(http_request, *args, **kwargs)

    return _any_staff(wrapped)


def _any_staff(view):
    """Any staff member of a municipality signed in with both factors (the 公印管理者 permission is
    a flag on the person, whatever their role)."""
    @wraps(view)
    def wrapped(http_request, *args, **kwargs):
        user = http_request.user
        if not user.is_authenticated or not http_request.session.get(OTP_SESSION_KEY):
            return redirect("backoffice:login")
        if user.municipality_id is None:
            raise PermissionDenied
        return view(http_request, *args, **kwargs)

    return wrapped
