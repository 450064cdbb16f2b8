"""The mailing list for the post office: one CSV row per envelope of a print batch.

It carries what the clerk copies onto a 書留・特定記録郵便物等差出票 (the kind of registered mail,
express, the tracking number, the addressee) and onto a レターパック label (postal code, the address
in parts, the name, the contents, the sender), and what address-label and posting tools import.

UTF-8 with a byte order mark, CRLF line ends (RFC 4180), so spreadsheet software on office PCs opens
it correctly. The name and address exactly as recorded (with variation selectors: Shift_JIS cannot
carry them) stand beside the parts meant for Shift_JIS tools, in which variation selectors are
dropped, compatibility ideographs folded and a character Shift_JIS lacks is printed as 〓 and
reported in 要確認 (see docs/documents.md).
"""

import csv
import io
import re

from django.utils.translation import gettext as _

from madoguchi.catalog.models import CertificateType, PostageClass
from madoguchi.core.text import loosen, postal_code

from .models import PrintBatch

COLUMNS = ("受付番号", "発行番号", "郵送方法", "書留の種類", "速達", "レターパック", "通数", "郵便料",
           "お届け先郵便番号", "お届け先都道府県", "お届け先市区町村", "お届け先町域・番地", "お届け先建物名等",
           "お届け先氏名", "敬称", "品名", "ご依頼主", "お問い合わせ番号",
           "お届け先住所(記録どおり)", "お届け先氏名(記録どおり)", "要確認")
# A cell starting with one of these runs as a formula in spreadsheet software (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
GETA = "〓"  # what Japanese systems print for a character the character set lacks

PREFECTURES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県", "埼玉県",
    "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県", "岐阜県", "静岡県",
    "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県",
    "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県",
    "宮崎県", "鹿児島県", "沖縄県",
)
# Cities whose name itself holds 市, 町 or 村 before its end, which the pattern below would cut short.
CITIES_WITH_INNER_MARK = ("四日市市", "廿日市市", "野々市市", "市川市", "市原市", "町田市", "十日町市", "大町市",
                          "村山市", "東村山市", "武蔵村山市", "羽村市", "村上市", "大村市", "田村市", "中村区")
_CITY = re.compile(r"[^\d０-９]+?郡[^\d０-９]+?[町村]"  # 郡 and its town or village
                   r"|[^\d０-９]+?市[^\d０-９市]{1,4}?区"  # a ward of a designated city
                   r"|[^\d０-９]+?[市区町村]")
# The street part ends with its last number chain (14番1号, 1-2-3, 7番地); a building follows.
_STREET = re.compile(r"(.*?[\d０-９]+(?:(?:丁目|番地|番|号|[-－‐ーの])[\d０-９]+)*(?:番地|番|号)?)(.*)")


def _cell(value: object) -> str:
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def split_address(address: str) -> tuple[str, str, str, str]:
    """(都道府県, 市区町村, 町域・番地, 建物名等); their concatenation is the address without the
    space before the building. Parts that cannot be told apart stay in the 町域・番地 part."""
    rest = address.strip()
    prefecture = next((p for p in PREFECTURES if rest.startswith(p)), "")
    rest = rest[len(prefecture):]
    city = next((c for c in CITIES_WITH_INNER_MARK if rest.startswith(c)), "")
    if not city:
        match = _CITY.match(rest)
        city = match.group(0) if match else ""
    rest = rest[len(city):]
    spaced = re.split(r"[ 　]+", rest, maxsplit=1)
    if len(spaced) == 2:
        street, building = spaced
    else:
        match = _STREET.fullmatch(rest)
        street, building = (match.group(1), match.group(2)) if match else (rest, "")
    return prefecture, city, street.strip(), building.strip()


def shift_jis_safe(text: str) -> tuple[str, bool]:
    """`text` for Shift_JIS tools (Windows-31J, what Japanese office software calls Shift_JIS):
    variation selectors dropped and compatibility ideographs folded (the default glyph of the same
    character), any character still outside the set replaced by 〓. The flag says one was replaced."""
    out, replaced = [], False
    for char in loosen(text):
        try:
            char.encode("cp932")
        except UnicodeEncodeError:
            out.append(GETA)
            replaced = True
        else:
            out.append(char)
    return "".join(out), replaced


def postage_kind(postage_name: str) -> tuple[str, str, str]:
    """(書留の種類, 速達, レターパック) as the 差出票 and the label ask them, from the postage class's name."""
    if "簡易書留" in postage_name:
        registered = "簡易書留"
    elif "書留" in postage_name:
        registered = "一般書留"
    elif "特定記録" in postage_name:
        registered = "特定記録"
    else:
        registered = ""
    express = "速達" if "速達" in postage_name else ""
    letter_pack = next((kind for kind in ("レターパックプラス", "レターパックライト") if kind in postage_name), "")
    return registered, express, letter_pack


def mailing_row(request, document, postage_name: str, sender: str) -> list[str]:
    problems = []
    code = postal_code(request.delivery_postal_code)
    if not code:
        problems.append(_("郵便番号が7桁ではありません"))
    prefecture, city, street, building = split_address(request.delivery_address)
    if not prefecture or not city:
        problems.append(_("住所を都道府県・市区町村に分けられません"))
    parts, lost = [], False
    for part in (prefecture, city, street, building, request.delivery_name):
        safe, replaced = shift_jis_safe(part)
        parts.append(safe)
        lost = lost or replaced
    if lost:
        problems.append(_("Shift_JISで表せない文字を〓にしました(記録どおりの欄を確認)"))
    registered, express, letter_pack = postage_kind(postage_name)
    contents = _("証明書({kind})").format(kind=CertificateType(request.certificate_type).label)
    return [_cell(v) for v in (
        request.formatted_reception_number, document.issue_number, postage_name, registered, express, letter_pack,
        request.copies, request.postage_amount, code or request.delivery_postal_code, *parts, "様", contents,
        sender, request.tracking_number, request.delivery_address, request.delivery_name, "・".join(problems))]


def mailing_list_csv(batch: PrintBatch) -> bytes:
    municipality = batch.municipality
    postage = dict(PostageClass.objects.for_municipality(municipality).values_list("code", "name"))
    documents = batch.documents.select_related("request").order_by("request__received_at", "request_id")
    sender = f"{municipality.full_name}　{municipality.contact.splitlines()[0]}".strip() \
        if municipality.contact.strip() else municipality.full_name
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for document in documents:
        request = document.request
        writer.writerow(mailing_row(request, document, postage.get(request.postage_class, request.postage_class),
                                    sender))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
