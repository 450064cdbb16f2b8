"""What every replica import format produces, and the checks every row passes.

A format plugin (`ImportFormat`) reads a set of linkage files and yields, per file, a `FileHeader`
(which record, full or 異動, which municipality, which sequence, how many rows) and the rows as
canonical strings keyed by the names of `RECORDS`. Everything after that (types, 外字, duplicate
keys, households without a head, the generation switch) is the loader's and the same for every
format, so a new vendor layout is a mapping file or a new plugin, nothing else.
"""

import csv
import dataclasses
import datetime
import json
import re
from collections.abc import Iterator
from typing import ClassVar

from django.utils.translation import gettext_lazy as _

from madoguchi.core.dates import ERAS
from madoguchi.core.text import normalize_width

from .. import models as m

MAX_LINE_BYTES = 64 * 1024
# 個人番号 is never stored (行政手続における特定の個人を識別するための番号の利用等に関する法律 第19条,
# 第20条: no collection or keeping outside the permitted 事務). Columns with these names are
# dropped while parsing, before any value is looked at.
MY_NUMBER_COLUMNS = frozenset({"my_number", "individual_number", "個人番号", "マイナンバー"})

KOSEKI_EVENT_KINDS = frozenset({
    "出生", "認知", "養子縁組", "養子離縁", "婚姻", "離婚", "親権", "未成年者の後見", "死亡", "失踪",
    "国籍取得", "国籍喪失", "帰化", "氏の変更", "名の変更", "転籍", "入籍", "分籍", "除籍", "推定相続人廃除",
    "戸籍編製", "改製", "氏名の振り仮名", "性別の取扱いの変更", "その他"})
CHANGE_KINDS = frozenset({
    "転入", "転出", "転居", "出生", "死亡", "世帯変更", "世帯主変更", "氏名変更", "続柄変更", "職権記載",
    "職権修正", "職権消除", "国籍変更", "在留資格変更", "通称記載", "通称削除", "印鑑登録", "印鑑廃止",
    "戸籍記載", "附票記載", "課税更正", "支援措置", "発行停止", "電子証明書", "その他"})


