"""The base of every payment provider: the protocol, its defaults, a label, and what it answers."""

import datetime
from dataclasses import dataclass

from django.utils.functional import Promise

from madoguchi.tenancy.models import Municipality

from ..models import Payment


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


class PaymentProvider:
    """One payment provider. The same flow for every one: we create a checkout and send the resident
    to the provider's hosted page; the provider tells us the result by a signed server-to-server
    notification and by the resident's return to *our* return endpoint (`payments.checkout`);
    either one, in any order and any number of times, settles the payment once. The provider never
    names a channel's page: our endpoint sends the resident on to `Payment.return_url`."""

    name: str = ""  # set by the registry's decorator
    label: str | Promise = ""  # the payment method as the receipt names it (Japanese)
    # What our notify endpoint answers once a notification is taken, and to a replay of one
    # (GMO-PG expects "0" to both, or it sends the notification again).
    acknowledgement: bytes = b"ok"
    duplicate_acknowledgement: bytes = b"duplicate"
    # The municipality's secrets (tenancy.vault) this provider needs; managers see whether each is set.
    secret_names: tuple[str, ...] = ()

    def create_checkout(self, payment: Payment, return_url: str, notify_url: str) -> str:
        """Register the payment with the provider; return the hosted page URL for the resident.
        `return_url` and `notify_url` are our endpoints for this provider."""
        raise NotImplementedError

    def verify_return(self, params: dict[str, str]) -> str:
        """Check the resident's return parameters; return our order id."""
        raise NotImplementedError

    def parse_notification(self, body: bytes, headers: dict[str, str]) -> Notification:
        """Verify and parse a server-to-server notification."""
        raise NotImplementedError

    def query(self, payment: Payment) -> ProviderStatus:
        """Ask the provider for the payment's status (after a timeout, a return, reconciliation)."""
        raise NotImplementedError

    def refund(self, payment: Payment, amount: int, idempotency_key: str) -> None:
        """Refund `amount` yen of the payment; repeating the call with the same key refunds once."""
        raise NotImplementedError

    def transactions(self, municipality: Municipality, day: datetime.date) -> list[ProviderStatus]:
        """The provider's record of the municipality's payments created on `day` (reconciliation)."""
        raise NotImplementedError
