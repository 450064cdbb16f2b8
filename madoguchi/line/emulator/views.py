"""A stand-in for the LINE Platform, speaking its published protocol over real HTTP.

It plays both sides LINE plays: the Messaging API our server calls (reply, push with retry keys,
rich menus, the LINE Login ID token verify endpoint) and the LINE app of one demo user, which sends
signed webhook events and shows the conversation as a chat page. Its memory is the emulated
platform's, so it lives in this process only; it is never mounted in production.
"""

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict

from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from madoguchi.line import richmenu
from madoguchi.line.account import credentials
from madoguchi.line.liff import ISSUER
from madoguchi.line.models import LineAccount

DEMO_USER = "U" + hashlib.md5(b"madoguchi-demo-user").hexdigest()
USER_COOKIE = "line_emulator_user"


class Platform:
    """What LINE remembers: chats, reply tokens, accepted retry keys, rich menus."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "lock", threading.Lock()):
            self.chats: dict[tuple[str, str], list[dict]] = defaultdict(list)
            self.reply_tokens: dict[str, tuple[str, str]] = {}
            self.retry_keys: set[tuple[str, str]] = set()
            self.rich_menus: dict[str, dict] = {}
            self.default_rich_menu: dict[str, str] = {}
            self.blocked: set[tuple[str, str]] = set()

    def say(self, code: str, user: str, sender: str, message: dict) -> None:
        with self.lock:
            self.chats[(code, user)].append({"from": sender, "message": message})

    def bot_messages(self, code: str, user: str) -> list[dict]:
        with self.lock:
            return [m["message"] for m in self.chats[(code, user)] if m["from"] == "bot"]


PLATFORM = Platform()


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"message": message}, status=status)


def _channel_code(http_request) -> str | None:
    """The channel whose access token is presented (Authorization: Bearer ...)."""
    header = http_request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    token = header[len("Bearer "):]
    for code in LineAccount.objects.values_list("municipality__code", flat=True):
        if hmac.compare_digest(credentials(code).access_token, token):
            return code
    return None


def _json(http_request) -> dict | None:
    try:
        body = json.loads(http_request.body)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _valid_messages(messages) -> bool:
    return isinstance(messages, list) and 1 <= len(messages) <= 5 and all(
        isinstance(m, dict) and m.get("type") in {"text", "template"} for m in messages)


@csrf_exempt
@require_POST
def reply(http_request):
    code = _channel_code(http_request)
    if code is None:
        return _error(401, "Authentication failed. Confirm that the access token in the authorization header is valid.")
    body = _json(http_request)
    if body is None or not _valid_messages(body.get("messages")):
        return _error(400, "The request body has 1 error(s)")
    with PLATFORM.lock:
        target = PLATFORM.reply_tokens.pop(str(body.get("replyToken")), None)
    if target is None or target[0] != code:
        return _error(400, "Invalid reply token")
    for message in body["messages"]:
        PLATFORM.say(*target, "bot", message)
    return JsonResponse({"sentMessages": [{"id": secrets.token_hex(8)} for _m in body["messages"]]})


@csrf_exempt
@require_POST
def push(http_request):
    code = _channel_code(http_request)
    if code is None:
        return _error(401, "Authentication failed. Confirm that the access token in the authorization header is valid.")
    body = _json(http_request)
    if body is None or not _valid_messages(body.get("messages")) or not isinstance(body.get("to"), str):
        return _error(400, "The request body has 1 error(s)")
    retry_key = http_request.headers.get("X-Line-Retry-Key", "")
    with PLATFORM.lock:
        if retry_key and (code, retry_key) in PLATFORM.retry_keys:
            return _error(409, "The retry key is already accepted")
        if retry_key:
            PLATFORM.retry_keys.add((code, retry_key))
        # As LINE does: a push to a user who blocked the account is accepted but never arrives.
        delivered = (code, body["to"]) not in PLATFORM.blocked
    for message in body["messages"] if delivered else []:
        PLATFORM.say(code, body["to"], "bot", message)
    return JsonResponse({"sentMessages": [{"id": secrets.token_hex(8)} for _m in body["messages"]]})


@csrf_exempt
@require_POST
def create_rich_menu(http_request):
    code = _channel_code(http_request)
    body = _json(http_request)
    if code is None:
        return _error(401, "Authentication failed.")
    if body is None or not isinstance(body.get("areas"), list) or not 1 <= len(body["areas"]) <= 20:
        return _error(400, "The request body has 1 error(s)")
    rich_menu_id = "richmenu-" + secrets.token_hex(16)
    with PLATFORM.lock:
        PLATFORM.rich_menus[rich_menu_id] = {"code": code, "definition": body, "image": b""}
    return JsonResponse({"richMenuId": rich_menu_id})


@csrf_exempt
@require_POST
def rich_menu_image(http_request, rich_menu_id):
    code = _channel_code(http_request)
    menu = PLATFORM.rich_menus.get(rich_menu_id)
    if code is None or menu is None or menu["code"] != code:
        return _error(404, "Not found")
    if http_request.content_type not in {"image/png", "image/jpeg"} or not http_request.body.startswith(
            (b"\x89PNG", b"\xff\xd8")):
        return _error(400, "An image has already been uploaded to the richmenu or the image is invalid")
    menu["image"] = http_request.body
    return JsonResponse({})


@csrf_exempt
@require_POST
def default_rich_menu(http_request, rich_menu_id):
    code = _channel_code(http_request)
    menu = PLATFORM.rich_menus.get(rich_menu_id)
    if code is None or menu is None or menu["code"] != code or not menu["image"]:
        return _error(400, "must upload richmenu image before applying it to user")
    with PLATFORM.lock:
        PLATFORM.default_rich_menu[code] = rich_menu_id
    return JsonResponse({})


# --- LINE Login ID tokens (HS256 with the emulated login channel's secret) --------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _login_secret(login_channel_id: str) -> tuple[str, bytes] | None:
    account = LineAccount.objects.select_related("municipality").filter(login_channel_id=login_channel_id).first()
    if account is None:
        return None
    return account.municipality.code, credentials(account.municipality.code).channel_secret.encode()


def issue_id_token(account: LineAccount, user_id: str, nonce: str | None, lifetime: int = 3600,
                   issued_at: int | None = None) -> str:
    """A LINE Login ID token; without `nonce` it is like the ones the LIFF browser obtains itself."""
    now = issued_at or int(time.time())
    claims = {"iss": ISSUER, "sub": user_id, "aud": account.login_channel_id, "exp": now + lifetime, "iat": now,
              "amr": ["linesso"], "name": "デモ利用者"}
    if nonce is not None:
        claims["nonce"] = nonce
    signing_input = _b64(b'{"alg":"HS256","typ":"JWT"}') + "." + _b64(json.dumps(claims).encode())
    key = credentials(account.municipality.code).channel_secret.encode()
    return signing_input + "." + _b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())


def _invalid(description: str) -> JsonResponse:
    return JsonResponse({"error": "invalid_request", "error_description": description}, status=400)


@csrf_exempt
@require_POST
def verify_id_token(http_request):
    """LINE Login v2.1 verify: checks signature, audience, expiry and nonce, returns the claims."""
    token, client_id = http_request.POST.get("id_token", ""), http_request.POST.get("client_id", "")
    found = _login_secret(client_id)
    if found is None:
        return _invalid("Invalid IdToken Audience.")
    parts = token.split(".")
    if len(parts) != 3:
        return _invalid("Invalid IdToken.")
    expected = _b64(hmac.new(found[1], f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, parts[2]):
        return _invalid("Invalid IdToken.")
    claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    if claims.get("aud") != client_id:
        return _invalid("Invalid IdToken Audience.")
    if claims.get("exp", 0) < time.time():
        return _invalid("IdToken expired.")
    if "nonce" in http_request.POST and claims.get("nonce") != http_request.POST["nonce"]:
        return _invalid("Invalid IdToken Nonce.")
    return JsonResponse(claims)


SDK = """// LIFF SDK stand-in: init() fetches an ID token for the emulator's current user.
window.liff = {
  _token: null,
  init: function (config) {
    var form = document.getElementById("liff-form");
    var nonce = form ? form.dataset.nonce : "";
    var self = this;
    return fetch("%s?liff_id=" + encodeURIComponent(config.liffId) + "&nonce=" + encodeURIComponent(nonce),
                 { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; }).then(function (t) { self._token = t; });
  },
  getIDToken: function () { return this._token; }
};
"""


@require_GET
def liff_sdk(http_request):
    return HttpResponse(SDK % reverse("line_emulator:liff_token"), content_type="text/javascript")


@require_GET
def liff_token(http_request):
    account = LineAccount.objects.select_related("municipality").filter(
        liff_id=http_request.GET.get("liff_id", "")).first()
    user = http_request.COOKIES.get(USER_COOKIE, "")
    if account is None or not user:
        return HttpResponse(status=403)
    return HttpResponse(issue_id_token(account, user, http_request.GET.get("nonce", "")), content_type="text/plain")


@require_GET
def liff_open(http_request, liff_id, rest):
    """https://liff.line.me/<liffId>/<path> opens <endpoint URL>/<path> inside LINE."""
    account = get_object_or_404(LineAccount.objects.select_related("municipality"), liff_id=liff_id)
    return HttpResponseRedirect(f"/line/{account.municipality.code}/liff/{rest}")


