from django.urls import reverse

from madoguchi.identity.providers import register


class DigitalAuthAppProvider:
    """デジタル認証アプリ: the resident signs in the Digital Agency's app on their phone."""

    name = "digital_auth_app"

    def signing_url(self, nonce: str) -> str:
        return reverse("identity_digital_auth_app:start", args=[nonce])


PROVIDER = register(DigitalAuthAppProvider())
