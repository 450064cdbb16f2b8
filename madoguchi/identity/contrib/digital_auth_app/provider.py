from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from madoguchi.identity.providers import IdentityProvider, register


@register("digital_auth_app")
class DigitalAuthAppProvider(IdentityProvider):
    """デジタル認証アプリ: the resident signs in the Digital Agency's app on their phone."""

    label = _("デジタル認証アプリ")

    def signing_url(self, nonce: str) -> str:
        return reverse("identity_digital_auth_app:start", args=[nonce])
