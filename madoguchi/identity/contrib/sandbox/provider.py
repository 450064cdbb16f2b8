from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from madoguchi.identity.providers import IdentityProvider, register


@register("sandbox")
class SandboxIdentityProvider(IdentityProvider):
    """The virtual My Number Card: a page that plays the card reader and the JPKI applet."""

    label = _("マイナンバーカード(テスト用)")
    supports_authentication = True

    def signing_url(self, nonce: str) -> str:
        return reverse("identity_sandbox:card", args=[nonce])

    def authentication_url(self, nonce: str) -> str:
        return reverse("identity_sandbox:authenticate", args=[nonce])
