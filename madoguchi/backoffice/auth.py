"""Staff sign-in: password, then a TOTP code (RFC 6238). A code is accepted once.

Guessing is slowed, not locked out (a lockout anyone can trigger would let an outsider keep the clerks
from working): failures are counted per address, per account from one address, per account and for
the whole service, and each count past its free allowance makes the next attempt on that count wait
longer (core.throttle: 15 s doubling to 15 minutes). A browser that completed a sign-in for the
account carries a signed device cookie and is exempt from the per-account and global counts, so the
real clerk at their own PC still gets in while someone elsewhere guesses; anyone else is told when
to try again. Every sign-in, failure, delay and sign-out goes through `record_sign_in_event`.
"""

import datetime
import time
from dataclasses import dataclass
from functools import wraps

import pyotp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, logout
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _

from madoguchi.core.http import client_ip, in_networks, ip_bucket, parse_address, parse_networks
from madoguchi.core.text import reveal_bidi_controls
from madoguchi.core.throttle import clear, record_failure, retry_after
from madoguchi.operations import audit
from madoguchi.tenancy.models import Role, Staff

OTP_SESSION_KEY = "otp_verified"
SIGNED_IN_AT, LAST_SEEN = "office_signed_in_at", "office_last_seen"
# The idle clock is written at most this often, so that each page view is not a session write.
LAST_SEEN_RESOLUTION = 60
REVEALED_TYPES = ("text/html", "text/csv", "text/plain")
# Free failures per count before delays start (within an hour of quiet, core.throttle.QUIET_RESET).
FREE_PER_ACCOUNT_AND_ADDRESS = 5
FREE_PER_ADDRESS = 20
FREE_PER_ACCOUNT = 30
FREE_GLOBAL = 500
DEVICE_COOKIE = "madoguchi_office_device"
DEVICE_MAX_AGE = 60 * 60 * 24 * 90
DEVICE_SALT = "madoguchi.backoffice.device"



def record_sign_in_event(http_request, event: str, *, staff: Staff | None = None, username: str = "",
                         **data) -> None:
    """The one place sign-in, failure, delay, sign-out and admin events are recorded: sign_in,
    sign_in_failed (data: stage), sign_in_delayed (data: until), sign_out, session_expired,
    network_refused, admin_request, admin_refused. Each is an event of the hash-chained audit trail
    (operations.audit): in the staff member's municipality, or the operator's chain when the name is
    unknown or belongs to the operator. The name typed is kept for failures (who was tried)."""
    audit.record(event, http_request=http_request, actor=staff,
                 after={"username": (staff.get_username() if staff else username)[:150], **data})


@dataclass(frozen=True)
class SignInResult:
    staff: Staff | None = None
    retry_at: datetime.datetime | None = None  # delayed: tell the person when to try again
    refused_network: bool = False


def _trusted_device(http_request, staff_pk: int | None) -> bool:
    if staff_pk is None:
        return False
    try:
        value = signing.get_cookie_signer(salt=DEVICE_SALT).unsign(
            http_request.COOKIES.get(DEVICE_COOKIE, ""), max_age=DEVICE_MAX_AGE)
    except signing.BadSignature:
        return False
    return value == str(staff_pk)


def remember_device(response, staff: Staff):
    response.set_cookie(DEVICE_COOKIE, signing.get_cookie_signer(salt=DEVICE_SALT).sign(str(staff.pk)),
                        max_age=DEVICE_MAX_AGE, secure=settings.SESSION_COOKIE_SECURE, httponly=True,
                        samesite="Strict", path="/office/")
    return response


def _counters(http_request, staff_pk: int | None) -> list[tuple[str, int]]:
    """(throttle key, free failures) of every count this attempt falls under."""
    address = ip_bucket(client_ip(http_request))
    counters = [(f"signin:ip:{address}", FREE_PER_ADDRESS)]
    if staff_pk is not None:  # unknown user names are counted per address and globally only
        counters.append((f"signin:pair:{staff_pk}:{address}", FREE_PER_ACCOUNT_AND_ADDRESS))
        if not _trusted_device(http_request, staff_pk):
            counters.append((f"signin:account:{staff_pk}", FREE_PER_ACCOUNT))
    if not _trusted_device(http_request, staff_pk):
        counters.append(("signin:global", FREE_GLOBAL))
    return counters


