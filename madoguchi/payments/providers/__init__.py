"""Payment providers behind one small interface; each lives in `madoguchi/payments/contrib/<name>/`
and registers a subclass of `PaymentProvider` with `@register("<name>")` (see `base`).

Every call that changes something at the provider carries an idempotency key (the order id for
the checkout, the Refund row's key for a refund), so a call that timed out is simply repeated.
"""

import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from madoguchi.tenancy import vault
from madoguchi.tenancy.models import Municipality

from .base import (
    InvalidNotification,
    Notification,
    PaymentProvider,
    ProviderRefused,
    ProviderStatus,
    ProviderUnavailable,
)
from .registry import register

__all__ = ["InvalidNotification", "Notification", "PaymentProvider", "ProviderRefused", "ProviderStatus",
           "ProviderUnavailable", "get_provider", "municipality_setting", "provider_for", "register"]


def get_provider(name: str | None = None) -> PaymentProvider:
    name = name or settings.PAYMENT_PROVIDER
    if name == "sandbox" and not settings.SANDBOX_ENABLED:
        raise ImproperlyConfigured("The sandbox provider is disabled (set MADOGUCHI_SANDBOX=1 for demos).")
    return register[name]


def provider_for(municipality: Municipality) -> PaymentProvider:
    """The provider a municipality contracted with: MADOGUCHI_PAYMENT_PROVIDER_<code>, else the default."""
    return get_provider(os.environ.get(f"MADOGUCHI_PAYMENT_PROVIDER_{municipality.code}") or None)


def municipality_setting(prefix: str, municipality: Municipality, name: str, default: str | None = None) -> str:
    """A provider credential of one municipality, e.g. PAYPAY_API_KEY for the prefix
    MADOGUCHI_PAYPAY: from the municipality's encrypted secrets (`tenancy.vault`, set with
    `manage.py secrets set 082082 PAYPAY_API_KEY`)."""
    secret_name = f"{prefix.removeprefix('MADOGUCHI_')}_{name}"
    try:
        value = vault.get_secret(municipality, secret_name) or default
    except vault.SecretError as exc:
        raise ProviderRefused(str(exc)) from None
    if not value:
        raise ProviderRefused(f"secret {secret_name} of {municipality.code} is not set")
    return value