class ImportRefused(Exception):
    """The whole file set is refused: nothing is applied. `code` is stable, `message` for the operator."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = str(message)


class RowError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = str(message)


@dataclasses.dataclass(frozen=True)
class Rejection:
    """A row not applied. Names the file, line and field, never the values (no personal data)."""

    file: str
    line: int
    record: str
    code: str
    message: str

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


# --- values -----------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_WAREKI = re.compile(r"^(明治|大正|昭和|平成|令和)(元|\d{1,2})年(\d{1,2})月(\d{1,2})日$")
_ERA_BY_NAME = {era.name: era for era in ERAS}
_ERA_BY_DIGIT = {era.jpki_digit: era for era in ERAS}


def _era_date(era, year: int, month: int, day: int) -> datetime.date:
    try:
        d = datetime.date(era.first_day.year + year - 1, month, day)
    except ValueError:
        raise RowError("bad_date", _("存在しない日付です。")) from None
    index = ERAS.index(era)
    next_first = ERAS[index - 1].first_day if index else None
    if year < 1 or d < era.first_day or (next_first and d >= next_first):
        raise RowError("bad_wareki", _("存在しない和暦の日付です(元号の期間外)。"))
    return d


def parse_wareki(text: str) -> datetime.date:
    """`平成31年4月30日`, `令和元年5月1日`; a date outside its era (平成31年5月1日) is refused."""
    found = _WAREKI.match(normalize_width(text.strip()))
    if not found:
        raise RowError("bad_date", _("和暦の日付の形式が正しくありません。"))
    era, year, month, day = found.groups()
    return _era_date(_ERA_BY_NAME[era], 1 if year == "元" else int(year), int(month), int(day))


def parse_wareki_code(text: str) -> datetime.date:
    """`4310430`: era digit (1 明治 … 5 令和) and YYMMDD, as many core systems write dates."""
    if len(text) != 7 or not text.isdigit() or text[0] not in _ERA_BY_DIGIT:
        raise RowError("bad_date", _("和暦コードの日付の形式が正しくありません。"))
    return _era_date(_ERA_BY_DIGIT[text[0]], int(text[1:3]), int(text[3:5]), int(text[5:7]))


def parse_date(text: str, style: str = "iso") -> datetime.date:
    try:
        if style == "iso":
            if len(text) != 10:
                raise ValueError
            return datetime.date.fromisoformat(text)
        if style == "yyyymmdd":
            if len(text) != 8 or not text.isdigit():
                raise ValueError
            return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise RowError("bad_date", _("日付の形式が正しくありません。")) from None
    if style == "wareki":
        return parse_wareki(text)
    if style == "wareki_code":
        return parse_wareki_code(text)
    raise RowError("bad_date", _("日付の形式の指定が正しくありません。"))


# --- records ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"  # text, kana, date, int, bool, json, choice
    required: bool = False
    max_length: int = 200
    choices: tuple[str, ...] = ()
    # The model column; None for a reference resolved by the loader (household_number, ...).
    target: str | None = ""

    @property
    def db_column(self) -> str | None:
        return self.name if self.target == "" else self.target


@dataclasses.dataclass(frozen=True)
class Ref:
    """A reference to another record by its key, resolved to an id in SQL."""

    columns: tuple[str, ...]
    record: str
    target: str  # the FK column, e.g. household_id
    optional: bool = False


@dataclasses.dataclass(frozen=True)
class RecordType:
    name: str
    label: str
    model: type
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    refs: tuple[Ref, ...] = ()
    # Model columns of the unique constraint the upsert meets (besides municipality_id).
    conflict: tuple[str, ...] = ()
    # What a full load does with rows absent from the file: "remove" marks a person 消除; "delete"
    # deletes dependent rows (a seal registration the core system no longer has is 廃止).
    absent: str = "delete"
    text_columns: tuple[str, ...] = ()
    # Whom an unmapped 外字 in this record stops (see models.UnmappedCharacter).
    stops: str = "person"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _c(name, kind="text", required=False, **kw) -> Column:
    return Column(name, kind, required, **kw)


SEX = ("1", "2")
REMOVAL = tuple(m.RemovalReason.values)

RECORDS: dict[str, RecordType] = {r.name: r for r in (
    RecordType("household", "世帯", m.Household, (
        _c("household_number", required=True, max_length=16),
        _c("postal_code", max_length=8), _c("address", required=True)),
        key=("household_number",), conflict=("household_number",), absent="keep", stops="household"),
    RecordType("resident", "個人", m.Resident, (
        _c("person_number", required=True, max_length=16), _c("household_number", required=True, target=None,
                                                                max_length=16),
        _c("name", required=True, max_length=100), _c("name_kana", "kana", required=True),
        _c("date_of_birth", "date", required=True), _c("sex", "choice", required=True, choices=SEX),
        _c("relationship", required=True, max_length=20), _c("honseki"), _c("koseki_head", max_length=100),
        _c("former_surname", max_length=50), _c("former_surname_kana", "kana", max_length=100),
        _c("alias", max_length=100), _c("alias_kana", "kana"), _c("nationality", max_length=50),
        _c("became_resident_on", "date", required=True), _c("became_resident_reason", max_length=20),
        _c("address_since", "date"), _c("address_notified_on", "date"), _c("previous_address"),
        _c("address_before_moving_in"), _c("removed_on", "date"),
        _c("removal_reason", "choice", choices=REMOVAL), _c("moved_to"),
        _c("foreign_resident_category", "choice", choices=tuple(m.ForeignResidentCategory.values)),
        _c("became_foreign_resident_on", "date"), _c("residence_status", max_length=50),
        _c("period_of_stay", max_length=30), _c("period_of_stay_ends_on", "date"),
        _c("residence_card_number", max_length=12)),
        key=("person_number",), refs=(Ref(("household_number",), "household", "household_id"),),
        conflict=("person_number",), absent="remove"),
    RecordType("address", "住所履歴", m.AddressRecord, (
        _c("person_number", required=True, target=None, max_length=16), _c("seq", "int", required=True),
        _c("address", required=True), _c("since", "date", required=True), _c("notified_on", "date"),
        _c("change", max_length=20)),
        key=("person_number", "seq"), refs=(Ref(("person_number",), "resident", "resident_id"),),
        conflict=("resident_id", "seq")),
    RecordType("alias", "通称履歴", m.AliasRecord, (
        _c("person_number", required=True, target=None, max_length=16), _c("seq", "int", required=True),
        _c("alias", required=True, max_length=100), _c("alias_kana", "kana"),
        _c("recorded_on", "date", required=True), _c("recorded_by", max_length=60), _c("deleted_on", "date"),
        _c("deleted_by", max_length=60)),
        key=("person_number", "seq"), refs=(Ref(("person_number",), "resident", "resident_id"),),
        conflict=("resident_id", "seq")),
    RecordType("seal", "印鑑登録", m.SealRegistration, (
        _c("person_number", required=True, target=None, max_length=16),
        _c("registration_number", required=True, max_length=16), _c("registered_on", "date", required=True),
        _c("impression_png", "png", required=True), _c("uses_former_surname", "bool")),
        key=("person_number",), refs=(Ref(("person_number",), "resident", "resident_id"),),
        conflict=("resident_id",)),
    RecordType("koseki", "戸籍", m.Koseki, (
        _c("honseki", required=True), _c("head_name", required=True, max_length=100),
        _c("events", "json_events"), _c("closed_on", "date"), _c("lookup_key", "computed", max_length=320)),
        key=("honseki", "head_name"), conflict=("honseki", "head_name"), stops="koseki"),
    RecordType("koseki_member", "戸籍の記録事項", m.KosekiMember, (
        _c("honseki", required=True, target=None), _c("head_name", required=True, target=None, max_length=100),
        _c("position", "int", required=True), _c("person_number", target=None, max_length=16),
        _c("name", required=True, max_length=100), _c("name_kana", "kana"),
        _c("date_of_birth", "date", required=True), _c("sex", "choice", required=True, choices=SEX),
        _c("spouse_category", "choice", choices=("夫", "妻")),
        _c("father", max_length=100), _c("mother", max_length=100), _c("relationship", required=True, max_length=20),
        _c("removed", "bool"), _c("events", "json_events"), _c("address_history", "json_addresses")),
        key=("honseki", "head_name", "position"),
        refs=(Ref(("honseki", "head_name"), "koseki", "koseki_id"),
              Ref(("person_number",), "resident", "resident_id", optional=True)),
        conflict=("koseki_id", "position"), stops="koseki"),
    RecordType("tax", "個人住民税", m.TaxRecord, (
        _c("person_number", required=True, target=None, max_length=16), _c("fiscal_year", "int", required=True),
        _c("salary_income", "int"), _c("income", "int", required=True), _c("deductions", "int", required=True),
        _c("dependents", "int"), _c("municipal_per_capita", "int"), _c("municipal_income_levy", "int"),
        _c("prefectural_per_capita", "int"), _c("prefectural_income_levy", "int"),
        _c("income_breakdown", "json_amounts"), _c("deduction_breakdown", "json_amounts"),
        _c("dependant_breakdown", "json_amounts"), _c("address_on_january_1"), _c("municipal_tax", "computed"),
        _c("prefectural_tax", "computed")),
        key=("person_number", "fiscal_year"), refs=(Ref(("person_number",), "resident", "resident_id"),),
        conflict=("resident_id", "fiscal_year")),
    RecordType("support_measure", "支援措置", m.SupportMeasure, (
        _c("measure_number", required=True, max_length=20),
        _c("person_number", required=True, target=None, max_length=16),
        _c("kind", "choice", required=True, choices=tuple(m.SupportMeasureKind.values)),
        _c("starts_on", "date", required=True), _c("ends_on", "date"), _c("perpetrators", "json_people")),
        key=("measure_number",), refs=(Ref(("person_number",), "resident", "resident_id"),),
        conflict=("measure_number",)),
    RecordType("issuance_stop", "発行停止", m.IssuanceStop, (
        _c("stop_number", required=True, max_length=20),
        _c("person_number", required=True, target=None, max_length=16), _c("reason", required=True),
        _c("starts_on", "date", required=True), _c("ends_on", "date")),
        key=("stop_number",), refs=(Ref(("person_number",), "resident", "resident_id"),),
        conflict=("stop_number",)),
    RecordType("card_link", "利用者証明用電子証明書", m.CardCertificateLink, (
        _c("serial_number", required=True, max_length=40),
        _c("person_number", required=True, target=None, max_length=16),
        _c("valid_until", "date"), _c("revoked_on", "date")),
        key=("serial_number",), refs=(Ref(("person_number",), "resident", "resident_id"),),
        conflict=("serial_number",)),
)}
# Parents before children: the order rows are applied in.
ORDER = ("household", "resident", "address", "alias", "seal", "koseki", "koseki_member", "tax",
         "support_measure", "issuance_stop", "card_link")


# --- what a format yields -----------------------------------------------------------------------

@dataclasses.dataclass
class FileHeader:
    file: str
    record: str
    kind: str  # "full" or "diff"
    municipality_code: str
    sequence: int
    as_of: datetime.datetime
    expected_rows: int | None = None  # from a trailer or a manifest; None when the layout has none


@dataclasses.dataclass
class SourceRow:
    line: int
    values: list[str] | None  # aligned with SourceFile.columns; None when the format rejected the row
    op: str = "U"  # U upsert, D delete (異動 files)
    change: str = ""  # 異動事由
    error: RowError | None = None
    # The line as the file has it, when it is plain CSV in the file's column order (no quotes, no
    # column dropped): on PostgreSQL such a line goes to COPY as it is.
    raw: str | None = None


class SourceFile:
    """One parsed file: its header, then its rows (a generator, consumed once)."""

    def __init__(self, header: FileHeader, rows: Iterator[SourceRow], gaiji_code=None, columns=()):
        self.header = header
        self.rows = rows
        # The names of the values of each row (canonical names; 異動 files may add _op, _change).
        self.columns = list(columns)
        # How this file's encoding names a private-use character (the vendor's 外字 code).
        self.gaiji_code = gaiji_code or (lambda ch: f"U+{ord(ch):04X}")
        self.rows_seen = 0
        self.size = 0  # bytes, for progress
        self.position = lambda: 0


def file_digest(paths: list) -> str:
    """SHA-256 over the files of a set, in name order: the identity of a repeated 異動 file."""
    import hashlib
    from pathlib import Path

    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


class ImportFormat:
    """A replica linkage layout. Subclasses set `name`, `label` and implement `open`."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""

    def open(self, paths: list, options: dict) -> list[SourceFile]:
        raise NotImplementedError

    def digest(self, paths: list) -> str:
        return file_digest(paths)

    def expand(self, paths: list) -> list:
        """Files named, and the files of directories named (not hidden), in name order."""
        from pathlib import Path

        out = []
        for p in map(Path, paths):
            out.extend(sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
                       if p.is_dir() else [p])
        return out


