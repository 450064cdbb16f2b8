"""A suspended municipality's back office is read-only: every write under /office/ is refused
(except signing out), so nothing changes while the service operator has it suspended."""

from django.shortcuts import render
from django.urls import reverse


class SuspendedReadOnlyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, http_request):
        if (http_request.method not in {"GET", "HEAD", "OPTIONS"} and http_request.path.startswith("/office/")
                and http_request.path != reverse("backoffice:logout")):
            user = getattr(http_request, "user", None)
            municipality = getattr(user, "municipality", None) if user is not None and user.is_authenticated else None
            if municipality is not None and municipality.suspended_at is not None:
                return render(http_request, "backoffice/suspended.html", status=403)
        return self.get_response(http_request)
