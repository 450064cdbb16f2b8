"""Identity providers: how a resident's My Number Card signs a request.

A provider is a package under `madoguchi/identity/contrib/<name>/` that registers itself here.
Whatever the provider, the result reaching us is a signing certificate and a signature over the
canonical bytes of the request, verified by `madoguchi.identity.jpki`.
"""

from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


class IdentityProvider(Protocol):
    name: str

    def signing_url(self, nonce: str) -> str:
        """Where the resident's browser goes to sign the challenge with this nonce."""


_registry: dict[str, IdentityProvider] = {}


def register(provider: IdentityProvider) -> IdentityProvider:
    _registry[provider.name] = provider
    return provider


def get_provider(name: str | None = None) -> IdentityProvider:
    name = name or settings.IDENTITY_PROVIDER
    if name == "sandbox" and not settings.SANDBOX_ENABLED:
        raise ImproperlyConfigured("The sandbox provider is disabled (set MADOGUCHI_SANDBOX=1 for demos).")
    if name not in _registry:
        import_string(f"madoguchi.identity.contrib.{name}.provider.PROVIDER")
    return _registry[name]