def read_lines(binary, encoding: str, file_name: str):
    """(number, text without its line ending) of a file with one line ending throughout.

    A line longer than MAX_LINE_BYTES comes as (number, None), to be rejected; a line that does not
    decode, or a line ending that differs from the first line's, refuses the file: either means it
    is not what its layout says."""
    ending = None
    utf8 = encoding.replace("-", "").replace("_", "").lower() in {"utf8", "utf8sig"}
    for number, raw in enumerate(binary, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            if not utf8:
                raise ImportRefused("bad_encoding", _("{file}: 文字コードが宣言({encoding})と違います"
                                                      "(UTF-8のBOMがあります)。").format(file=file_name,
                                                                                       encoding=encoding))
            raw = raw[3:]  # a UTF-8 byte order mark is tolerated and dropped
        this_ending = b"\r\n" if raw.endswith(b"\r\n") else b"\n" if raw.endswith(b"\n") else None
        if this_ending is not None:
            if ending is None:
                ending = this_ending
            elif this_ending != ending:
                raise ImportRefused("mixed_line_endings", _("{file}: 改行コードが混在しています({line}行目)。")
                                    .format(file=file_name, line=number))
        if len(raw) > MAX_LINE_BYTES:
            yield number, None
            continue
        try:
            text = raw.decode("utf-8" if utf8 else encoding)
        except UnicodeDecodeError:
            raise ImportRefused("bad_encoding", _("{file}: {line}行目が文字コード{encoding}として読めません。")
                                .format(file=file_name, line=number, encoding=encoding)) from None
        body = text.rstrip("\r\n")
        if "\r" in body:
            raise ImportRefused("mixed_line_endings", _("{file}: 改行コードが混在しています({line}行目)。")
                                .format(file=file_name, line=number))
        yield number, body


def split_csv(lines, first: tuple[int, str]):
    """One CSV record starting at `first` (number, text), pulling continuation lines from `lines`
    when a quoted field spans lines (RFC 4180). Returns (fields, raw or None)."""
    number, text = first
    if '"' not in text:
        return text.split(","), text

    def texts():
        yield text
        for _n, more in lines:
            if more is None:
                raise RowError("line_too_long", _("行が長すぎます(上限{limit}バイト)。").format(limit=MAX_LINE_BYTES))
            yield more

    try:
        return next(csv.reader(texts())), None
    except (csv.Error, StopIteration):
        raise RowError("bad_csv", _("CSVとして読めない行です。")) from None


def too_long_error() -> RowError:
    return RowError("line_too_long", _("行が長すぎます(上限{limit}バイト)。").format(limit=MAX_LINE_BYTES))


def check_text(value: str) -> None:
    if _CONTROL.search(value):
        raise RowError("control_character", _("制御文字が含まれています。"))


def parse_json(value: str, kind: str):
    try:
        data = json.loads(value)
    except ValueError:
        raise RowError("bad_json", _("構造化項目の形式が正しくありません。")) from None
    ok = False
    if kind == "json_events":
        ok = isinstance(data, list) and all(
            isinstance(e, dict) and e.get("kind") in KOSEKI_EVENT_KINDS and _iso_or_none(e.get("date"))
            and all(isinstance(d, list) and len(d) == 2 and all(isinstance(x, str) for x in d)
                    for d in e.get("details", []))
            for e in data)
    elif kind == "json_addresses":
        ok = isinstance(data, list) and all(
            isinstance(e, dict) and isinstance(e.get("address"), str) and _iso_or_none(e.get("since"))
            and _iso_or_none(e.get("removed_on"), optional=True) for e in data)
    elif kind == "json_amounts":
        ok = isinstance(data, dict) and all(isinstance(v, int) and v >= 0 for v in data.values())
    elif kind == "json_people":
        ok = isinstance(data, list) and all(isinstance(p, dict) and isinstance(p.get("name", ""), str)
                                            and _iso_or_none(p.get("date_of_birth"), optional=True)
                                            for p in data)
    if not ok:
        raise RowError("bad_json", _("構造化項目の内容が正しくありません。"))
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _iso_or_none(value, optional: bool = False) -> bool:
    if value is None:
        return optional
    try:
        datetime.date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True
