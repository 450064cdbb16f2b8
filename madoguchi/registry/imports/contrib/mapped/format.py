"""A vendor's own CSV or fixed-width files, read through a per-vendor mapping file (TOML).

The mapping says which file is which record (a pattern on the file name, whose named groups give
the municipality code, full or 異動, the sequence and the as-of time), the encoding (Shift_JIS,
CP932, UTF-8), the columns (1-based positions; byte offsets and lengths for fixed width), code
tables, the date style (ISO, yyyymmdd, 和暦 such as 令和元年5月1日, or era-digit codes such as
5010501), and the trailer that carries the row count. Columns the mapping does not name are never
read; 個人番号 columns must be listed under `dropped` and are skipped by position. The layout is
documented in docs/replica.md with a worked example (docs/replica-mapping-example.toml).
"""

import datetime
import re
import tomllib
from pathlib import Path

from django.utils.translation import gettext as _

from ...base import (
    MY_NUMBER_COLUMNS,
    RECORDS,
    FileHeader,
    ImportFormat,
    ImportRefused,
    RowError,
    SourceFile,
    SourceRow,
    parse_date,
    read_lines,
    split_csv,
    too_long_error,
)
from ...registry import register

ENCODINGS = {"shift_jis": "shift_jis", "sjis": "shift_jis", "cp932": "cp932", "windows-31j": "cp932",
             "utf-8": "utf-8", "utf8": "utf-8"}
DATE_STYLES = ("iso", "yyyymmdd", "wareki", "wareki_code")
JST = datetime.timezone(datetime.timedelta(hours=9))


class Mapping:
    """A checked mapping file. Everything wrong in it is said before any data file is opened."""

    def __init__(self, path):
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError, TypeError) as exc:
            raise ImportRefused("bad_mapping", _("対応表ファイルが読めません: {error}").format(error=exc)) from None
        self.vendor = str(data.get("vendor", ""))
        self.encoding = ENCODINGS.get(str(data.get("encoding", "")).lower())
        self.layout = data.get("layout", "csv")
        self.date_style = data.get("date_style", "iso")
        self.header_lines = int(data.get("header_lines", 0))
        self.trailer_prefix = data.get("trailer_prefix")
        self.kinds = data.get("kinds", {"full": "full", "diff": "diff"})
        self.as_of_format = data.get("as_of_format", "%Y%m%d%H%M%S")
        self.records = data.get("records", {})
        if self.encoding is None:
            raise ImportRefused("bad_mapping", _("対応表: encoding は Shift_JIS / CP932 / UTF-8 のいずれかです。"))
        if self.layout not in ("csv", "fixed") or self.date_style not in DATE_STYLES:
            raise ImportRefused("bad_mapping", _("対応表: layout または date_style が正しくありません。"))
        if not self.records or set(self.records) - set(RECORDS):
            raise ImportRefused("bad_mapping", _("対応表: records に不明なレコード種別があります。"))
        for name, spec in self.records.items():
            known = set(RECORDS[name].column_names)
            columns = spec.get("columns", {})
            bad = [c for c in columns if c not in known]
            if any(c in MY_NUMBER_COLUMNS for c in columns):
                raise ImportRefused("bad_mapping", _("対応表: 個人番号は取り込めません(dropped に書いてください)。"))
            if bad:
                raise ImportRefused("bad_mapping", _("対応表: {record} に不明な項目があります: {names}").format(
                    record=name, names=", ".join(bad)))
            for field, style in spec.get("dates", {}).items():
                if style not in DATE_STYLES:
                    raise ImportRefused("bad_mapping", _("対応表: {field} の日付形式が正しくありません。").format(
                        field=field))
            try:
                spec["_pattern"] = re.compile(spec["file"])
            except (KeyError, re.error):
                raise ImportRefused("bad_mapping", _("対応表: {record} の file パターンが正しくありません。").format(
                    record=name)) from None
            for column in columns.values():
                if self.layout == "fixed" and not (isinstance(column, list) and len(column) == 2):
                    raise ImportRefused("bad_mapping", _("対応表: 固定長の列は [開始位置, バイト数] です。"))
                if self.layout == "csv" and not (isinstance(column, int) and column >= 1):
                    raise ImportRefused("bad_mapping", _("対応表: CSVの列は1から始まる列番号です。"))

    def record_for(self, file_name: str):
        for name, spec in self.records.items():
            found = spec["_pattern"].match(file_name)
            if found:
                return name, spec, found
        raise ImportRefused("unknown_file", _("{file}: 対応表のどのファイルにも当てはまりません。").format(
            file=file_name))

    def gaiji_code(self, ch: str) -> str:
        """A private-use character as the vendor numbers it: its Shift_JIS user-area code (F040…)
        when the file is Shift_JIS/CP932, else its code point."""
        if self.encoding == "cp932":
            try:
                return ch.encode("cp932").hex().upper()
            except UnicodeEncodeError:
                pass
        return f"U+{ord(ch):04X}"


