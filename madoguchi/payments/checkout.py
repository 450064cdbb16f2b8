"""Sending a payment to its provider: our own endpoints for the provider, and the checkout call.

The provider returns the resident to *our* return endpoint and notifies *our* notify endpoint
(both on `settings.SITE_URL`, one pair per provider); our return endpoint then sends the resident
to the channel's page stored in `Payment.return_url`. So the same provider serves every channel.
"""

from django.conf import settings
from django.urls import reverse

from . import ledger
from .models import Payment
from .providers import get_provider


def notify_url(provider_name: str) -> str:
    return settings.SITE_URL + reverse("payments:notify", args=[provider_name])


def provider_return_url(provider_name: str) -> str:
    return settings.SITE_URL + reverse("payments:return", args=[provider_name])


def open_checkout(payment: Payment) -> str:
    """Register the pending `payment` with its provider and keep the hosted page's URL; raises the
    provider's ProviderUnavailable (repeat later) or ProviderRefused (this attempt is spent)."""
    url = get_provider(payment.provider).create_checkout(
        payment, provider_return_url(payment.provider), notify_url(payment.provider))
    ledger.record_checkout(payment, url)
    return url
