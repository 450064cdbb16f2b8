from django import template

from ..pages import site

register = template.Library()


@register.simple_tag
def office_menu(user) -> list[tuple[str, str]]:
    """The contributed pages in the menu that `user` may open."""
    return site.menu(user)


@register.filter
def getfield(form, name: str):
    """The bound field `name` of `form` (fields built at run time, such as the fee table's cells)."""
    return form[name]
