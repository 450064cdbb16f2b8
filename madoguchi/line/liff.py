"""Verifying a LIFF ID token the way LINE Login's verify endpoint defines it.

POST {api}/oauth2/v2.1/verify with id_token, client_id (the LINE Login channel id) and nonce; LINE
checks the signature and answers with the claims or a 400. We check the claims again ourselves:
issuer, audience, expiry and the one-time nonce we issued for this page.
"""

import json
import time
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.utils.translation import gettext as _

from .models import LineChannel

ISSUER = "https://access.line.me"
TIMEOUT = 5


class IdTokenRejected(Exception):
    """`str(error)` is a Japanese message for the resident."""


def verify_id_token(channel: LineChannel, id_token: str, nonce: str) -> dict:
    if not id_token or len(id_token) > 4096 or not nonce:
        raise IdTokenRejected(_("LINEでの本人確認ができませんでした。LINEのトーク画面からもう一度開いてください。"))
    data = urllib.parse.urlencode({"id_token": id_token, "client_id": channel.login_channel_id,
                                   "nonce": nonce}).encode()
    try:
        with urllib.request.urlopen(f"{settings.LINE_API_BASE_URL}/oauth2/v2.1/verify", data=data,
                                    timeout=TIMEOUT) as response:
            claims = json.loads(response.read())
    except urllib.error.HTTPError:
        raise IdTokenRejected(_("LINEでの本人確認の期限が切れたか、正しくありません。"
                                "LINEのトーク画面からもう一度開いてください。")) from None
    except (urllib.error.URLError, OSError, ValueError):
        raise IdTokenRejected(_("LINEに接続できませんでした。しばらくしてからもう一度お試しください。")) from None
    if not (isinstance(claims, dict) and claims.get("iss") == ISSUER and claims.get("aud") == channel.login_channel_id
            and isinstance(claims.get("exp"), int) and claims["exp"] > time.time()
            and claims.get("nonce") == nonce and isinstance(claims.get("sub"), str)):
        raise IdTokenRejected(_("LINEでの本人確認の期限が切れたか、正しくありません。"
                                "LINEのトーク画面からもう一度開いてください。"))
    return claims
