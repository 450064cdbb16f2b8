"""Identity providers: how a resident's My Number Card signs a request.

A provider is a package `madoguchi/identity/contrib/<name>/` whose `provider.py` registers a
subclass of `IdentityProvider` with `@register("<name>")`. Settings choose it
(`MADOGUCHI_IDENTITY_PROVIDER`).
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .base import IdentityProvider
from .registry import register

__all__ = ["IdentityProvider", "get_provider", "register"]


def get_provider(name: str | None = None) -> IdentityProvider:
    name = name or settings.IDENTITY_PROVIDER
    if name == "sandbox" and not settings.SANDBOX_ENABLED:
        raise ImproperlyConfigured("The sandbox provider is disabled (set MADOGUCHI_SANDBOX=1 for demos).")
    return register[name]
