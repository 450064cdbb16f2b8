"""The webhook of each municipality's official account and the LIFF entry page.

The webhook only verifies, records and acknowledges: LINE expects a quick 200 and redelivers
otherwise, so replies are sent by a task.
"""

import secrets

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from linebot.v3.webhook import SignatureValidator

from madoguchi.applications.models import State
from madoguchi.core.http import remember_request
from madoguchi.core.inputs import loads

from . import liff
from .account import active_account_municipality, credentials
from .models import LineAccount, RequestBinding, WebhookEvent
from .tasks import wake_drain

MAX_EVENTS = 100


def _refuse(status: int, message: str) -> JsonResponse:
    return JsonResponse({"message": message}, status=status)


def _parse_events(body: str) -> list[dict] | None:
    try:
        payload = loads(body)
    except ValueError:  # malformed, too deep, or holding NUL or a lone surrogate
        return None
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list) or len(events) > MAX_EVENTS:
        return None
    for event in events:
        if not (isinstance(event, dict) and isinstance(event.get("type"), str)
                and isinstance(event.get("webhookEventId"), str) and 0 < len(event["webhookEventId"]) <= 64):
            return None
    return events


@csrf_exempt  # authenticated by X-Line-Signature instead
@require_POST
def webhook(http_request, code):
    try:
        length = int(http_request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _refuse(400, "invalid content length")
    if length > settings.LINE_WEBHOOK_MAX_BODY:
        return _refuse(413, "body too large")
    municipality_id = active_account_municipality(code)
    if municipality_id is None:
        return _refuse(404, "unknown channel")
    try:
        body = http_request.body.decode("utf-8")  # LINE signs the UTF-8 JSON body
    except UnicodeDecodeError:
        return _refuse(400, "malformed body")
    signature = http_request.headers.get("X-Line-Signature", "")
    if not signature or not SignatureValidator(credentials(code).channel_secret).validate(body, signature):
        return _refuse(401, "invalid signature")
    events = _parse_events(body)
    if events is None:
        return _refuse(400, "malformed body")
    if events:
        # The inbox rows and the task row (database task backend) commit in one transaction: neither
        # exists without the other, and one write transaction per delivery keeps the ack fast. With
        # Redis a drain is woken once the rows are committed (tasks.drain_inbox).
        with transaction.atomic():
            WebhookEvent.objects.bulk_create([
                WebhookEvent(municipality_id=municipality_id, event_id=e["webhookEventId"],
                             event_type=e["type"][:40], payload=e,
                             redelivery=bool((e.get("deliveryContext") or {}).get("isRedelivery")))
                for e in events], ignore_conflicts=True)
            wake_drain(municipality_id)
    return HttpResponse(status=200)


def _liff_binding(code: str, public_id) -> RequestBinding:
    return get_object_or_404(RequestBinding.objects.select_related("request__municipality", "line_user"),
                             municipality__code=code, request__public_id=public_id)


def _liff_csp(response: HttpResponse) -> HttpResponse:
    """The LIFF SDK is LINE's script; everything else stays our own."""
    sdk = settings.LINE_LIFF_SDK_URL
    origin = "/".join(sdk.split("/")[:3]) if sdk.startswith("https://") else ""
    response["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {origin}; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' https://api.line.me https://liffsdk.line-scdn.net; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
    return response


@require_http_methods(["GET", "POST"])
def liff_request(http_request, code, public_id):
    """Opened inside LINE (LIFF): proves with the LIFF ID token that this LINE user started this request,
    then hands the browser the request so the web pages can sign and pay."""
    binding = _liff_binding(code, public_id)
    account = get_object_or_404(LineAccount, municipality=binding.municipality, active=True)
    session_key = f"liff_nonce:{public_id}"
    if http_request.method == "POST":
        nonce = http_request.session.pop(session_key, "")
        try:
            claims = liff.verify_id_token(account, http_request.POST.get("id_token", ""), nonce)
            if claims["sub"] != binding.line_user.user_id:
                raise liff.IdTokenRejected(_("この申請は別のLINEアカウントで始められたものです。"))
        except liff.IdTokenRejected as exc:
            messages.error(http_request, str(exc))
            return redirect("line:liff_request", code=code, public_id=public_id)
        RequestBinding.objects.filter(pk=binding.pk).update(liff_verified_at=timezone.now())
        remember_request(http_request, public_id)
        state = binding.request.state
        if state in {State.DRAFT, State.SIGNED, State.AWAITING_PAYMENT}:
            return redirect("web:sign", code=code, public_id=public_id)
        # After 受付 (a request sent back, mailed, ...) the request's own page: correct, confirm, cancel.
        return redirect("web:correct" if state == State.RETURNED else "web:request", code=code, public_id=public_id)
    nonce = secrets.token_urlsafe(24)
    http_request.session[session_key] = nonce
    return _liff_csp(render(http_request, "line/liff.html", {
        "m": binding.municipality, "r": binding.request, "nonce": nonce, "liff_id": account.liff_id,
        "sdk_url": settings.LINE_LIFF_SDK_URL}))
