"""What identity tells the workflow, as a typed event (a Django signal behind a typed function).

Identity never imports the workflow: a provider that brought back the card's certificate and
signature publishes `signature_returned`, and the workflow (`applications`) records it, subscribed
in `AppConfig.ready()`. Its refusal comes back as `SignatureNotAccepted`, with the message for the
resident, so that the provider can send the resident to the challenge's `retry_url`.
"""

from django.core.exceptions import ImproperlyConfigured
from django.dispatch import Signal

from .models import SigningChallenge

# Sent with challenge=SigningChallenge, certificate=bytes, signature=bytes, provider=str.
signature_returned = Signal()


class SignatureNotAccepted(Exception):
    """The signature was not recorded; `str(error)` is a Japanese message for the resident."""


def publish_signature_returned(challenge: SigningChallenge, *, certificate: bytes, signature: bytes,
                               provider: str) -> None:
    """Hand a returned signature to the workflow; raises SignatureNotAccepted if it is refused."""
    if not signature_returned.has_listeners():
        raise ImproperlyConfigured("nothing subscribes to identity.events.signature_returned")
    signature_returned.send(sender=SigningChallenge, challenge=challenge, certificate=certificate,
                            signature=signature, provider=provider)
