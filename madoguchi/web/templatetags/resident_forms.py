"""The error summary: each message linked to the control to fix (WCAG 3.3.1, GOV.UK/デジタル庁 pattern)."""

from django import forms, template

register = template.Library()


def _anchor(bound_field) -> str:
    widget = bound_field.field.widget
    if isinstance(widget, forms.RadioSelect | forms.CheckboxSelectMultiple):
        return f"{bound_field.auto_id}_0"  # the first choice: its group holds the message
    return widget.id_for_label(bound_field.auto_id) or bound_field.auto_id


@register.filter
def error_links(form) -> list[tuple[str, str]]:
    links = [("main", message) for message in form.non_field_errors()]
    for bound_field in form:
        for message in bound_field.errors:
            links.append((_anchor(bound_field), message))
    return links


@register.filter
def error_count(form) -> int:
    return len(error_links(form))
