"""Every state change of a certificate request happens here, and only here.

One module per concern; each action validates, locks the request row, changes state through
`_base._transition` (the single writer of state, which stores the history entry built by
`applications.events` and writes the outbox notice) in one transaction. Channels and tests call
`actions.<name>`; serving apps never import this package: payments and identity publish typed
events that the subscribers here handle (connected in `ApplicationsConfig.ready()`).
"""

from ._base import ActionError, SignatureRejected
from .access import address_key, requests_with_address, send_requests_link
from .cancellation import (
    cancel,
    cancel_by_staff,
    cancel_from_line,
    cancel_with_code,
    code_transports,
    send_cancel_code,
    start_cancel_signing,
    withdraw_before_payment,
)
from .completion import add_survey_comment, answer_survey, complete, complete_delivered, confirm_receipt
from .correction import (
    lapse_overdue,
    open_correction,
    send_back,
    start_correction_signing,
    start_difference_payment,
    submit_correction,
)
from .drafting import create_draft
from .expiry import ABANDON_AFTER, expire_abandoned
from .issuing import mark_mailed, record_printed, reprint
from .payment import start_payment
from .refunds import refund_unissuable_copies
from .restrictions import register_personal_notice, release_hold, start_personal_notice_registration
from .review import approve, reject, start_review
from .signing import SIGNING_WINDOW, record_signature, start_signing
from .undelivered import record_undelivered, reprint_undelivered

__all__ = [
    "ABANDON_AFTER", "SIGNING_WINDOW", "ActionError", "SignatureRejected", "add_survey_comment", "address_key",
    "answer_survey", "approve", "cancel", "cancel_by_staff", "cancel_from_line", "cancel_with_code",
    "code_transports", "complete", "complete_delivered", "confirm_receipt", "create_draft", "expire_abandoned",
    "lapse_overdue", "mark_mailed", "open_correction", "record_printed", "record_signature",
    "refund_unissuable_copies", "reject", "reprint", "requests_with_address", "send_back", "send_cancel_code",
    "send_requests_link", "start_cancel_signing", "start_correction_signing", "start_difference_payment",
    "start_payment", "start_review", "start_signing", "submit_correction", "withdraw_before_payment",
    "register_personal_notice", "release_hold", "start_personal_notice_registration", "record_undelivered",
    "reprint_undelivered",
]
