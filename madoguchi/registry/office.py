"""The replica's page for managers, contributed to the back office (`register`, found by
`backoffice.pages`): each import (when, files, rows added / changed / removed / rejected, unmapped
外字, the reason of a refusal), 「副本の更新日時」 and the alarm when it is older than the
municipality's limit. Counts and reasons only: no personal data on this page."""

from django.shortcuts import render
from django.utils.translation import gettext_lazy

from .models import ImportRun
from .replica import freshness

RUNS_SHOWN = 100


def imports(http_request):
    municipality = http_request.user.municipality
    runs = ImportRun.objects.for_municipality(municipality).defer("rejections")[:RUNS_SHOWN]
    return render(http_request, "registry/replica.html", {"fresh": freshness(municipality), "runs": runs})


def register(pages) -> None:
    pages.add("imports/", imports, name="imports", permission="manage", menu_label=gettext_lazy("副本"))