@register("mapped")
class MappedFormat(ImportFormat):
    label = "ベンダー別の対応表によるCSV・固定長"

    def open(self, paths: list, options: dict) -> list[SourceFile]:
        if not options.get("mapping"):
            raise ImportRefused("bad_mapping", _("対応表ファイル(--mapping)を指定してください。"))
        mapping = Mapping(options["mapping"])
        return [self._open(Path(p), mapping) for p in paths]

    def _open(self, path: Path, mapping: Mapping) -> SourceFile:
        name = path.name
        record, spec, found = mapping.record_for(name)
        groups = found.groupdict()
        kind = mapping.kinds.get(groups.get("kind", ""), None) if "kind" in groups else spec.get("kind")
        if kind not in ("full", "diff") or not (groups.get("sequence") or "").isdigit():
            raise ImportRefused("bad_header", _("{file}: ファイル名から全件・異動の別と連番が読み取れません。").format(
                file=name))
        try:
            as_of = datetime.datetime.strptime(groups.get("as_of") or "", mapping.as_of_format).replace(tzinfo=JST)
        except ValueError:
            raise ImportRefused("bad_header", _("{file}: ファイル名の作成日時が正しくありません。").format(
                file=name)) from None
        header = FileHeader(name, record, kind, groups.get("municipality", ""), int(groups["sequence"]), as_of)
        if path.stat().st_size == 0:
            raise ImportRefused("empty", _("{file}: 空のファイルです。").format(file=name))
        binary = open(path, "rb")  # noqa: SIM115 - closed when its rows are exhausted
        source = SourceFile(header, iter(()), mapping.gaiji_code, columns=list(spec.get("columns", {})))
        source.size = path.stat().st_size
        source.position = binary.tell
        source.rows = self._rows(binary, source, mapping, spec)
        return source

    def _rows(self, binary, source: SourceFile, mapping: Mapping, spec: dict):
        header = source.header
        lines = read_lines(binary, mapping.encoding, header.file)
        columns = spec.get("columns", {})
        dropped = set(spec.get("dropped", []))
        if any((c if isinstance(c, int) else c[0]) in dropped for c in columns.values()):
            raise ImportRefused("bad_mapping", _("対応表: dropped の列を項目に割り当てています。"))
        codes = spec.get("codes", {})
        dates = {c.name: spec.get("dates", {}).get(c.name, mapping.date_style)
                 for c in RECORDS[header.record].columns if c.kind == "date"}
        op_column, change_column = spec.get("op_column"), spec.get("change_column")
        diff = header.kind == "diff"
        prefix = mapping.trailer_prefix or ""
        ended = False
        try:
            for number, text in lines:
                if text is None:
                    source.rows_seen += 1
                    yield SourceRow(number, None, error=too_long_error())
                    continue
                if number <= mapping.header_lines or not text:
                    continue
                if ended:
                    raise ImportRefused("data_after_trailer", _("{file}: 末尾レコードの後に行があります。").format(
                        file=header.file))
                try:
                    raw = split_csv(lines, (number, text))[0] if mapping.layout == "csv" else text
                except RowError as exc:
                    source.rows_seen += 1
                    yield SourceRow(number, None, error=exc)
                    continue
                first = raw[0] if mapping.layout == "csv" else raw[:len(prefix)]
                if prefix and first == prefix:
                    count = raw[1] if mapping.layout == "csv" and len(raw) > 1 else raw[len(prefix):].strip(" ,")
                    if not str(count).isdigit():
                        raise ImportRefused("bad_trailer", _("{file}: 末尾レコードが正しくありません。").format(
                            file=header.file))
                    header.expected_rows = int(count)
                    ended = True
                    continue
                source.rows_seen += 1
                try:
                    values = [self._value(raw, field, where, mapping, codes, dates) for field, where in columns.items()]
                    op = change = ""
                    if diff:
                        op = codes.get("_op", {}).get(_pick(raw, op_column, mapping), "")
                        change = _pick(raw, change_column, mapping)
                        change = codes.get("_change", {}).get(change, change)
                except RowError as exc:
                    yield SourceRow(number, None, error=exc)
                    continue
                yield SourceRow(number, values, op or "U", change)
            if prefix and not ended:
                raise ImportRefused("truncated", _("{file}: 末尾レコードがありません。途中で切れています。").format(
                    file=header.file))
        finally:
            binary.close()

    def _value(self, raw, field: str, where, mapping: Mapping, codes: dict, dates: dict) -> str:
        value = _pick(raw, where, mapping)
        table = codes.get(field)
        if table is not None and value:
            if value not in table:
                raise RowError("bad_code", _("{field}の値がコード表にありません。").format(field=field))
            value = table[value]
        if field in dates and value:
            value = parse_date(value, dates[field]).isoformat()
        return value


def _pick(raw, where, mapping: Mapping) -> str:
    if where is None:
        return ""
    if mapping.layout == "csv":
        if where > len(raw):
            raise RowError("bad_width", _("列の数が足りません。"))
        return raw[where - 1]
    start, length = where
    data = raw.encode(mapping.encoding)
    if start - 1 + length > len(data):
        raise RowError("bad_width", _("行の長さが足りません。"))
    try:
        return data[start - 1:start - 1 + length].decode(mapping.encoding).rstrip(" \u3000")
    except UnicodeDecodeError:
        raise RowError("bad_width", _("固定長の列の境界が文字の途中にあります。")) from None
