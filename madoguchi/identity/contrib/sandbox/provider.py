from django.urls import reverse

from madoguchi.identity.providers import register


class SandboxIdentityProvider:
    """The virtual My Number Card: a page that plays the card reader and the JPKI applet."""

    name = "sandbox"

    def signing_url(self, nonce: str) -> str:
        return reverse("identity_sandbox:card", args=[nonce])


PROVIDER = register(SandboxIdentityProvider())