def _wait_until(counters) -> datetime.datetime | None:
    times = [t for t in (retry_after(key, free) for key, free in counters) if t is not None]
    return max(times) if times else None


def _failed(http_request, counters, event_staff: Staff | None, username: str, stage: str) -> None:
    for key, _free in counters:
        record_failure(key)
    record_sign_in_event(http_request, "sign_in_failed", staff=event_staff, username=username, stage=stage)


def network_allowed(http_request, staff: Staff) -> bool:
    """The service-wide and the municipality's allow-lists of networks for the back office (e.g. the
    municipality's LGWAN segment, docs/operations.md). An empty list allows every network."""
    address = parse_address(client_ip(http_request))
    for spec in (settings.BACKOFFICE_NETWORKS, staff.municipality.office_networks if staff.municipality else ""):
        networks = parse_networks(spec)
        if networks and not in_networks(address, networks):
            return False
    return True


def may_sign_in(staff: Staff) -> bool:
    """A clerk of a municipality, or the service operator (its console, and the admin when enabled)."""
    if not (staff.is_active and staff.totp_secret):
        return False
    if staff.municipality_id is not None:
        return True
    return staff.is_operator  # the operator console; the Django admin only while ADMIN_ENABLED


def check_password(http_request, username: str, password: str) -> SignInResult:
    staff_pk = Staff.objects.filter(username=username).values_list("pk", flat=True).first()
    counters = _counters(http_request, staff_pk)
    wait = _wait_until(counters)
    if wait is not None:
        record_sign_in_event(http_request, "sign_in_delayed", username=username, until=wait.isoformat())
        return SignInResult(retry_at=wait)
    user = authenticate(http_request, username=username, password=password)
    if user is None or not may_sign_in(user):
        _failed(http_request, counters, None, username, "password")
        return SignInResult()
    if not network_allowed(http_request, user):
        record_sign_in_event(http_request, "network_refused", staff=user)
        return SignInResult(refused_network=True)
    return SignInResult(staff=user)


def check_totp(http_request, user: Staff, code: str) -> SignInResult:
    """Accept the current step and one step either side, and only a step newer than the last used."""
    counters = _counters(http_request, user.pk)
    wait = _wait_until(counters)
    if wait is not None:
        record_sign_in_event(http_request, "sign_in_delayed", staff=user, until=wait.isoformat())
        return SignInResult(retry_at=wait)
    code = "".join(ch for ch in code if ch.isdigit())
    totp = pyotp.TOTP(user.totp_secret)
    now = timezone.now()
    for offset in (-1, 0, 1):
        moment = now + datetime.timedelta(seconds=30 * offset)
        step = totp.timecode(moment)
        if step > user.totp_last_step and totp.verify(code, for_time=moment, valid_window=0):
            if Staff.objects.filter(pk=user.pk, totp_last_step__lt=step).update(totp_last_step=step) == 1:
                clear(*(key for key, _free in counters if not key.startswith(("signin:ip:", "signin:global"))))
                record_sign_in_event(http_request, "sign_in", staff=user)
                return SignInResult(staff=user)
            break
    _failed(http_request, counters, user, "", "totp")
    return SignInResult()


def retry_message(retry_at: datetime.datetime) -> str:
    at = timezone.localtime(retry_at + datetime.timedelta(seconds=59)).strftime("%H:%M")
    return _("ログインの失敗が続いたため、しばらくお待ちいただいています。{at} 以降にもう一度お試しください。"
             "お急ぎの場合は、いつもお使いの端末からお試しください。").format(at=at)


