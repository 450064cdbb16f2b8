"""Verifying a LIFF ID token the way LINE Login's verify endpoint defines it.

POST {api}/oauth2/v2.1/verify with id_token, client_id (the LINE Login channel id) and nonce; LINE
checks the signature and answers with the claims or a 400. We check the claims again ourselves:
issuer, audience, expiry and the nonce.

Tokens from a LINE Login authorization request carry the nonce we issued for the page (one-time, in
the session). Tokens the LIFF browser obtains by itself (`liff.getIDToken()`) carry no nonce we could
have chosen; for those the page's one-time nonce still guards the form, and the token must have been
issued within FRESH_FOR, so a token captured earlier cannot be replayed.
"""

import base64
import binascii
import json
import time
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.utils.translation import gettext as _

from madoguchi.core.inputs import loads

from .models import LineAccount

ISSUER = "https://access.line.me"
TIMEOUT = 5
FRESH_FOR = 10 * 60  # seconds: the age limit of an ID token without our nonce


class IdTokenRejected(Exception):
    """`str(error)` is a Japanese message for the resident."""


def _carries_nonce(id_token: str) -> bool:
    """Whether the (not yet verified) token has a nonce claim: decides what LINE is asked to check."""
    try:
        payload = id_token.split(".")[1]
        claims = loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return False
    return isinstance(claims, dict) and "nonce" in claims


def verify_id_token(account: LineAccount, id_token: str, nonce: str) -> dict:
    if not id_token or len(id_token) > 4096 or not nonce:
        raise IdTokenRejected(_("LINEでの本人確認ができませんでした。LINEのトーク画面からもう一度開いてください。"))
    params = {"id_token": id_token, "client_id": account.login_channel_id}
    if _carries_nonce(id_token):
        params["nonce"] = nonce
    data = urllib.parse.urlencode(params).encode()
    try:
        with urllib.request.urlopen(f"{settings.LINE_API_BASE_URL}/oauth2/v2.1/verify", data=data,
                                    timeout=TIMEOUT) as response:
            claims = json.loads(response.read())
    except urllib.error.HTTPError:
        raise IdTokenRejected(_("LINEでの本人確認の期限が切れたか、正しくありません。"
                                "LINEのトーク画面からもう一度開いてください。")) from None
    except (urllib.error.URLError, OSError, ValueError):
        raise IdTokenRejected(_("LINEに接続できませんでした。しばらくしてからもう一度お試しください。")) from None
    now = time.time()
    if not (isinstance(claims, dict) and claims.get("iss") == ISSUER and claims.get("aud") == account.login_channel_id
            and isinstance(claims.get("exp"), int) and claims["exp"] > now and isinstance(claims.get("sub"), str)
            and (claims.get("nonce") == nonce if "nonce" in claims
                 else isinstance(claims.get("iat"), int) and now - FRESH_FOR <= claims["iat"] <= now + 60)):
        raise IdTokenRejected(_("LINEでの本人確認の期限が切れたか、正しくありません。"
                                "LINEのトーク画面からもう一度開いてください。"))
    return claims
