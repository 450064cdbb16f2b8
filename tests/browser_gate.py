"""Browser tests (marker `browser`) must run: a missing Chromium or axe-core makes them fail with a line
that says what to install, never a silent skip. `MADOGUCHI_SKIP_BROWSER=1` skips them on purpose.
At the end of the run the terminal summary says how many browser tests ran (on the xdist controller,
counted from the workers' reports)."""

import os
import shutil
from pathlib import Path

import pytest

OPT_OUT = "MADOGUCHI_SKIP_BROWSER"
MARKER = "browser"
AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"


def opted_out() -> bool:
    return os.environ.get(OPT_OUT, "") not in ("", "0")


def missing_tools(which=shutil.which, axe: Path = AXE) -> list[str]:
    """What a browser test needs and this machine lacks, each with how to get it."""
    missing = []
    if which("chromium") is None:
        missing.append("Chromium (Debian package chromium)")
    if not axe.is_file():
        missing.append(f"axe-core ({axe}, installed by npm ci in make install)")
    return missing


def instructions(what: str) -> str:
    return (f"browser test cannot run: {what}. `make test` installs what is missing (as root; otherwise it "
            f"prints the command to run); set {OPT_OUT}=1 to skip browser tests on purpose.")


class BrowserGate:
    def __init__(self, config: pytest.Config, which=shutil.which, axe: Path = AXE):
        self.config = config
        self.which = which
        self.axe = axe
        self.ran = {"passed": 0, "failed": 0}
        self.not_run = 0

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        if opted_out():
            skip = pytest.mark.skip(reason=f"{OPT_OUT} is set")
            for item in items:
                if item.get_closest_marker(MARKER):
                    item.add_marker(skip)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if item.get_closest_marker(MARKER) and not opted_out():
            missing = missing_tools(self.which, self.axe)
            if missing:
                pytest.fail(instructions("missing " + ", ".join(missing)), pytrace=False)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        # A skip inside a browser test or its own skipif markers is a failure unless opted out.
        if (report.skipped and item.get_closest_marker(MARKER) and not opted_out()
                and not hasattr(report, "wasxfail")):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            reason = reason.removeprefix("Skipped: ")
            report.outcome = "failed"
            report.longrepr = instructions(f"it was skipped ({reason})")
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if MARKER not in report.keywords:
            return
        if report.when == "call":
            self.ran["passed" if report.passed else "failed"] += 1
        elif report.when == "setup" and not report.passed:
            self.not_run += 1

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if hasattr(self.config, "workerinput"):
            return  # an xdist worker: the controller reports
        ran = sum(self.ran.values())
        line = f"browser tests ran: {ran} (passed {self.ran['passed']}, failed {self.ran['failed']})"
        if self.not_run:
            line += f"; did not run: {self.not_run}" + (f" ({OPT_OUT} is set)" if opted_out() else "")
        terminalreporter.write_line(line, bold=True, red=bool(self.ran["failed"] or self.not_run and not opted_out()))
