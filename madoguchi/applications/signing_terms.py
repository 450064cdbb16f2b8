"""What the resident's card signs: the terms of the request plus a one-time nonce.

Part of the record, not of the workflow: identity providers compute it to have the card sign it,
and the signing action recomputes it from the database at verification, so any change of the
terms after signing breaks the signature.
"""

import json

from .models import CertificateRequest


def canonical_bytes(request: CertificateRequest, nonce: str, purpose: str = "request") -> bytes:
    """`purpose` (identity.models.SigningPurpose) says what the signature is for: the request itself,
    its corrected terms, or its cancellation. It is signed along (except for the request itself, whose
    bytes stay as they always were), so a cancellation's signature cannot pass for an application
    nor an application's for a cancellation."""
    # Under its own key: "purpose" is the request's 使いみち.
    extra = {} if purpose == "request" else {"signed_for": str(purpose)}
    return json.dumps({
        **extra, "v": 1, "municipality": request.municipality.code, "request": str(request.public_id),
        "certificate_type": request.certificate_type, "options": request.options, "copies": request.copies,
        "purpose": request.purpose, "purpose_detail": request.purpose_detail,
        "postage_class": request.postage_class, "total_amount": request.total_amount, "nonce": nonce,
    }, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