# --- the demo user's LINE app -------------------------------------------------------------------------

def send_event(webhook_url: str, code: str, event: dict) -> int:
    """Sign and deliver one webhook event as LINE does; returns the HTTP status our server answered."""
    event = {"webhookEventId": "01" + secrets.token_hex(12).upper(), "deliveryContext": {"isRedelivery": False},
             "timestamp": int(time.time() * 1000), "mode": "active", **event}
    body = json.dumps({"destination": "U" + "0" * 32, "events": [event]}, ensure_ascii=False).encode()
    signature = base64.b64encode(hmac.new(credentials(code).channel_secret.encode(), body, hashlib.sha256).digest())
    request = urllib.request.Request(webhook_url, data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Line-Signature": signature.decode(), "User-Agent": "LineBotWebhook/2.0"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _user(http_request) -> str:
    user = http_request.GET.get("user") or http_request.POST.get("user") or DEMO_USER
    return user if user.startswith("U") and len(user) <= 33 and user[1:].isalnum() else DEMO_USER


def chat(http_request, code):
    account = get_object_or_404(LineAccount.objects.select_related("municipality"), municipality__code=code)
    user = _user(http_request)
    with PLATFORM.lock:
        history = list(PLATFORM.chats[(code, user)])
        menu_id = PLATFORM.default_rich_menu.get(code)
        menu = PLATFORM.rich_menus[menu_id]["definition"] if menu_id else richmenu.definition()
        blocked = (code, user) in PLATFORM.blocked
    last_bot = next((m["message"] for m in reversed(history) if m["from"] == "bot"), None)
    quick = [i["action"] for i in (last_bot or {}).get("quickReply", {}).get("items", [])] if (
        history and history[-1]["from"] == "bot") else []
    response = render(http_request, "line_emulator/chat.html", {
        "m": account.municipality, "user": user, "history": history, "quick": quick,
        "menu": [a["action"] for a in menu["areas"]], "blocked": blocked, "count": len(history)})
    response.set_cookie(USER_COOKIE, user, samesite="Lax")
    return response


@require_GET
def count(http_request, code):
    """How many messages the chat holds: the page reloads when a push has arrived."""
    with PLATFORM.lock:
        return JsonResponse({"count": len(PLATFORM.chats[(code, _user(http_request))])})


@require_POST
def send(http_request, code):
    """The demo user taps or types; the emulator turns it into a signed webhook event."""
    get_object_or_404(LineAccount, municipality__code=code)
    user = _user(http_request)
    kind = http_request.POST.get("kind", "")
    reply_token = secrets.token_hex(16)
    source = {"type": "user", "userId": user}
    if kind == "text":
        words = http_request.POST.get("text", "").strip()[:5000]
        if not words:
            return redirect(f"{reverse('line_emulator:chat', args=[code])}?user={user}")
        event = {"type": "message", "replyToken": reply_token, "source": source,
                 "message": {"type": "text", "id": secrets.token_hex(8), "text": words, "quoteToken": "q"}}
        PLATFORM.say(code, user, "user", {"type": "text", "text": words})
    elif kind == "postback":
        event = {"type": "postback", "replyToken": reply_token, "source": source,
                 "postback": {"data": http_request.POST.get("data", "")[:300]}}
        PLATFORM.say(code, user, "user", {"type": "text", "text": http_request.POST.get("label", "")})
    elif kind in {"follow", "unfollow"}:
        event = {"type": kind, "source": source}
        if kind == "follow":
            event["replyToken"] = reply_token
            event["follow"] = {"isUnblocked": (code, user) in PLATFORM.blocked}
        with PLATFORM.lock:
            (PLATFORM.blocked.discard if kind == "follow" else PLATFORM.blocked.add)((code, user))
    else:
        return HttpResponse(status=400)
    with PLATFORM.lock:
        PLATFORM.reply_tokens[reply_token] = (code, user)
    send_event(http_request.build_absolute_uri(reverse("line:webhook", args=[code])), code, event)
    return redirect(f"{reverse('line_emulator:chat', args=[code])}?user={user}")


@require_GET
def bot_info(http_request):
    """GET /v2/bot/info: the harmless call a manager's "test connection" makes."""
    code = _channel_code(http_request)
    if code is None:
        return _error(401, "Authentication failed. Confirm that the access token in the authorization header is valid.")
    account = LineAccount.objects.get(municipality__code=code)
    return JsonResponse({"userId": f"U{hashlib.sha256(code.encode()).hexdigest()[:32]}",
                         "basicId": f"@{account.channel_id}", "displayName": account.municipality.name,
                         "chatMode": "chat", "markAsReadMode": "auto"})
