from django import template

from ..pages import site

register = template.Library()


@register.simple_tag
def office_menu(user) -> list[tuple[str, str]]:
    """The contributed pages in the menu that `user` may open."""
    return site.menu(user)
