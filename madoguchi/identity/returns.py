"""How an identity provider sends the resident back: to the URLs the channel stored on the
challenge (`return_url` once the signature is recorded, `retry_url` after a refusal), never to a
channel's page by name."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from .events import SignatureNotAccepted, publish_signature_returned
from .models import SigningChallenge


def back_to_retry(http_request, challenge: SigningChallenge, message: str) -> HttpResponse:
    """The signature was not obtained or not accepted: back to where the resident tries again."""
    if not challenge.retry_url:
        # A challenge from before return URLs were stored: no channel page to go back to.
        return render(http_request, "web/error.html", {"message": message}, status=400)
    messages.error(http_request, message)
    return redirect(challenge.retry_url)


def hand_over(http_request, challenge: SigningChallenge, *, certificate: bytes, signature: bytes,
              provider: str) -> HttpResponse:
    """Give the returned signature to the workflow, then send the resident on."""
    try:
        publish_signature_returned(challenge, certificate=certificate, signature=signature, provider=provider)
    except SignatureNotAccepted as exc:
        return back_to_retry(http_request, challenge, str(exc))
    if not challenge.return_url:
        return render(http_request, "web/error.html", {"message": _(
            "署名を受け付けました。申請の画面からお支払いへお進みください。")})
    return redirect(challenge.return_url)
