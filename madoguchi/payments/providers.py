"""Payment providers behind one small interface; each lives in `madoguchi/payments/contrib/<name>/`.

The same flow for every provider: we create a checkout and send the resident to the provider's
hosted page; the provider tells us the result by a signed server-to-server notification and by
the resident's return; either one, in any order and any number of times, settles the payment once.

Every call that changes something at the provider carries an idempotency key (the order id for
the checkout, the Refund row's key for a refund), so a call that timed out is simply repeated.
"""

import datetime
import os
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from madoguchi.tenancy import vault
from madoguchi.tenancy.models import Municipality

from .models import Payment


class InvalidNotification(Exception):
    """A notification or return that fails its signature or shape: answer 400, change nothing."""


class ProviderUnavailable(Exception):
    """The provider did not answer (timeout, 5xx): the outcome is unknown, repeat with the same key."""


class ProviderRefused(Exception):
    """The provider answered with an error: repeating the call will not help."""


@dataclass(frozen=True)
class ProviderStatus:
    status: str  # "pending", "authorized", "captured", "partially_refunded", "refunded", "failed"
    provider_payment_id: str
    amount: int
    refunded_amount: int = 0
    order_id: str = ""


@dataclass(frozen=True)
class Notification:
    event_id: str
    order_id: str
    provider_payment_id: str
    amount: int
    status: str


class PaymentProvider(Protocol):
    name: str
    # What our notify endpoint answers once a notification is taken (GMO-PG expects "0").
    acknowledgement: bytes

    def create_checkout(self, payment: Payment, return_url: str, notify_url: str) -> str:
        """Register the payment with the provider; return the hosted page URL for the resident."""

    def verify_return(self, params: dict[str, str]) -> str:
        """Check the resident's return parameters; return our order id."""

    def parse_notification(self, body: bytes, headers: dict[str, str]) -> Notification:
        """Verify and parse a server-to-server notification."""

    def query(self, payment: Payment) -> ProviderStatus:
        """Ask the provider for the payment's status (after a timeout, a return, reconciliation)."""

    def refund(self, payment: Payment, amount: int, idempotency_key: str) -> None:
        """Refund `amount` yen of the payment; repeating the call with the same key refunds once."""

    def transactions(self, municipality: Municipality, day: datetime.date) -> list[ProviderStatus]:
        """The provider's record of the municipality's payments created on `day` (reconciliation)."""


_registry: dict[str, PaymentProvider] = {}


def register(provider: PaymentProvider) -> PaymentProvider:
    _registry[provider.name] = provider
    return provider


def get_provider(name: str | None = None) -> PaymentProvider:
    name = name or settings.PAYMENT_PROVIDER
    if name == "sandbox" and not settings.SANDBOX_ENABLED:
        raise ImproperlyConfigured("The sandbox provider is disabled (set MADOGUCHI_SANDBOX=1 for demos).")
    if name not in _registry:
        import_string(f"madoguchi.payments.contrib.{name}.provider.PROVIDER")
    return _registry[name]


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
