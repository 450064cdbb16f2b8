"""A municipality's channel: its secrets from the environment and a Messaging API client for it."""

import hashlib
import hmac
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, MessagingApiBlob

from .models import LineChannel


@dataclass(frozen=True)
class Credentials:
    channel_secret: str
    access_token: str


def _development_value(kind: str, code: str) -> str:
    """With the emulator (DEBUG or tests) every municipality gets stable local secrets, so the demo
    needs no configuration. Derived from SECRET_KEY; never used when the emulator is off."""
    return hmac.new(settings.SECRET_KEY.encode(), f"line-{kind}:{code}".encode(), hashlib.sha256).hexdigest()


def credentials(municipality_code: str) -> Credentials:
    secret = os.environ.get(f"MADOGUCHI_LINE_CHANNEL_SECRET_{municipality_code}", "")
    token = os.environ.get(f"MADOGUCHI_LINE_ACCESS_TOKEN_{municipality_code}", "")
    if not (secret and token):
        if not settings.LINE_EMULATOR:
            raise ImproperlyConfigured(f"LINE channel secret and access token for {municipality_code} are not set.")
        secret = secret or _development_value("secret", municipality_code)[:32]
        token = token or _development_value("token", municipality_code)
    return Credentials(secret, token)


@contextmanager
def messaging_api(channel: LineChannel) -> Iterator[MessagingApi]:
    configuration = Configuration(host=settings.LINE_API_BASE_URL,
                                  access_token=credentials(channel.municipality.code).access_token)
    with ApiClient(configuration) as client:
        yield MessagingApi(client)


@contextmanager
def messaging_blob_api(channel: LineChannel) -> Iterator[MessagingApiBlob]:
    configuration = Configuration(host=settings.LINE_API_DATA_BASE_URL,
                                  access_token=credentials(channel.municipality.code).access_token)
    with ApiClient(configuration) as client:
        yield MessagingApiBlob(client)
