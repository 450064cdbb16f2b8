"""Loading a linkage file set into a municipality's replica: parse, stage, check, then switch.

1. The format plugin parses each file; every row is checked and typed here (`_Converter`) and
   streamed into a connection-local staging table: PostgreSQL `COPY`, SQLite `executemany`.
2. Checks across rows run as SQL on the staging tables: duplicate keys (a person in two
   households), references to unknown households, people or 戸籍, a household without a head, a
   戸籍 without its 筆頭者. Each failing row is rejected with its reason; more rejected rows than
   allowed (none by default, none ever for 異動) refuse the whole set.
3. One transaction applies everything with set-based SQL (insert … on conflict update, only rows
   whose content digest changed), marks people absent from a full file 消除 (never deletes them),
   and moves the generation pointer (`ReplicaState`). Readers keep the previous generation until
   it commits; a failure rolls everything back.
"""

import hashlib
import json
import os as _os
import re
import sys as _sys
import time as _time
from base64 import b64decode
from binascii import Error as BinasciiError

from django.db import connection, models, transaction
from django.db.models.signals import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.core.text import to_katakana

from ..matching import koseki_lookup_key
from ..models import (
    GaijiMapping,
    ImportKind,
    ImportRun,
    ImportState,
    RemovalReason,
    ReplicaState,
    Resident,
    UnmappedCharacter,
)
from .base import (
    CHANGE_KINDS,
    ORDER,
    RECORDS,
    ImportRefused,
    RecordType,
    Rejection,
    RowError,
    SourceFile,
    check_text,
    parse_json,
)
from .registry import register

# Sent on commit after an import changed or removed people: `changed_at` marks their rows
# (Resident.record_changed_at), so requests in the queue about them can be flagged.
replica_changed = Signal()

MAX_STORED_REJECTIONS = 1000
HEAD = "世帯主"
_CONTROL_JOINED = re.compile(r"[\x00-\x1e\x7f\ud800-\udfff]")
_PUA = re.compile("[\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd]")
_JSON_DEFAULTS = {"json_events": "[]", "json_addresses": "[]", "json_amounts": "{}", "json_people": "[]"}


_TIMING = bool(_os.environ.get("MADOGUCHI_REPLICA_TIMING"))


def _phase(label: str, since: float) -> float:
    now = _time.perf_counter()
    if _TIMING:
        _sys.stderr.write(f"[replica] {label}: {now - since:.2f} s\n")
    return now


def _stg(record: str) -> str:
    return f"replica_stg_{record}"


class _Dialect:
    def __init__(self):
        self.postgres = connection.vendor == "postgresql"

    def cast(self, expr: str, kind: str) -> str:
        if kind == "date":
            return f"CAST({expr} AS date)" if self.postgres else expr
        if kind == "int":
            return f"CAST({expr} AS integer)"
        if kind == "bool":
            return f"CAST({expr} AS boolean)" if self.postgres else f"CAST({expr} AS integer)"
        if kind.startswith("json"):
            return f"CAST({expr} AS jsonb)" if self.postgres else expr
        return expr

    def distinct(self, a: str, b: str) -> str:
        return f"{a} IS DISTINCT FROM {b}" if self.postgres else f"{a} IS NOT {b}"

    def not_int(self, expr: str) -> str:
        return f"{expr} !~ '^[0-9]{{1,9}}$'" if self.postgres else f"({expr} GLOB '*[^0-9]*' OR length({expr}) > 9)"

    def not_date(self, expr: str) -> list[str]:
        """Conditions, tested in order, that `expr` is not an ISO date that exists."""
        if not self.postgres:
            return [f"date({expr}, '+0 days') IS NOT {expr}"]
        return [f"{expr} !~ '^(1[89]|20)[0-9]{{2}}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$'",
                f"CAST(substr({expr}, 9, 2) AS integer) > EXTRACT(DAY FROM CAST(substr({expr}, 1, 8) || '01' AS date)"
                f" + interval '1 month' - interval '1 day')"]

    @property
    def blob(self) -> str:
        return "bytea" if self.postgres else "blob"



def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


# --- staging ------------------------------------------------------------------------------------

