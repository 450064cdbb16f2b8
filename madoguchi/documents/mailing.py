"""The mailing list for the post office: one CSV row per envelope of a print batch.

Columns (docs/documents.md): 受付番号, 郵便番号, 送付先住所, 送付先氏名, 郵送方法, 通数, お問い合わせ番号,
発行番号. UTF-8 with a byte order mark, CRLF line ends (RFC 4180), so spreadsheet software on office
PCs opens it correctly and names with variant kanji survive (Shift_JIS cannot carry IVS).
"""

import csv
import io

from madoguchi.catalog.models import PostageClass

from .models import PrintBatch

COLUMNS = ("受付番号", "郵便番号", "送付先住所", "送付先氏名", "郵送方法", "通数", "お問い合わせ番号", "発行番号")
# A cell starting with one of these runs as a formula in spreadsheet software (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def mailing_list_csv(batch: PrintBatch) -> bytes:
    postage = dict(PostageClass.objects.for_municipality(batch.municipality).values_list("code", "name"))
    documents = batch.documents.select_related("request").order_by("request__received_at", "request_id")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for document in documents:
        request = document.request
        writer.writerow([_cell(v) for v in (
            request.formatted_reception_number, request.delivery_postal_code, request.delivery_address,
            request.delivery_name, postage.get(request.postage_class, request.postage_class), request.copies,
            request.tracking_number, document.issue_number)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
