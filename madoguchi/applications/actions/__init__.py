"""Every state change of a certificate request happens here, and only here.

One module per concern; each action validates, locks the request row, changes state through
`_base._transition` (the single writer of state, which stores the history entry built by
`applications.events` and writes the outbox notice) in one transaction. Channels and tests call
`actions.<name>`; serving apps never import this package: payments and identity publish typed
events that the subscribers here handle (connected in `ApplicationsConfig.ready()`).
"""

from ._base import ActionError, SignatureRejected
from .drafting import create_draft
from .expiry import ABANDON_AFTER, cancel, expire_abandoned
from .issuing import complete, mark_mailed, record_printed, reprint
from .payment import start_payment
from .refunds import refund_unissuable_copies
from .restrictions import register_personal_notice, release_hold, start_personal_notice_registration
from .review import approve, reject, start_review
from .signing import SIGNING_WINDOW, record_signature, start_signing

__all__ = [
    "ABANDON_AFTER", "SIGNING_WINDOW", "ActionError", "SignatureRejected", "approve", "cancel", "complete",
    "create_draft", "expire_abandoned", "mark_mailed", "record_printed", "record_signature",
    "refund_unissuable_copies", "register_personal_notice", "reject", "release_hold", "reprint", "start_payment",
    "start_personal_notice_registration", "start_review", "start_signing",
]
