"""Middleware of the kernel: refusing what no layer below can hold before any view sees it."""

from django.shortcuts import render

from .http import from_trusted_proxy
from .inputs import is_safe_text

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _safe(query_dict) -> bool:
    return all(is_safe_text(key) and all(is_safe_text(v) for v in values) for key, values in query_dict.lists())


class UnsafeInputMiddleware:
    """A NUL or a lone surrogate in the query string or a form is answered 400 with a plain Japanese
    page: PostgreSQL cannot store or even compare such text, so it would otherwise be a server error.
    JSON bodies are the views' business (`core.inputs.loads`); only forms are read here, and reading
    them first leaves the raw body of a url-encoded form readable for the views that verify it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        safe = is_safe_text(request.path) and _safe(request.GET)
        if safe and request.method == "POST" and request.content_type in FORM_TYPES:
            safe = _safe(request.POST)
        if not safe:
            return render(request, "core/unsafe_input.html", status=400)
        return self.get_response(request)


FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
                     "HTTP_X_FORWARDED_PORT", "HTTP_FORWARDED", "HTTP_X_REQUEST_ID")


class TrustedProxyMiddleware:
    """Forwarded headers count only from a trusted proxy (settings.TRUSTED_PROXIES). From anyone
    else they are dropped before Django reads X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER) or a view
    reads X-Forwarded-For (core.http.client_ip). First in MIDDLEWARE."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not from_trusted_proxy(request):
            for header in FORWARDED_HEADERS:
                request.META.pop(header, None)
        return self.get_response(request)
