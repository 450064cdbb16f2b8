"""Drive a request through the real actions, the sandbox card and the sandbox gateway."""

import json

from django.test import Client
from django.urls import reverse

from madoguchi.applications import actions
from madoguchi.applications.models import CertificateRequest
from madoguchi.applications.signing_terms import canonical_bytes
from madoguchi.identity.contrib.sandbox import card as cards
from madoguchi.payments.contrib.sandbox import gateway
from madoguchi.payments.models import Payment

RESIDENCE_OPTIONS = {"scope": "self", "members": "", "show_relationship": True, "show_honseki": False}


def draft(municipality, **overrides) -> CertificateRequest:
    fields = dict(certificate_type="residence_certificate", options=RESIDENCE_OPTIONS, copies=1,
                  purpose="bank", purpose_detail="", postage_class="regular", notice_email="resident@example.jp")
    fields.update(overrides)
    return actions.create_draft(municipality, **fields)


def start_signing(request: CertificateRequest):
    """Start signing as the web channel does: back to its pay page once signed, to its sign page to retry."""
    args = [request.municipality.code, request.public_id]
    return actions.start_signing(request, return_url=reverse("web:pay", args=args),
                                 retry_url=reverse("web:sign", args=args))


def start_payment(request: CertificateRequest) -> str:
    """Start paying as the web channel does: the resident lands on its done page afterwards."""
    return actions.start_payment(request, reverse("web:done", args=[request.municipality.code, request.public_id]))


def sign(request: CertificateRequest, resident, pin: str = cards.DEMO_PIN) -> CertificateRequest:
    challenge = start_signing(request)
    card = cards.issue_card(resident)
    certificate, signature = cards.sign(card, pin, canonical_bytes(request, challenge.nonce))
    return actions.record_signature(request, nonce=challenge.nonce, certificate=certificate,
                                    signature=signature, provider="sandbox")


def pay(request: CertificateRequest) -> Payment:
    """Start the payment, pay on the gateway, deliver its signed notification to our endpoint."""
    start_payment(request)
    payment = request.payments.get(status="pending")
    charge = gateway.capture(payment.provider_payment_id)
    body = gateway.notification_body(charge)
    response = post_notification(body)
    assert response.status_code == 200, response.content
    payment.refresh_from_db()
    return payment


def post_notification(body: bytes, signature: str | None = None, client: Client | None = None):
    return (client or Client()).post(
        reverse("payments:notify", args=["sandbox"]), data=body, content_type="application/json",
        headers={"X-Sandbox-Signature": signature if signature is not None else gateway.sign_notification(body)})


def received(municipality, resident, **overrides) -> CertificateRequest:
    request = sign(draft(municipality, **overrides), resident)
    pay(request)
    request.refresh_from_db()
    return request


def notification_event_ids(body: bytes) -> str:
    return json.loads(body)["event_id"]
