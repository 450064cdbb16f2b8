from django import template

register = template.Library()


@register.filter
def comma(value: int) -> str:
    """12345 → 12,345 (amounts and counts as finance sections write them)."""
    return f"{value:,}"