class _Staging:
    """One record's staging table: _line, _ok, _op, _chg and the record's columns, all text (empty
    is NULL). Rows come either as lists (COPY text / executemany) or, on PostgreSQL, as the file's
    own CSV lines (COPY csv: PostgreSQL splits the fields)."""

    def __init__(self, dialect: _Dialect, record: RecordType):
        self.dialect, self.record = dialect, record
        self.table = _stg(record.name)
        self.columns = ["_line", "_ok", "_hash", "_op", "_chg", *record.column_names]
        types = ["integer", "integer", "text", "text", "text",
                 *[dialect.blob if c.kind == "png" else "text" for c in record.columns]]
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")
            cursor.execute(f"CREATE TEMP TABLE {self.table} ("
                           + ", ".join(f"{n} {t}" for n, t in zip(self.columns, types, strict=True)) + ")")
        self._rows: list = []
        self._lines: list[str] = []
        self.csv_columns: list[str] | None = None

    def add(self, row: list) -> None:
        self._rows.append(row)
        if len(self._rows) >= 20000:
            self.flush()

    def add_line(self, line: str) -> None:
        self._lines.append(line)
        if len(self._lines) >= 50000:
            self.flush()

    def flush(self) -> None:
        with connection.cursor() as cursor:
            if self._rows:
                if self.dialect.postgres:
                    data = "".join("\t".join(_copy_value(v) for v in row) + "\n" for row in self._rows)
                    with cursor.cursor.copy(f"COPY {self.table} ({', '.join(self.columns)}) FROM STDIN") as copy:
                        copy.write(data)
                else:
                    marks = ", ".join(["%s"] * len(self.columns))
                    cursor.executemany(f"INSERT INTO {self.table} VALUES ({marks})", self._rows)
                self._rows = []
            if self._lines:
                with cursor.cursor.copy(f"COPY {self.table} ({', '.join(self.csv_columns)}) FROM STDIN "
                                        "WITH (FORMAT csv)") as copy:
                    copy.write("".join(self._lines))
                self._lines = []

    def index(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE INDEX {self.table}_key ON {self.table} ({', '.join(self.record.key)})")
            if self.dialect.postgres:
                cursor.execute(f"ANALYZE {self.table}")

    def drop(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")


def _copy_value(v) -> str:
    if v is None or v == "":
        return "\\N"
    if isinstance(v, bytes):
        return "\\\\x" + v.hex()
    if isinstance(v, int):
        return str(v)
    return v.replace("\\", "\\\\") if "\\" in v else v


# --- one row ------------------------------------------------------------------------------------

# What a line may not hold to go to PostgreSQL as it is: control characters, surrogates, 外字, and
# hiragana or half-width katakana (a 振り仮名 to convert; such lines take the Python path).
_SCREEN = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ue000-\uf8ff\U000f0000-\U0010fffd\u3041-\u3096\uff61-\uff9f]")


class _Converter:
    """The checks only Python can make (control characters, 外字, structured items, images) and
    the computed columns. Everything else is checked in SQL on the staging table (`_Load.validate`)."""

    def __init__(self, record: RecordType, kind: str, gaiji: dict[str, str], columns: list[str]):
        self.record, self.kind, self.gaiji = record, kind, gaiji
        self.names = [c.name for c in record.columns if c.kind != "computed"]
        position = {name: i for i, name in enumerate(columns)}
        self.index = [position.get(n, -1) for n in self.names]
        self.special = [(i, c) for i, c in enumerate(record.columns)
                        if c.kind in ("png", "kana") or c.kind.startswith("json")]
        self.raw_allowed = all(c.kind == "kana" for _i, c in self.special)
        # The file's lines can go to COPY csv as they are when no column needs Python.
        self.raw_columns = None
        if self.raw_allowed and all(c in position for c in record.key) and not COMPUTED.get(record.name):
            renamed = {"_op": "_op", "_change": "_chg"}
            # Full files have no _op column: their lines are all upserts.
            self.raw_prefix = "{},1,{}," if "_op" in columns else "{},1,{},U,"
            self.raw_columns = ["_line", "_ok", "_hash", *([] if "_op" in columns else ["_op"]),
                                *[renamed.get(c, c) for c in columns]]
            if any(c not in record.column_names and c not in renamed for c in columns):
                self.raw_columns = None

    def values(self, row: list) -> list:
        return [row[i] if i >= 0 else "" for i in self.index]

    def convert(self, row: list, source: SourceFile, unmapped: list) -> list:
        """The staged values, or a RowError. `unmapped` collects (field, code, char) of 外字 left."""
        vals = self.values(row)
        joined = "\x1f".join(vals)
        if _CONTROL_JOINED.search(joined) or joined.count("\x1f") != len(vals) - 1:
            for name, v in zip(self.names, vals, strict=True):
                try:
                    check_text(v)
                except RowError:
                    raise RowError("control_character", _("{field}に制御文字が含まれています。").format(
                        field=name)) from None
        if _PUA.search(joined):
            vals = [self._gaiji(name, v, source, unmapped) if _PUA.search(v) else v
                    for name, v in zip(self.names, vals, strict=True)]
        for i, column in self.special:
            v = vals[i]
            if not v:
                continue
            if column.kind == "kana":
                v = to_katakana(v)
            elif column.kind == "png":
                try:
                    v = b64decode(v, validate=True)
                except (BinasciiError, ValueError):
                    raise RowError("bad_image", _("{field}の画像が正しくありません。").format(
                        field=column.name)) from None
                if not v.startswith(b"\x89PNG\r\n\x1a\n"):
                    raise RowError("bad_image", _("{field}の画像がPNGではありません。").format(field=column.name))
            else:
                try:
                    v = parse_json(v, column.kind)
                except RowError as exc:
                    raise RowError(exc.code, f"{column.name}: {exc.message}") from None
            vals[i] = v
        computed = COMPUTED.get(self.record.name)
        if computed:
            vals.extend(computed(dict(zip(self.names, vals, strict=True))))
        digest = _md5("\x1f".join(v.hex() if isinstance(v, bytes) else v for v in vals))
        return digest, [v if v != "" else None for v in vals]

    def _gaiji(self, field: str, value: str, source: SourceFile, unmapped: list) -> str:
        def replace(found):
            ch = found.group(0)
            code = source.gaiji_code(ch)
            mapped = self.gaiji.get(code)
            if mapped is None:
                unmapped.append((field, code, ch))
                return ch
            return mapped
        return _PUA.sub(replace, value)


def _total(values: dict, *names: str) -> str:
    total = 0
    for n in names:
        v = values[n] or "0"
        if not (v.isascii() and v.isdigit() and len(v) <= 9):
            raise RowError("bad_number", _("{field}の数値が正しくありません。").format(field=n))
        total += int(v)
    return str(total)


# Columns derived from the row: the 戸籍's lookup key, and each tax's total of 均等割 and 所得割.
COMPUTED = {
    "koseki": lambda v: [koseki_lookup_key(v["honseki"], v["head_name"])],
    "tax": lambda v: [_total(v, "municipal_per_capita", "municipal_income_levy"),
                      _total(v, "prefectural_per_capita", "prefectural_income_levy")],
}


# --- the load -----------------------------------------------------------------------------------

class _Load:
    def __init__(self, municipality, fmt_name: str, paths: list, options: dict, dry_run: bool,
                 max_rejected: int, operator: str, progress):
        self.municipality = municipality
        self.fmt_name, self.paths, self.options = fmt_name, paths, options
        self.dry_run, self.max_rejected, self.operator = dry_run, max_rejected, operator
        self.progress = progress or (lambda done, total: None)
        self.dialect = _Dialect()
        self.rejections: list[Rejection] = []
        self.rejected_lines: dict[str, set] = {}
        self.unmapped: dict[str, int] = {}
        self.staging: dict[str, _Staging] = {}
        self.rows_read = 0
        self.counts = {"added": 0, "changed": 0, "removed": 0}
        self.started_at = timezone.now()
        self.header = None
        self.sha256 = ""
        self.clock = _time.perf_counter()
        if self.dialect.postgres:
            with connection.cursor() as cursor:
                cursor.execute("SET jit = off")  # reset in cleanup()

    # -- reading --

    def read(self) -> None:
        fmt = register.get(self.fmt_name)
        self.paths = fmt.expand(self.paths)
        files = fmt.open(self.paths, self.options)
        if not files:
            raise ImportRefused("empty", _("取り込むファイルがありません。"))
        headers = [f.header for f in files]
        first = headers[0]
        for h in headers:
            if h.municipality_code != self.municipality.code:
                raise ImportRefused("other_municipality", _(
                    "{file}は地方公共団体コード{code}のファイルです({ours}の副本には取り込めません)。").format(
                    file=h.file, code=h.municipality_code, ours=self.municipality.code))
            if h.record not in RECORDS:
                raise ImportRefused("unknown_record", _("{file}: 不明なレコード種別です。").format(file=h.file))
            if (h.kind, h.sequence) != (first.kind, first.sequence):
                raise ImportRefused("mixed_set", _("全件・異動の別と連番が揃っていないファイルが含まれています。"))
        records = [h.record for h in headers]
        if len(set(records)) != len(records):
            raise ImportRefused("duplicate_record", _("同じレコード種別のファイルが複数あります。"))
        self.header = first
        self.kind = first.kind
        self.file_names = {h.record: h.file for h in headers}
        self.sha256 = fmt.digest(self.paths)
        self.check_sequence()
        gaiji = dict(GaijiMapping.objects.for_municipality(self.municipality).values_list("vendor_code", "character"))
        self.gaiji_stage = _GaijiStaging(self.dialect)
        total = sum(getattr(f, "size", 0) for f in files) or 1
        done_before = 0
        for source in sorted(files, key=lambda f: ORDER.index(f.header.record)):
            self._read_file(source, gaiji, done_before, total)
            done_before += getattr(source, "size", 0)
            self.clock = _phase(f"read {source.header.record}", self.clock)
        self.progress(total, total)

    def _read_file(self, source: SourceFile, gaiji: dict, done_before: int, total: int) -> None:
        record = RECORDS[source.header.record]
        stage = self.staging[record.name] = _Staging(self.dialect, record)
        converter = _Converter(record, self.kind, gaiji, source.columns)
        raw_ok = self.dialect.postgres and converter.raw_columns is not None
        stage.csv_columns = converter.raw_columns
        prefix = getattr(converter, "raw_prefix", "")
        key_index = [converter.names.index(k) for k in record.key]
        self.rejected_lines.setdefault(record.name, set())
        file = source.header.file
        for row in source.rows:
            self.rows_read += 1
            line = row.line
            if raw_ok and row.raw is not None and not _SCREEN.search(row.raw):
                stage.add_line(prefix.format(line, _md5(row.raw)) + row.raw + "\n")
                continue
            unmapped: list = []
            try:
                if row.error:
                    raise row.error
                digest, staged = converter.convert(row.values, source, unmapped)
            except RowError as exc:
                self.reject(file, line, record.name, exc.code, exc.message)
                if row.values is not None:
                    values = converter.values(row.values)
                    key = [values[i] for i in key_index]
                    if all(key) and not any(_SCREEN.search(k) for k in key):
                        stage.add([line, 0, "", row.op, row.change, *[values[i] if i in key_index else None
                                                                  for i in range(len(record.columns))]])
                continue
            stage.add([line, 1, digest, row.op, row.change, *staged])
            for field, code, ch in unmapped:
                self.unmapped[code] = self.unmapped.get(code, 0) + 1
                self.gaiji_stage.add(record, staged, field, code, ch)
            if self.rows_read % 50000 == 0:
                self.progress(done_before + source.position(), total)
        stage.flush()
        stage.index()
        expected = source.header.expected_rows
        if expected is not None and source.rows_seen != expected:
            raise ImportRefused("truncated", _("{file}: 件数が合いません(末尾レコードの件数{expected}、"
                                               "読み込んだ行{seen})。途中で切れている可能性があります。").format(
                file=file, expected=expected, seen=source.rows_seen))

    def validate(self) -> None:
        """Each value against its column, set-based: the first problem of each row, by its line."""
        messages = {
            "missing": _("{field}がありません。"), "too_long": _("{field}が長すぎます。"),
            "bad_code": _("{field}のコードが正しくありません。"), "bad_number": _("{field}の数値が正しくありません。"),
            "bad_flag": _("{field}は 0 または 1 です。"), "bad_date": _("{field}の日付が正しくありません。"),
            "bad_operation": _("処理区分が正しくありません(U または D)。"),
            "bad_change": _("異動事由が正しくありません。"),
            "delete_person": _("個人は削除できません。消除の事由(転出・死亡等)で送ってください。"),
        }
        for name, stage in self.staging.items():
            record = RECORDS[name]
            whens = []
            if self.kind == ImportKind.DIFF:
                whens.append(("s._op IS NULL OR s._op NOT IN ('U', 'D')", "bad_operation:_op"))
                changes = ", ".join(f"'{c}'" for c in sorted(CHANGE_KINDS))
                whens.append((f"s._chg IS NULL OR s._chg NOT IN ({changes})", "bad_change:_change"))
                if record.absent == "remove":
                    whens.append(("s._op = 'D'", "delete_person:_op"))
            for c in record.columns:
                col = f"s.{c.name}"
                if c.name in record.key:
                    whens.append((f"{col} IS NULL", f"missing:{c.name}"))
                elif c.required:
                    whens.append((f"{col} IS NULL AND s._op = 'U'", f"missing:{c.name}"))
                if c.kind in ("text", "kana"):
                    whens.append((f"length({col}) > {c.max_length}", f"too_long:{c.name}"))
                elif c.kind == "choice":
                    whens.append((f"{col} NOT IN ({', '.join(repr(v) for v in c.choices)})", f"bad_code:{c.name}"))
                elif c.kind == "int":
                    whens.append((self.dialect.not_int(col), f"bad_number:{c.name}"))
                elif c.kind == "bool":
                    whens.append((f"{col} NOT IN ('0', '1')", f"bad_flag:{c.name}"))
                elif c.kind == "date":
                    whens.extend((cond, f"bad_date:{c.name}") for cond in self.dialect.not_date(col))
            case = "CASE " + " ".join(f"WHEN {cond} THEN '{code}'" for cond, code in whens) + " END"
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT _line, problem FROM (SELECT s._line, {case} AS problem FROM {stage.table} s "
                               f"WHERE s._ok = 1) v WHERE problem IS NOT NULL ORDER BY _line")
                problems = cursor.fetchall()
            for code, rows in _group(problems).items():
                kind, _sep, field = code.partition(":")
                self._mark(record, rows, kind, messages[kind].format(field=field))
        self.clock = _phase("validate", self.clock)

    def reject(self, file: str, line: int, record: str, code: str, message: str) -> None:
        self.rejections.append(Rejection(file, line, record, code, str(message)))
        self.rejected_lines.setdefault(record, set()).add(line)

    def check_sequence(self, state: ReplicaState | None = None) -> None:
        state = state or ReplicaState.objects.filter(municipality=self.municipality).first()
        seq, current = self.header.sequence, state.sequence if state else 0
        if self.kind == ImportKind.DIFF:
            if state is None or state.current_import_id is None:
                raise ImportRefused("no_full_load", _("全件の取り込みが済んでいないため、異動分は取り込めません。"))
            if seq <= current:
                previous = ImportRun.objects.filter(municipality=self.municipality, kind=ImportKind.DIFF,
                                                    sequence=seq, state=ImportState.APPLIED).first()
                if previous is not None and previous.sha256 == self.sha256:
                    raise _AlreadyApplied(previous)
                raise ImportRefused("repeated_sequence", _(
                    "連番{seq}の異動分は取り込み済みで、内容が異なります(現在の連番{current})。").format(
                    seq=seq, current=current))
            if seq != current + 1:
                raise ImportRefused("out_of_sequence", _(
                    "異動分の連番が飛んでいます(次は{expected}、このファイルは{seq})。").format(
                    expected=current + 1, seq=seq))
        elif state is not None and state.current_import_id is not None and seq < current:
            raise ImportRefused("older_than_replica", _(
                "この全件ファイル(連番{seq}まで)は副本(連番{current}まで)より古いものです。").format(
                seq=seq, current=current))

    # -- checks across rows --

    def check_rows(self) -> None:
        for name in ORDER:
            if name in self.staging:
                self._duplicates(RECORDS[name])
        if "household" in self.staging and "resident" in self.staging:
            self._household_heads()
        for name in ORDER:
            if name in self.staging:
                for ref in RECORDS[name].refs:
                    self._references(RECORDS[name], ref)
        if "koseki_member" in self.staging:
            self._koseki_heads()

    def _mark(self, record: RecordType, lines: list[int], code: str, message: str) -> None:
        if not lines:
            return
        stage = self.staging[record.name]
        with connection.cursor() as cursor:
            for i in range(0, len(lines), 500):
                chunk = lines[i:i + 500]
                cursor.execute(f"UPDATE {stage.table} SET _ok = 0 WHERE _line IN ({', '.join(['%s'] * len(chunk))})",
                               chunk)
        for line in lines:
            if line not in self.rejected_lines.get(record.name, ()):
                self.reject(self._file(record), line, record.name, code, message)

    def _file(self, record: RecordType) -> str:
        return self.file_names.get(record.name, record.name)

    def _select_lines(self, sql: str, params=()) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [r[0] for r in cursor.fetchall()]

    def _duplicates(self, record: RecordType) -> None:
        if self.kind == ImportKind.DIFF:
            # 異動 in sequence: the last row for a key is the state after the file.
            t = _stg(record.name)
            cond = " AND ".join(f"s2.{k} = {t}.{k}" for k in record.key)
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {t} WHERE EXISTS "
                               f"(SELECT 1 FROM {t} s2 WHERE {cond} AND s2._line > {t}._line)")
            return
        t = _stg(record.name)
        keys = ", ".join(record.key)
        on = " AND ".join(f"s.{k} = d.{k}" for k in record.key)
        if record.name == "resident":
            two = self._select_lines(
                f"SELECT s._line FROM {t} s JOIN (SELECT {keys} FROM {t} GROUP BY {keys} "
                f"HAVING COUNT(DISTINCT household_number) > 1) d ON {on} ORDER BY s._line")
            self._mark(record, two, "two_households", _("同じ人が二つ以上の世帯に記録されています。"))
        lines = self._select_lines(f"SELECT s._line FROM {t} s JOIN (SELECT {keys} FROM {t} GROUP BY {keys} "
                                   f"HAVING COUNT(*) > 1) d ON {on} ORDER BY s._line")
        self._mark(record, lines, "duplicate_key", _("同じキー({key})の行が複数あります。").format(key=keys))

    def _household_heads(self) -> None:
        lines = self._select_lines(
            f"SELECT h._line FROM {_stg('household')} h WHERE h._ok = 1 "
            f"AND EXISTS (SELECT 1 FROM {_stg('resident')} r WHERE r.household_number = h.household_number "
            f"AND r._ok = 1 AND r.removal_reason IS NULL) "
            f"AND NOT EXISTS (SELECT 1 FROM {_stg('resident')} r WHERE r.household_number = h.household_number "
            f"AND r._ok = 1 AND r.removal_reason IS NULL AND r.relationship = %s) ORDER BY h._line", [HEAD])
        self._mark(RECORDS["household"], lines, "household_without_head", _("世帯主のいない世帯です。"))

    def _references(self, record: RecordType, ref) -> None:
        parent = RECORDS[ref.record]
        t = _stg(record.name)
        on_stage = " AND ".join(f"p.{pk} = s.{c}" for pk, c in zip(parent.key, ref.columns, strict=True))
        on_table = " AND ".join(f"p.{pk} = s.{c}" for pk, c in zip(parent.key, ref.columns, strict=True))
        exists = []
        if ref.record in self.staging:
            exists.append(f"EXISTS (SELECT 1 FROM {_stg(ref.record)} p WHERE p._ok = 1 AND {on_stage})")
        if ref.record not in self.staging or self.kind == ImportKind.DIFF:
            exists.append(f"EXISTS (SELECT 1 FROM {parent.model._meta.db_table} p "
                          f"WHERE p.municipality_id = %s AND {on_table})")
        optional = f"s.{ref.columns[0]} IS NOT NULL AND " if ref.optional else ""
        params = [self.municipality.pk] * sum("%s" in e for e in exists)
        lines = self._select_lines(f"SELECT s._line FROM {t} s WHERE s._ok = 1 AND s._op = 'U' AND {optional}"
                                   f"NOT ({' OR '.join(exists)}) ORDER BY s._line", params)
        self._mark(record, lines, f"unknown_{ref.record}",
                   _("参照先の{label}が副本にもファイルにもありません。").format(label=parent.label))

    def _koseki_heads(self) -> None:
        t = _stg("koseki_member")
        table = RECORDS["koseki_member"].model._meta.db_table
        koseki = RECORDS["koseki"].model._meta.db_table
        lines = self._select_lines(
            f"SELECT s._line FROM {t} s WHERE s._ok = 1 AND s._op = 'U' AND NOT EXISTS (SELECT 1 FROM {t} h "
            f"WHERE h.honseki = s.honseki AND h.head_name = s.head_name AND h.position = '1' AND h._ok = 1) "
            f"AND NOT EXISTS (SELECT 1 FROM {table} m JOIN {koseki} k ON k.id = m.koseki_id "
            f"WHERE k.municipality_id = %s AND k.honseki = s.honseki AND k.head_name = s.head_name "
            f"AND m.position = 1) ORDER BY s._line", [self.municipality.pk])
        self._mark(RECORDS["koseki_member"], lines, "koseki_without_head",
                   _("筆頭者(順位1)の記録がない戸籍の記録事項です。"))

    # -- applying --

    def _resolved(self, record: RecordType, outer: bool = False, keys_only: bool = False) -> tuple[str, list, dict]:
        """`FROM staging s JOIN parents`, its params, and each model key column as an expression."""
        sql, params = f"{_stg(record.name)} s", []
        exprs = {}
        for i, ref in enumerate(record.refs):
            if keys_only and ref.target not in record.conflict:
                continue
            parent = RECORDS[ref.record]
            on = " AND ".join(f"p{i}.{pk} = s.{c}" for pk, c in zip(parent.key, ref.columns, strict=True))
            join = "LEFT JOIN" if (outer or ref.optional) else "JOIN"
            sql += f" {join} {parent.model._meta.db_table} p{i} ON p{i}.municipality_id = %s AND {on}"
            params.append(self.municipality.pk)
            exprs[ref.target] = f"p{i}.id"
        for c in record.columns:
            if c.db_column and c.db_column in record.conflict:
                exprs[c.db_column] = self.dialect.cast(f"s.{c.name}", c.kind)
        return sql, params, exprs

    def digest(self, record: RecordType) -> str:
        """The content digest of a staged row (computed while reading), as `record_hash` stores it."""
        return "s._hash"

    def _match(self, record: RecordType, exprs: dict, alias: str = "t") -> str:
        return " AND ".join([f"{alias}.municipality_id = %s"]
                            + [f"{alias}.{col} = {exprs[col]}" for col in record.conflict])

    def count(self, record: RecordType) -> None:
        table = record.model._meta.db_table
        src, params, exprs = self._resolved(record, outer=True)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT SUM(CASE WHEN t.id IS NULL THEN 1 ELSE 0 END), "
                f"SUM(CASE WHEN t.id IS NOT NULL AND t.record_hash <> {self.digest(record)} THEN 1 ELSE 0 END) "
                f"FROM {src} LEFT JOIN {table} t ON {self._match(record, exprs)} WHERE s._ok = 1 AND s._op = 'U'",
                [*params, self.municipality.pk])
            added, changed = cursor.fetchone()
        self.counts["added"] += added or 0
        self.counts["changed"] += changed or 0
        if self.kind == ImportKind.FULL and record.absent != "keep":
            removed = self._absent(record, count=True)
        elif self.kind == ImportKind.DIFF and record.absent == "delete":
            src2, params2, exprs2 = self._resolved(record)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT COUNT(*) FROM {src2} JOIN {table} t ON {self._match(record, exprs2)} "
                               f"WHERE s._ok = 1 AND s._op = 'D'", [*params2, self.municipality.pk])
                removed = cursor.fetchone()[0]
        else:
            removed = 0
        if record.name == "resident" and self.kind == ImportKind.DIFF:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT COUNT(*) FROM {_stg('resident')} s JOIN {table} t ON t.municipality_id = %s "
                               f"AND t.person_number = s.person_number WHERE s._ok = 1 "
                               f"AND s.removal_reason IS NOT NULL AND t.removal_reason = ''", [self.municipality.pk])
                removed = cursor.fetchone()[0]
        self.counts["removed"] += removed

    def _absent(self, record: RecordType, count: bool = False) -> int:
        table = record.model._meta.db_table
        src, params, exprs = self._resolved(record, outer=True, keys_only=True)
        # Every staged key counts as present, rejected rows included: a person whose row was
        # rejected keeps their previous record instead of being marked absent.
        cond = " AND ".join(f"t.{col} = {exprs[col]}" for col in record.conflict)
        where = f"t.municipality_id = %s AND NOT EXISTS (SELECT 1 FROM {src} WHERE {cond})"
        if record.absent == "remove":
            where += " AND t.removal_reason = ''"
        with connection.cursor() as cursor:
            if count:
                cursor.execute(f"SELECT COUNT(*) FROM {table} t WHERE {where}", [self.municipality.pk, *params])
                return cursor.fetchone()[0]
            if record.absent == "remove":
                cursor.execute(f"UPDATE {table} SET removal_reason = %s, removed_on = %s, record_changed_at = %s "
                               f"WHERE id IN (SELECT t.id FROM {table} t WHERE {where})",
                               [RemovalReason.ABSENT, connection.ops.adapt_datefield_value(self.header.as_of.date()),
                                connection.ops.adapt_datetimefield_value(self.started_at),
                                self.municipality.pk, *params])
            else:
                cursor.execute(f"DELETE FROM {table} WHERE id IN (SELECT t.id FROM {table} t WHERE {where})",
                               [self.municipality.pk, *params])
            return cursor.rowcount

    def upsert(self, record: RecordType) -> None:
        model = record.model
        table = model._meta.db_table
        src, params, exprs = self._resolved(record)
        columns, values, qparams = ["municipality_id"], ["%s"], [self.municipality.pk]
        for ref in record.refs:
            columns.append(ref.target)
            values.append(exprs[ref.target])
        for c in record.columns:
            if c.db_column is None:
                continue
            columns.append(c.db_column)
            kind = c.kind
            if kind == "computed":
                kind = "int" if isinstance(model._meta.get_field(c.db_column), models.IntegerField) else "text"
            expr = self.dialect.cast(f"s.{c.name}", kind)
            if c.kind.startswith("json"):
                expr = f"COALESCE({expr}, {self.dialect.cast(repr(_JSON_DEFAULTS[c.kind]), c.kind)})"
            elif kind == "int" and not c.required:
                expr = f"COALESCE({expr}, 0)"
            elif kind == "bool":
                expr = f"COALESCE({expr}, {'false' if self.dialect.postgres else '0'})"
            elif kind in ("text", "kana", "choice"):
                expr = f"COALESCE({expr}, '')"
            values.append(expr)
        columns.append("record_hash")
        values.append(self.digest(record))
        given = set(columns) | {"id"}
        for f in model._meta.concrete_fields:
            if f.column in given or f.null:
                continue
            columns.append(f.column)
            default = f.get_default()
            if isinstance(f, models.JSONField):
                values.append(self.dialect.cast("%s", "json"))
                qparams.append(json.dumps(default))
            else:
                values.append("%s")
                qparams.append(default)
        if "record_changed_at" in {f.column for f in model._meta.concrete_fields}:
            columns.append("record_changed_at")
            values.append("NULL")
        updates = [c for c in columns if c not in ("municipality_id", *record.conflict)
                   and c in {x.db_column for x in record.columns} | {r.target for r in record.refs} | {"record_hash"}]
        set_sql = ", ".join(f"{c} = excluded.{c}" for c in updates)
        uparams = []
        if "record_changed_at" in columns:
            set_sql += ", record_changed_at = %s"
            uparams.append(connection.ops.adapt_datetimefield_value(self.started_at))
        conflict = _conflict_columns(model, record.conflict)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {src} "
                f"WHERE s._ok = 1 AND s._op = 'U' ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {set_sql} "
                f"WHERE {table}.record_hash <> excluded.record_hash",
                [*qparams, *params, *uparams])
            if self.kind == ImportKind.DIFF and record.absent == "delete":
                src2, params2, exprs2 = self._resolved(record)
                cursor.execute(f"DELETE FROM {table} WHERE id IN (SELECT t.id FROM {src2} JOIN {table} t "
                               f"ON {self._match(record, exprs2)} WHERE s._ok = 1 AND s._op = 'D')",
                               [*params2, self.municipality.pk])
        if self.kind == ImportKind.FULL and record.absent != "keep":
            self._absent(record)

    def household_heads(self) -> None:
        """世帯主 of each household: the active member recorded as 世帯主 (a household whose head left
        has none until a 異動 names the new one, which a 異動 file must carry)."""
        household, resident = RECORDS["household"].model._meta.db_table, Resident._meta.db_table
        m = self.municipality.pk
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {household} SET head_id = r.id FROM {resident} r JOIN {_stg('resident')} s "
                           f"ON r.municipality_id = %s AND r.person_number = s.person_number "
                           f"WHERE s._ok = 1 AND s._op = 'U' AND s.relationship = %s AND s.removal_reason IS NULL "
                           f"AND {household}.id = r.household_id "
                           f"AND {self.dialect.distinct(f'{household}.head_id', 'r.id')}", [m, HEAD])
            # A head who left, stopped being 世帯主 or moved to another household is in the file.
            cursor.execute(f"UPDATE {household} SET head_id = NULL FROM {resident} r JOIN {_stg('resident')} s "
                           f"ON r.municipality_id = %s AND r.person_number = s.person_number "
                           f"WHERE {household}.head_id = r.id "
                           f"AND (r.removal_reason <> '' OR r.relationship <> %s OR r.household_id <> {household}.id)",
                           [m, HEAD])
            if self.kind == ImportKind.FULL:
                return  # every household with members was checked for its head while staging
            cursor.execute(f"SELECT COUNT(*) FROM {household} h WHERE h.municipality_id = %s AND h.head_id IS NULL "
                           f"AND h.id IN (SELECT r.household_id FROM {resident} r JOIN {_stg('resident')} s "
                           f"ON r.municipality_id = %s AND r.person_number = s.person_number) "
                           f"AND EXISTS (SELECT 1 FROM {resident} r WHERE r.household_id = h.id "
                           f"AND r.removal_reason = '')", [m, m])
            headless = cursor.fetchone()[0]
        if headless:
            raise ImportRefused("household_without_head", _(
                "取り込むと世帯主のいない世帯が{count}件できます(世帯主の異動が含まれていません)。").format(count=headless))

    def support_flags(self) -> None:
        """Keep Resident.support_measure in step with the active 支援措置 rows."""
        resident = Resident._meta.db_table
        measure = RECORDS["support_measure"].model._meta.db_table
        today = connection.ops.adapt_datefield_value(timezone.localdate())
        active = (f"EXISTS (SELECT 1 FROM {measure} m WHERE m.resident_id = {resident}.id AND m.starts_on <= %s "
                  f"AND (m.ends_on IS NULL OR m.ends_on >= %s))")
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {resident} SET support_measure = {active}, record_changed_at = %s "
                           f"WHERE municipality_id = %s AND support_measure <> {active}",
                           [today, today, connection.ops.adapt_datetimefield_value(self.started_at),
                            self.municipality.pk, today, today])

    def apply(self) -> ImportRun:
        with transaction.atomic():
            if self.dialect.postgres:
                # The bulk statements are planned once each: JIT compilation would cost more than it saves.
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL jit = off")
            state, _created = ReplicaState.objects.select_for_update().get_or_create(municipality=self.municipality)
            self.check_sequence(state)  # again, under the lock: another load may have won
            for name in ORDER:
                if name in self.staging:
                    self.count(RECORDS[name])
            self.guard_removals(state)
            self.clock = _phase("count", self.clock)
            if self.dry_run:
                return self.record(ImportState.DRY_RUN)
            run = self.record(ImportState.APPLIED)
            for name in ORDER:
                if name in self.staging:
                    self.upsert(RECORDS[name])
                    if self.dialect.postgres and self.counts["added"] > 10000:
                        with connection.cursor() as cursor:  # fresh statistics for the statements that follow
                            cursor.execute(f"ANALYZE {RECORDS[name].model._meta.db_table}")
                    self.clock = _phase(f"upsert {name}", self.clock)
                    if name == "resident":
                        self.household_heads()
                        self.clock = _phase("household heads", self.clock)
            if "support_measure" in self.staging:
                self.support_flags()
            self.gaiji_stage.apply(self)
            state.generation += 1
            state.current_import = run
            state.sequence = self.header.sequence
            state.data_as_of = self.header.as_of
            state.updated_at = timezone.now()
            state.save()
            run.generation = state.generation
            run.save(update_fields=["generation"])
            if self.counts["changed"] or self.counts["removed"] or "support_measure" in self.staging:
                municipality, changed_at = self.municipality, self.started_at
                transaction.on_commit(lambda: replica_changed.send(
                    sender=ImportRun, municipality=municipality, changed_at=changed_at))
        self.clock = _phase("commit", self.clock)
        return run

    def guard_removals(self, state: ReplicaState) -> None:
        if self.kind != ImportKind.FULL or "resident" not in self.staging or self.options.get("allow_mass_removal"):
            return
        active = Resident.objects.for_municipality(self.municipality).filter(removal_reason="").count()
        removed = self._absent(RECORDS["resident"], count=True)
        if active and removed * 100 > active * state.max_removed_percent:
            raise ImportRefused("too_many_removed", _(
                "全件ファイルにない住民が{removed}人({share:.1f}%)います。上限{limit}%を超えるため取り込みません"
                "(ファイルの欠落の可能性)。").format(removed=removed, share=removed * 100 / active,
                                                  limit=state.max_removed_percent))

    def record(self, state: str, refusal: ImportRefused | None = None) -> ImportRun:
        header = self.header
        return ImportRun.objects.create(
            municipality=self.municipality, kind=header.kind if header else "",
            format=self.fmt_name, file_names=", ".join(str(getattr(p, "name", p)).rsplit("/", 1)[-1]
                                                      for p in self.paths)[:500],
            sha256=self.sha256, sequence=header.sequence if header else None, state=state,
            started_at=self.started_at, finished_at=timezone.now(), rows_read=self.rows_read,
            rejected=len(self.rejections), rejections=[r.as_dict() for r in self.rejections[:MAX_STORED_REJECTIONS]],
            unmapped_characters=self.unmapped, refusal_code=refusal.code if refusal else "",
            refusal=refusal.message[:500] if refusal else "", operator=self.operator,
            **({} if state == ImportState.REFUSED else self.counts))

    def cleanup(self) -> None:
        if self.dialect.postgres:
            with connection.cursor() as cursor:
                cursor.execute("RESET jit")
        for stage in self.staging.values():
            stage.drop()
        if hasattr(self, "gaiji_stage"):
            self.gaiji_stage.drop()


