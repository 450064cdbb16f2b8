"""`manage.py replica import|status|verify|gaiji`: the operator's side of the replica (副本).

    replica import --municipality 139998 [--format standard|mapped --mapping vendor.toml]
                   [--dry-run] [--max-rejected N] [--allow-mass-removal] PATH...
    replica status --municipality 139998
    replica verify --municipality 139998
    replica gaiji  --municipality 139998 [--map F040=𠮷 ...]

Output names files, lines, fields and reason codes, never the values of a row (no personal data
in logs). A refused or failed import exits with status 1.
"""

import sys

from django.core.management.base import BaseCommand, CommandError

from madoguchi.registry.characters import map_characters
from madoguchi.registry.imports.loader import load
from madoguchi.registry.imports.registry import register
from madoguchi.registry.models import ImportRun, ImportState, UnmappedCharacter
from madoguchi.registry.replica import freshness, verify
from madoguchi.tenancy.models import Municipality


class Command(BaseCommand):
    help = "Import linkage files into a municipality's replica, and report on it."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="Load a full or differential file set.")
        imp.add_argument("paths", nargs="+")
        imp.add_argument("--format", default="standard")
        imp.add_argument("--mapping", help="The vendor mapping file (format 'mapped').")
        imp.add_argument("--dry-run", action="store_true", help="Check and count; change nothing.")
        imp.add_argument("--max-rejected", type=int, default=0,
                         help="Apply a full load despite up to N rejected rows (rejected people keep their "
                              "previous record). 異動 files are never applied with rejected rows.")
        imp.add_argument("--allow-mass-removal", action="store_true",
                         help="Apply a full load that marks more residents 消除 than the municipality's limit.")
        imp.add_argument("--no-progress", action="store_true")
        for name in ("status", "verify", "gaiji"):
            p = sub.add_parser(name)
            if name == "gaiji":
                p.add_argument("--map", action="append", default=[], metavar="CODE=CHARACTER")
        for p in sub.choices.values():
            p.add_argument("--municipality", required=True, help="地方公共団体コード")

    def handle(self, *args, **options):
        municipality = Municipality.objects.filter(code=options["municipality"]).first()
        if municipality is None:
            raise CommandError(f"No municipality with code {options['municipality']}.")
        getattr(self, f"do_{options['action']}")(municipality, options)

    def do_import(self, municipality, options):
        progress = None if options["no_progress"] else self._progress
        run = load(municipality, options["paths"], format_name=options["format"],
                   options={"mapping": options["mapping"], "allow_mass_removal": options["allow_mass_removal"]},
                   dry_run=options["dry_run"], max_rejected=options["max_rejected"],
                   operator="manage.py replica", progress=progress)
        if progress:
            sys.stderr.write("\n")
        out = self.stdout.write
        if getattr(run, "repeated", False):
            out(f"Already applied as import #{run.pk} (sequence {run.sequence}, same content): nothing changed.")
            return
        out(f"Import #{run.pk}: {run.get_state_display()} ({run.state}) kind={run.kind} sequence={run.sequence} "
            f"rows={run.rows_read} added={run.added} changed={run.changed} removed={run.removed} "
            f"rejected={run.rejected}" + (f" generation={run.generation}" if run.generation else "")
            + f" in {(run.finished_at - run.started_at).total_seconds():.1f} s")
        for r in run.rejections:
            out(f"  rejected {r['file']}:{r['line']} [{r['record']}] {r['code']}: {r['message']}")
        if run.rejected > len(run.rejections):
            out(f"  ... and {run.rejected - len(run.rejections)} more rejected rows")
        for code, count in sorted(run.unmapped_characters.items()):
            out(f"  unmapped 外字 {code}: {count} (issuance stopped for the people concerned until mapped)")
        if run.state in (ImportState.REFUSED, ImportState.FAILED):
            raise CommandError(f"refused ({run.refusal_code}): {run.refusal}")

    def _progress(self, done: int, total: int) -> None:
        width = 40
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {100 * done // max(total, 1):3d}%")
        sys.stderr.flush()

    def do_status(self, municipality, options):
        fresh = freshness(municipality)
        out = self.stdout.write
        state = fresh.state
        if state is None or state.data_as_of is None:
            out(f"{municipality}: no replica loaded yet.")
        else:
            out(f"{municipality}: generation {state.generation}, sequence {state.sequence}, "
                f"副本の更新日時 {state.data_as_of.isoformat()}, applied {state.updated_at.isoformat()}"
                + (f" — STALE (limit {state.max_age_hours} h)" if fresh.stale else ""))
        for run in ImportRun.objects.for_municipality(municipality)[:10]:
            out(f"  #{run.pk} {run.started_at:%Y-%m-%d %H:%M} {run.kind} seq={run.sequence} {run.state} "
                f"+{run.added} ~{run.changed} -{run.removed} rejected={run.rejected} {run.refusal_code}")
        out(f"Import formats: {', '.join(name for name, _cls in register)}")

    def do_verify(self, municipality, options):
        findings = verify(municipality)
        for code, count, message in findings:
            self.stdout.write(f"{code}: {count} — {message}")
        if findings:
            raise CommandError(f"{len(findings)} finding(s).")
        self.stdout.write("The replica is consistent.")

    def do_gaiji(self, municipality, options):
        mappings = {}
        for item in options["map"]:
            code, sep, character = item.partition("=")
            if not sep or not code or not 1 <= len(character) <= 2:
                raise CommandError(f"--map takes CODE=CHARACTER (a character and an optional IVS): {item!r}")
            mappings[code] = character
        if mappings:
            self.stdout.write(f"Mapped {len(mappings)} code(s); {map_characters(municipality, mappings)} row(s) "
                              "rewritten.")
        pending = {}
        for code in UnmappedCharacter.objects.for_municipality(municipality).values_list("vendor_code", flat=True):
            pending[code] = pending.get(code, 0) + 1
        for code, count in sorted(pending.items()):
            self.stdout.write(f"unmapped {code}: {count}")
