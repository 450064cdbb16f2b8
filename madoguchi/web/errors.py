"""Japanese error pages in the resident design (also for DEBUG=0, where Django's own are English):
404, 403, 500 (`handler404`/`handler403`/`handler500` in madoguchi.urls) and the failed CSRF check
(`CSRF_FAILURE_VIEW`), which residents meet when a form was left open too long.

Each page says what happened and what to do next, and links back: to the municipality's start page
when the address names one, to the back office for staff pages. The 500 page renders without the
database or the session (what failed may be either)."""

import logging
import re

from django.http import HttpResponse, HttpResponseServerError
from django.template import loader
from django.urls import reverse

logger = logging.getLogger(__name__)
_MUNICIPALITY_PATH = re.compile(r"^/(?:m|line)/([0-9]{6})/")


def _context(http_request, *, with_database: bool = True) -> dict:
    path = http_request.path if http_request is not None else ""
    context = {"office": path.startswith("/office/"), "m": None}
    match = _MUNICIPALITY_PATH.match(path)
    if match and with_database:
        from madoguchi.tenancy.models import Municipality

        try:
            context["m"] = Municipality.objects.filter(code=match.group(1)).first()
        except Exception:  # the page must render even when the lookup fails
            logger.exception("municipality lookup for an error page failed")
    if context["office"]:
        context["back_url"] = reverse("backoffice:queue")
    elif context["m"]:
        context["back_url"] = reverse("web:home", args=[context["m"].code])
    else:
        context["back_url"] = reverse("web:index")
    return context


def _render(http_request, template: str, status: int, **extra) -> HttpResponse:
    context = _context(http_request)
    context.update(extra)
    body = loader.get_template(template).render(context, http_request)
    return HttpResponse(body, status=status)


def page_not_found(http_request, exception=None):
    return _render(http_request, "web/errors/404.html", 404)


def permission_denied(http_request, exception=None):
    return _render(http_request, "web/errors/403.html", 403)


def csrf_failure(http_request, reason=""):
    return _render(http_request, "web/errors/csrf.html", 403)


def server_error(http_request):
    """No request context and no database: only the template and the static URL."""
    body = loader.get_template("web/errors/500.html").render(_context(http_request, with_database=False))
    return HttpResponseServerError(body)
