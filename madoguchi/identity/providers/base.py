"""The base of every identity provider: a label for people and the one call a channel needs."""

from django.utils.functional import Promise


class IdentityProvider:
    """How a resident's My Number Card signs a request.

    Whatever the provider, what it brings back is a signing certificate and a signature over
    `applications.signing_terms.canonical_bytes`, handed to the workflow by publishing
    `identity.events.signature_returned`; it then sends the resident to the challenge's
    `return_url` (recorded) or `retry_url` (refused), never to a channel's page by name.
    """

    name: str = ""  # set by the registry's decorator
    label: str | Promise = ""  # Japanese, for residents and clerks

    # Whether it can also sign a resident in with the 利用者証明用電子証明書 (`identity.authentication`).
    supports_authentication: bool = False

    def signing_url(self, nonce: str) -> str:
        """Where the resident's browser goes to sign the challenge with this nonce."""
        raise NotImplementedError

    def authentication_url(self, nonce: str) -> str:
        """Where the resident's browser goes to answer a sign-in challenge with the card."""
        raise NotImplementedError
