"""Django admin for the service operator only, and only where the operator enables it.

Mounted under /admin/ only with MADOGUCHI_ADMIN=1 (madoguchi/urls.py). It has no sign-in of its own:
the operator signs in through the back office (password, TOTP, the same throttles), and only staff
without a municipality who are superusers get in; a municipality's staff, superuser or not, never
do, so nobody acts across towns through it. Every admin request is recorded with
`record_sign_in_event` and gets the back office's response rules (no-store, bidi controls shown).
"""

from functools import wraps

from django.contrib import admin
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse

from .auth import OTP_SESSION_KEY, office_response, record_sign_in_event, session_expired


def is_operator(user) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_superuser and user.municipality_id is None)


class OperatorAdminSite(admin.AdminSite):
    site_header = site_title = "Madoguchi operator admin"

    def has_permission(self, request):
        return is_operator(request.user) and bool(request.session.get(OTP_SESSION_KEY))

    def login(self, request, extra_context=None):
        return redirect(reverse("backoffice:login"))

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        @wraps(view)
        def wrapped(request, *args, **kwargs):
            user = request.user
            if user.is_authenticated and request.session.get(OTP_SESSION_KEY):
                if not is_operator(user):
                    record_sign_in_event(request, "admin_refused", staff=user, path=request.path[:200])
                    raise PermissionDenied
                if session_expired(request):
                    record_sign_in_event(request, "session_expired", staff=user)
                    logout(request)
                    return office_response(redirect("backoffice:login"))
                record_sign_in_event(request, "admin_request", staff=user, method=request.method,
                                     path=request.path[:200])
            return office_response(inner(request, *args, **kwargs))

        return wrapped
