"""Identity providers by name: `@register("sandbox")` on the class in `contrib/<name>/provider.py`."""

from madoguchi.core.plugins import Registry

from .base import IdentityProvider

register: Registry[IdentityProvider] = Registry("identity", "madoguchi.identity.contrib")