def office_response(response):
    """What every back-office answer gets. Never stored by the browser or a proxy: pages, PDFs and
    CSVs hold personal data on a shared office PC (個人情報保護法 第66条, 安全管理措置). A bidirectional
    control in any text is shown as its code point, never acting on what the clerk reads."""
    add_never_cache_headers(response)  # no-cache, no-store, must-revalidate, private
    if getattr(response, "is_rendered", True) is False:  # a TemplateResponse (admin): after rendering
        response.add_post_render_callback(_reveal)
    else:
        _reveal(response)
    return response


def _reveal(response):
    if not response.streaming and response.get("Content-Type", "").startswith(REVEALED_TYPES):
        charset = response.charset
        text = response.content.decode(charset, errors="replace")
        revealed = reveal_bidi_controls(text)
        if revealed != text:
            response.content = revealed.encode(charset)
    return response


def _service_network_allowed(http_request) -> bool:
    networks = parse_networks(settings.BACKOFFICE_NETWORKS)
    return not networks or in_networks(parse_address(client_ip(http_request)), networks)


def _network_refused(http_request):
    return render(http_request, "backoffice/network_refused.html", status=403)


def office_page(view):
    """A back-office view open to anyone (sign-in pages): the same response rules as staff pages,
    and only from the networks the service allows for the back office."""

    @wraps(view)
    def wrapped(http_request, *args, **kwargs):
        if not _service_network_allowed(http_request):
            return office_response(_network_refused(http_request))
        return office_response(view(http_request, *args, **kwargs))

    return wrapped


def mark_signed_in(http_request) -> None:
    now = int(time.time())
    http_request.session[OTP_SESSION_KEY] = True
    http_request.session[SIGNED_IN_AT] = http_request.session[LAST_SEEN] = now


def session_expired(http_request) -> bool:
    """Idle for BACKOFFICE_IDLE_TIMEOUT or signed in longer than BACKOFFICE_SESSION_MAX_AGE."""
    session, now = http_request.session, int(time.time())
    signed_in_at, last_seen = session.get(SIGNED_IN_AT, 0), session.get(LAST_SEEN, 0)
    if now - signed_in_at > settings.BACKOFFICE_SESSION_MAX_AGE or now - last_seen > settings.BACKOFFICE_IDLE_TIMEOUT:
        return True
    if now - last_seen >= LAST_SEEN_RESOLUTION:
        session[LAST_SEEN] = now
    return False


# What a staff page may require: reviewing requests, reading the logs, managing the municipality's
# settings (fees, reconciliation, revenue simulation).
PERMISSIONS = frozenset({"review", "logs", "manage"})


def has_permission(user, permission: str) -> bool:
    if not user.is_authenticated:
        return False
    if permission == "review":
        return user.can_review()
    if permission == "logs":
        return user.can_read_logs()
    if permission == "manage":
        return user.municipality_id is not None and user.role == Role.MANAGER
    raise ValueError(f"Unknown permission {permission!r}")


def staff_required(permission: str = "review"):
    """Signed in with both factors, belongs to a municipality, and holds the permission."""
    if permission not in PERMISSIONS:
        raise ValueError(f"Unknown permission {permission!r}")

    def decorator(view):
        @wraps(view)
        def wrapped(http_request, *args, **kwargs):
            user = http_request.user
            if not user.is_authenticated or not http_request.session.get(OTP_SESSION_KEY):
                return office_response(redirect("backoffice:login"))
            if not network_allowed(http_request, user):
                record_sign_in_event(http_request, "network_refused", staff=user)
                return office_response(_network_refused(http_request))
            if session_expired(http_request):
                record_sign_in_event(http_request, "session_expired", staff=user)
                logout(http_request)
                messages.info(http_request, _("一定時間操作がなかったか、ログインから時間がたったため、"
                                              "ログアウトしました。もう一度ログインしてください。"))
                return office_response(redirect("backoffice:login"))
            if not has_permission(user, permission):
                raise PermissionDenied
            return office_response(view(http_request, *args, **kwargs))

        return wrapped

    return decorator
