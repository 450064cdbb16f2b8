"""The Madoguchi standard layout: one CSV file per record, UTF-8, described in docs/replica.md.

    #MADOGUCHI-REPLICA,1,<record>,<full|diff>,<地方公共団体コード>,<sequence>,<as of, ISO 8601>
    <column names: the names of imports.base.RECORDS; 異動 files add _op and _change>
    <rows>
    #END,<number of rows>

Assumed, not published: the 標準準拠システム's data requirements name the items (and this layout
uses their meaning), but the public material gives no file layout for a replica and none at all
for 異動 records; this is ours until the standard defines one.
"""

import datetime
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
    read_lines,
    split_csv,
    too_long_error,
)
from ...registry import register

MAGIC = "#MADOGUCHI-REPLICA"
TRAILER = "#END"


def parse_as_of(text: str, file: str) -> datetime.datetime:
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ImportRefused("bad_header", _("{file}: 作成日時の形式が正しくありません。").format(file=file)) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone(datetime.timedelta(hours=9)))
    return value


@register("standard")
class StandardFormat(ImportFormat):
    label = "Madoguchi標準レイアウト(CSV・UTF-8)"

    def open(self, paths: list, options: dict) -> list[SourceFile]:
        return [self._open(Path(p)) for p in paths]

    def _open(self, path: Path) -> SourceFile:
        name = path.name
        binary = open(path, "rb")  # noqa: SIM115 - closed when its rows are exhausted
        try:
            lines = read_lines(binary, "utf-8", name)
            first, second = next(lines, None), next(lines, None)
            if first is None:
                raise ImportRefused("empty", _("{file}: 空のファイルです。").format(file=name))
            try:
                control = split_csv(lines, first)[0] if first[1] is not None else []
                columns = split_csv(lines, second)[0] if second and second[1] is not None else None
            except RowError:
                control, columns = [], None
            if len(control) != 7 or control[0] != MAGIC or control[1] != "1":
                raise ImportRefused("bad_header", _("{file}: 標準レイアウトの制御レコードがありません。").format(
                    file=name))
            _magic, _version, record, kind, code, sequence, as_of = control
            if record not in RECORDS or kind not in ("full", "diff") or not sequence.isdigit():
                raise ImportRefused("bad_header", _("{file}: 制御レコードの内容が正しくありません。").format(file=name))
            header = FileHeader(name, record, kind, code, int(sequence), parse_as_of(as_of, name))
            if columns is None or columns[:1] == [TRAILER]:
                raise ImportRefused("bad_header", _("{file}: 項目名の行がありません。").format(file=name))
            extra = {"_op", "_change"} if kind == "diff" else set()
            known = set(RECORDS[record].column_names) | extra
            unknown = [c for c in columns if c not in known and c not in MY_NUMBER_COLUMNS]
            if unknown or len(set(columns)) != len(columns):
                raise ImportRefused("bad_columns", _("{file}: 不明または重複した項目名があります: {names}").format(
                    file=name, names=", ".join(unknown[:5]) or "-"))
            missing = [c.name for c in RECORDS[record].columns
                       if c.required and c.kind != "computed" and c.name not in columns]
            missing += [c for c in sorted(extra) if c not in columns]
            if missing:
                raise ImportRefused("bad_columns", _("{file}: 必須の項目がありません: {names}").format(
                    file=name, names=", ".join(missing)))
        except BaseException:
            binary.close()
            raise
        # 個人番号 columns are skipped by position: their values are never put in a row.
        keep = [i for i, c in enumerate(columns) if c not in MY_NUMBER_COLUMNS]
        source = SourceFile(header, iter(()), columns=[columns[i] for i in keep])
        source.size = path.stat().st_size
        source.position = binary.tell
        source.rows = self._rows(lines, binary, source, keep if len(keep) != len(columns) else None, len(columns))
        return source

    def _rows(self, lines, binary, source: SourceFile, keep, width: int):
        header = source.header
        op_at = source.columns.index("_op") if "_op" in source.columns else None
        change_at = source.columns.index("_change") if "_change" in source.columns else None
        ended = False
        try:
            for number, text in lines:
                if text is None:
                    source.rows_seen += 1
                    yield SourceRow(number, None, error=too_long_error())
                    continue
                if not text:
                    continue
                if ended:
                    raise ImportRefused("data_after_trailer", _("{file}: 末尾レコードの後に行があります。").format(
                        file=header.file))
                try:
                    row, raw = split_csv(lines, (number, text))
                except RowError as exc:
                    source.rows_seen += 1
                    yield SourceRow(number, None, error=exc)
                    continue
                if row[0] == TRAILER:
                    if len(row) != 2 or not row[1].isdigit():
                        raise ImportRefused("bad_trailer", _("{file}: 末尾レコードが正しくありません。").format(
                            file=header.file))
                    header.expected_rows = int(row[1])
                    ended = True
                    continue
                source.rows_seen += 1
                if len(row) != width:
                    yield SourceRow(number, None, error=RowError("bad_width", _(
                        "列の数({count})が項目名の数({width})と違います。").format(count=len(row), width=width)))
                    continue
                if keep is not None:
                    row, raw = [row[i] for i in keep], None
                yield SourceRow(number, row, row[op_at] if op_at is not None else "U",
                                row[change_at] if change_at is not None else "", raw=raw)
            if not ended:
                raise ImportRefused("truncated", _(
                    "{file}: 末尾レコード(#END)がありません。途中で切れています。").format(file=header.file))
        finally:
            binary.close()
