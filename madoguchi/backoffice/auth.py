"""Staff sign-in: password, then a TOTP code (RFC 6238). A code is accepted once."""

import datetime
from functools import wraps

import pyotp
from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.utils import timezone

from madoguchi.core.throttle import hit
from madoguchi.tenancy.models import Role, Staff

OTP_SESSION_KEY = "otp_verified"
LOGIN_LIMIT = 10
LOGIN_WINDOW = datetime.timedelta(minutes=15)


def check_password(http_request, username: str, password: str) -> Staff | None:
    if not hit(f"login:{username.lower()}", LOGIN_LIMIT, LOGIN_WINDOW):
        return None
    user = authenticate(http_request, username=username, password=password)
    if user is None or not user.is_active or not user.totp_secret or user.municipality_id is None:
        return None
    return user


def login_retry_at(username: str) -> datetime.datetime | None:
    """When sign-in for `username` opens again, if it is refused now (the count of check_password's
    throttle is spent); read without counting an attempt."""
    from madoguchi.core.models import Throttle

    row = Throttle.objects.filter(key=f"login:{username.lower()}").first()
    if row is None or row.count < LOGIN_LIMIT:
        return None
    reopens = row.window_start + LOGIN_WINDOW
    return reopens if reopens > timezone.now() else None


def check_totp(user: Staff, code: str) -> bool:
    """Accept the current step and one step either side, and only a step newer than the last used."""
    if not hit(f"totp:{user.pk}", LOGIN_LIMIT, LOGIN_WINDOW):
        return False
    code = "".join(ch for ch in code if ch.isdigit())
    totp = pyotp.TOTP(user.totp_secret)
    now = timezone.now()
    for offset in (-1, 0, 1):
        moment = now + datetime.timedelta(seconds=30 * offset)
        step = totp.timecode(moment)
        if step > user.totp_last_step and totp.verify(code, for_time=moment, valid_window=0):
            updated = Staff.objects.filter(pk=user.pk, totp_last_step__lt=step).update(totp_last_step=step)
            return updated == 1
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
                return redirect("backoffice:login")
            if not has_permission(user, permission):
                raise PermissionDenied
            return view(http_request, *args, **kwargs)

        return wrapped

    return decorator