class _AlreadyApplied(Exception):
    def __init__(self, run: ImportRun):
        self.run = run


class _GaijiStaging:
    """Unmapped 外字 met while reading, replaced per record in the apply transaction."""

    def __init__(self, dialect):
        self.rows: list = []

    def add(self, record: RecordType, staged: list, field: str, code: str, ch: str) -> None:
        values = dict(zip([c.name for c in record.columns], staged, strict=False))
        key = [values[k] for k in record.key]
        stops = {"person_number": values.get("person_number", ""), "household_number": "", "koseki_key": ""}
        if record.stops == "household":
            stops["household_number"] = values["household_number"]
        elif record.stops == "koseki":
            stops["koseki_key"] = f"{values['honseki']}\x1f{values['head_name']}"
        self.rows.append((record.name, key, field, code, ch, stops))

    def flush(self) -> None:
        pass

    def apply(self, load: "_Load") -> None:
        objects = UnmappedCharacter.objects.filter(municipality=load.municipality)
        for name, stage in load.staging.items():
            record = RECORDS[name]
            if load.kind == ImportKind.FULL:
                objects.filter(record=name).delete()
            else:
                keys = set()
                with connection.cursor() as cursor:
                    cursor.execute(f"SELECT {', '.join(record.key)} FROM {stage.table} WHERE _ok = 1")
                    keys = {tuple(r) for r in cursor.fetchall()}
                stale = [u.pk for u in objects.filter(record=name) if tuple(u.record_key) in keys]
                UnmappedCharacter.objects.filter(pk__in=stale).delete()
        UnmappedCharacter.objects.bulk_create([
            UnmappedCharacter(municipality=load.municipality, record=name, record_key=key, field=field,
                              vendor_code=code, character=ch, **stops)
            for name, key, field, code, ch, stops in self.rows], batch_size=1000)

    def drop(self) -> None:
        self.rows = []


