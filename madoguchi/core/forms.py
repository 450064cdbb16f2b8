"""The base form of every page: residents', clerks' and providers' sandbox pages alike."""

from django import forms
from django.utils.translation import gettext as _


def _is_choice(field: forms.Field) -> bool:
    return isinstance(field, forms.ChoiceField | forms.BooleanField) or getattr(field.widget, "input_type", "") in {
        "radio", "checkbox"}


def resident_messages(field: forms.Field) -> dict[str, str]:
    """Messages that name the field and say what to do, in place of Django's generic ones
    (「このフィールドは必須です。」 tells an elderly resident neither which answer is missing nor how
    to give it). A field's own `error_messages` still win."""
    label = str(field.label or _("この項目"))
    messages = {
        "required": (_("「{label}」を選んでください。") if _is_choice(field)
                     else _("「{label}」を入力してください。")).format(label=label),
        "invalid_choice": _("「{label}」は、表示されている選択肢から選んでください。").format(label=label),
        "invalid": _("「{label}」の形式が正しくありません。入力例を参考に、もう一度入力してください。").format(
            label=label),
    }
    if isinstance(field, forms.CharField):
        messages["null_characters_not_allowed"] = _("「{label}」に使えない文字が含まれています。").format(label=label)
    if getattr(field, "max_length", None):
        messages["max_length"] = _("「{label}」は{n}文字以内で入力してください。").format(
            label=label, n=field.max_length)
    return messages


class Form(forms.Form):
    """No trailing colon after labels: Japanese labels read as headings; every error message names
    its field in plain Japanese (`resident_messages`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            defaults = resident_messages(field)
            own = {key: value for key, value in field.error_messages.items() if _is_own(field, key, value)}
            field.error_messages = {**field.error_messages, **defaults, **own}


def _is_own(field: forms.Field, key: str, value) -> bool:
    """Whether a message was set by the field's author rather than inherited from Django's classes."""
    for klass in type(field).__mro__:
        if getattr(klass, "default_error_messages", {}).get(key) is value:
            return False
    return True
