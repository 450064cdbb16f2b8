"""Talking to our webhook as LINE does, with the emulator standing in for the Messaging API."""

import base64
import hashlib
import hmac
import json
import secrets
import time

from django.test import Client
from django.urls import reverse

from madoguchi.line.account import credentials
from madoguchi.line.emulator.views import PLATFORM
from madoguchi.line.models import LineAccount


def make_channel(municipality) -> LineAccount:
    return LineAccount.objects.create(municipality=municipality, channel_id="2000000001",
                                      login_channel_id=f"20000{municipality.code}", liff_id=f"liff-{municipality.code}")


def sign(body: bytes, code: str) -> str:
    secret = credentials(code).channel_secret.encode()
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()


def event(kind: str, user: str, **fields) -> dict:
    token = secrets.token_hex(16)
    return {"type": kind, "webhookEventId": "01" + secrets.token_hex(12).upper(),
            "deliveryContext": {"isRedelivery": False}, "timestamp": int(time.time() * 1000), "mode": "active",
            "source": {"type": "user", "userId": user}, "replyToken": token, **fields}


def post(code: str, body: bytes, signature: str | None = None, client: Client | None = None):
    headers = {} if signature == "" else {"X-Line-Signature": signature if signature is not None else sign(body, code)}
    return (client or Client()).post(reverse("line:webhook", args=[code]), data=body,
                                     content_type="application/json", headers=headers)


def deliver(code: str, *events: dict):
    """Send signed events; register their reply tokens with the emulator as LINE would."""
    for e in events:
        if "replyToken" in e and "userId" in e["source"]:
            PLATFORM.reply_tokens[e["replyToken"]] = (code, e["source"]["userId"])
    body = json.dumps({"destination": "U" + "0" * 32, "events": list(events)}, ensure_ascii=False).encode()
    return post(code, body)


def say(code: str, user: str, words: str):
    return deliver(code, event("message", user, message={"type": "text", "id": "1", "text": words}))


def tap(code: str, user: str, data: str):
    return deliver(code, event("postback", user, postback={"data": data}))


def last(code: str, user: str) -> dict:
    return PLATFORM.bot_messages(code, user)[-1]


def buttons(message: dict) -> dict[str, str]:
    """Quick-reply label → postback data of a bot message."""
    return {i["action"]["label"]: i["action"].get("data", "") for i in message.get("quickReply", {}).get("items", [])}


def press(code: str, user: str, label: str):
    """Tap the quick-reply button `label` of the last bot message."""
    choices = buttons(last(code, user))
    assert label in choices, (label, list(choices))
    return tap(code, user, choices[label])
