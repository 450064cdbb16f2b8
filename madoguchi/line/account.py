"""A municipality's LINE account: its secrets (`tenancy.vault`) and a Messaging API client for it."""

import hashlib
import hmac
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, MessagingApiBlob

from madoguchi.tenancy import vault

from .models import LineAccount


@dataclass(frozen=True)
class Credentials:
    channel_secret: str
    access_token: str


def _development_value(kind: str, code: str) -> str:
    """With the emulator (DEBUG or tests) every municipality gets stable local secrets, so the demo
    needs no configuration. Derived from SECRET_KEY; never used when the emulator is off."""
    return hmac.new(settings.SECRET_KEY.encode(), f"line-{kind}:{code}".encode(), hashlib.sha256).hexdigest()


def credentials(municipality_code: str) -> Credentials:
    """The channel secret and access token of the municipality's Messaging API channel, from its
    encrypted secrets (LINE_CHANNEL_SECRET, LINE_ACCESS_TOKEN; `manage.py secrets set`)."""
    secret = vault.get_secret(municipality_code, "LINE_CHANNEL_SECRET") or ""
    token = vault.get_secret(municipality_code, "LINE_ACCESS_TOKEN") or ""
    if not (secret and token):
        if not settings.LINE_EMULATOR:
            raise ImproperlyConfigured(f"LINE channel secret and access token for {municipality_code} are not set.")
        secret = secret or _development_value("secret", municipality_code)[:32]
        token = token or _development_value("token", municipality_code)
    return Credentials(secret, token)


# The webhook asks which municipality an account code belongs to on every delivery; the answer is kept
# per process for this long (a deactivated account stops being found within it, and at once in the
# process that saved it: `forget_accounts` runs on every save). Only accounts found are kept, so
# made-up codes cannot grow the table.
ACCOUNT_KEEP_SECONDS = 5.0
_accounts: dict[str, tuple[float, int]] = {}


def active_account_municipality(code: str) -> int | None:
    """The id of the municipality whose active LINE account has this code, or None."""
    kept = _accounts.get(code)
    if kept is not None and time.monotonic() - kept[0] < ACCOUNT_KEEP_SECONDS:
        return kept[1]
    found = (LineAccount.objects.filter(municipality__code=code, active=True)
             .values_list("municipality_id", flat=True)[:1])
    if not found:
        _accounts.pop(code, None)
        return None
    _accounts[code] = (time.monotonic(), found[0])
    return found[0]


def forget_accounts(**_signal) -> None:
    _accounts.clear()


# Seconds to connect to LINE and to wait for its answer: a LINE that hangs must not hold a worker (and
# the event's row lock) until the job's lease runs out.
REQUEST_TIMEOUT = (3.05, 10)

_clients: dict[tuple[int, str, str], tuple[str, ApiClient]] = {}
_clients_lock = threading.Lock()


def _client(host: str, account: LineAccount) -> ApiClient:
    """One SDK client per process, API host and municipality, kept: building one sets the SDK's logger
    level, which empties the cache of every logger in the process (a cost on each LINE answer), and a
    kept client keeps its HTTPS connections to LINE alive between calls. A rotated access token gets a
    new client; a forked child never uses its parent's (the process id is part of the key)."""
    code = account.municipality.code
    token, key = credentials(code).access_token, (os.getpid(), host, code)
    with _clients_lock:
        kept = _clients.get(key)
        if kept is None or kept[0] != token:
            kept = _clients[key] = (token, ApiClient(Configuration(host=host, access_token=token)))
        return kept[1]


@contextmanager
def messaging_api(account: LineAccount) -> Iterator[MessagingApi]:
    yield MessagingApi(_client(settings.LINE_API_BASE_URL, account))


@contextmanager
def messaging_blob_api(account: LineAccount) -> Iterator[MessagingApiBlob]:
    yield MessagingApiBlob(_client(settings.LINE_API_DATA_BASE_URL, account))


def check_connection(municipality) -> str:
    """The manager's "test connection": LINE's bot info (GET /v2/bot/info reads, changes nothing).
    "" when it answered, else why not, in Japanese."""
    from django.utils.translation import gettext as _
    from linebot.v3.messaging.exceptions import ApiException

    account = LineAccount.objects.filter(municipality=municipality).first()
    if account is None:
        return _("LINE公式アカウントが登録されていません。")
    try:
        with messaging_api(account) as api:
            api.get_bot_info()
    except ImproperlyConfigured:
        return _("チャネルシークレットとアクセストークンが設定されていません。")
    except ApiException as exc:
        return _("LINEが接続を拒否しました(HTTP {status})。").format(status=exc.status)
    except Exception as exc:  # network errors of every kind: the manager needs the fact, not a 500
        return _("LINEに接続できませんでした({kind})。").format(kind=type(exc).__name__)
    return ""
