"""Back-office pages of the documents app, contributed to the back office (`register`, found by
`backoffice.pages`): the print batch's PDF for the printer and its mailing list for the post office.
The back office signs staff in, checks the permission and records each download in the access log."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404

from .mailing import mailing_list_csv
from .models import PrintBatch


def _batch(http_request, batch_id) -> PrintBatch:
    return get_object_or_404(PrintBatch.objects.for_municipality(http_request.user.municipality), pk=batch_id)


def batch_pdf(http_request, batch_id):
    printed = _batch(http_request, batch_id)
    response = HttpResponse(bytes(printed.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="print-batch-{printed.pk}.pdf"'
    return response


def batch_mailing_csv(http_request, batch_id):
    printed = _batch(http_request, batch_id)
    response = HttpResponse(mailing_list_csv(printed), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="mailing-list-{printed.pk}.csv"'
    return response


def register(pages) -> None:
    pages.add("batch/<int:batch_id>/print.pdf", batch_pdf, name="batch_pdf", access_log="download_print_batch")
    pages.add("batch/<int:batch_id>/mailing.csv", batch_mailing_csv, name="batch_mailing_csv",
              access_log="download_mailing_list")