def _group(problems: list) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for line, code in problems:
        grouped.setdefault(code, []).append(line)
    return grouped


def _conflict_columns(model, conflict: tuple[str, ...]) -> list[str]:
    """The unique constraint an upsert meets: the record's key columns, with municipality_id when
    the model's constraint includes it."""
    wanted = set(conflict)
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.condition is None:
            columns = {model._meta.get_field(f).column for f in constraint.fields}
            if columns == wanted | {"municipality_id"}:
                return ["municipality_id", *conflict]
            if columns == wanted:
                return list(conflict)
    for f in model._meta.concrete_fields:
        if f.unique and not f.primary_key and {f.column} == wanted:
            return [f.column]
    raise LookupError(f"No unique constraint on {model.__name__} over {conflict}")


def load(municipality, paths: list, *, format_name: str = "standard", options: dict | None = None,
         dry_run: bool = False, max_rejected: int = 0, operator: str = "", progress=None) -> ImportRun:
    """Load a linkage file set into `municipality`'s replica; returns the recorded `ImportRun`.

    A refused set is recorded with its reason and changes nothing. A 異動 file that was already
    applied (same sequence, same content) returns that earlier run and changes nothing."""
    job = _Load(municipality, format_name, list(paths), options or {}, dry_run, max_rejected, operator, progress)
    try:
        try:
            job.read()
            job.validate()
            job.check_rows()
            job.clock = _phase("checks across rows", job.clock)
            limit = 0 if job.kind == ImportKind.DIFF else job.max_rejected
            if len(job.rejections) > limit:
                raise ImportRefused("rejected_rows", _(
                    "{count}行を取り込めませんでした(許容{limit}行)。副本は変更していません。").format(
                    count=len(job.rejections), limit=limit))
            return job.apply()
        except _AlreadyApplied as done:
            done.run.repeated = True
            return done.run
        except ImportRefused as refusal:
            return job.record(ImportState.REFUSED, refusal)
        except Exception as exc:
            # No message from the database: it may quote the values of a row.
            job.record(ImportState.FAILED, ImportRefused("failed", f"{type(exc).__name__}"))
            raise
    finally:
        job.cleanup()
