"""Writing files in the standard layout: for the demo generator, the benchmarks and tests."""

import csv
import datetime
from collections.abc import Iterable
from pathlib import Path

from ...base import RECORDS
from .format import MAGIC, TRAILER


def write_standard(path: Path, record: str, rows: Iterable[dict], *, municipality_code: str, kind: str = "full",
                   sequence: int = 1, as_of: datetime.datetime | None = None,
                   columns: list[str] | None = None, trailer: bool = True) -> int:
    """Write `rows` (dicts of canonical strings) to `path`; returns the number of rows."""
    as_of = as_of or datetime.datetime(2026, 4, 1, 6, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=9)))
    names = columns or [c.name for c in RECORDS[record].columns if c.kind != "computed"]
    if kind == "diff" and columns is None:
        names = [*names, "_op", "_change"]
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow([MAGIC, "1", record, kind, municipality_code, str(sequence), as_of.isoformat()])
        out.writerow(names)
        for row in rows:
            out.writerow([row.get(n, "") for n in names])
            count += 1
        if trailer:
            out.writerow([TRAILER, str(count)])
    return count
