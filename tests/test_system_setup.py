"""Set-up that tells the truth: a missing certificate font stops every management command with one line
(the font path and the Debian package), and browser tests fail rather than skip when Chromium or
axe-core is missing, unless MADOGUCHI_SKIP_BROWSER=1 says so on purpose."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.conf import settings

from madoguchi.core.checks import certificate_font

ROOT = Path(__file__).resolve().parent.parent


# --- the certificate font system check ------------------------------------------------------------

def test_installed_font_passes():
    assert Path(settings.CERTIFICATE_FONT).is_file()
    assert certificate_font() == []


def test_missing_font_is_one_error_naming_the_path_and_the_package(settings, tmp_path):
    settings.CERTIFICATE_FONT = str(tmp_path / "ipamj" / "ipamjm.ttf")
    errors = certificate_font()
    assert len(errors) == 1
    assert errors[0].id == "madoguchi.E001"
    assert errors[0].is_serious()
    assert settings.CERTIFICATE_FONT in errors[0].msg
    assert "fonts-ipamj-mincho" in errors[0].msg
    assert "\n" not in errors[0].msg


@pytest.mark.parametrize("content", [b"", b"<html>not found</html>", b"\x00\x01\x00"])
def test_a_file_that_is_not_a_font_is_an_error(settings, tmp_path, content):
    path = tmp_path / "ipamjm.ttf"
    path.write_bytes(content)
    settings.CERTIFICATE_FONT = str(path)
    [error] = certificate_font()
    assert error.id == "madoguchi.E001" and "not a TrueType/OpenType font" in error.msg


def test_a_directory_is_not_a_font(settings, tmp_path):
    settings.CERTIFICATE_FONT = str(tmp_path)
    [error] = certificate_font()
    assert error.id == "madoguchi.E001" and str(tmp_path) in error.msg


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_", "MADOGUCHI_"))}
    env.update(PYTHONPATH=str(ROOT), **extra)
    return env


@pytest.mark.parametrize("command", [
    ["seed_demo"], ["migrate", "--noinput"], ["runserver", "--noreload", "127.0.0.1:9"]])
def test_commands_stop_with_the_font_line_not_a_traceback(tmp_path, command):
    font = tmp_path / "no-such-font.ttf"
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *command], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL,
        env=clean_env(DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                      MADOGUCHI_CERTIFICATE_FONT=str(font)))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if "madoguchi.E001" in line]
    assert str(font) in line and "fonts-ipamj-mincho" in line


# --- browser test gating ---------------------------------------------------------------------------

CONFTEST = """
import os
from pathlib import Path

from tests.browser_gate import BrowserGate

def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives a browser")
    present = os.environ["GATE_TOOLS"] == "present"
    axe = Path(__file__).parent / "axe.min.js"
    if present:
        axe.write_text("// axe-core")
    config.pluginmanager.register(
        BrowserGate(config, which=lambda name: "/usr/bin/" + name if present else None, axe=axe), "gate")
"""
TESTS = """
import pytest

@pytest.mark.browser
@pytest.mark.parametrize("n", range(3))
def test_journey(n):
    pass

@pytest.mark.browser
@pytest.mark.skipif(True, reason="needs axe")
def test_axe():
    pass

def test_plain():
    pass
"""


def run_gated(tmp_path: Path, tools: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (tmp_path / "test_gated.py").write_text(textwrap.dedent(TESTS))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:django", "-p", "no:cacheprovider", "-rfs", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env=clean_env(GATE_TOOLS=tools, **env))


def test_browser_tests_fail_when_chromium_and_axe_are_missing(tmp_path):
    result = run_gated(tmp_path, "absent", "-n", "0")
    assert result.returncode == 1, result.stdout
    assert "1 passed, 4 errors" in result.stdout
    assert "missing Chromium (Debian package chromium), axe-core" in result.stdout
    assert "browser tests ran: 0 (passed 0, failed 0); did not run: 4" in result.stdout


def test_a_skipped_browser_test_is_a_failure(tmp_path):
    result = run_gated(tmp_path, "present", "-n", "0")
    assert result.returncode == 1, result.stdout
    assert "4 passed, 1 error" in result.stdout
    assert "it was skipped (needs axe)" in result.stdout
    assert "browser tests ran: 0" not in result.stdout


def test_opting_out_skips_browser_tests_and_says_so(tmp_path):
    result = run_gated(tmp_path, "absent", "-n", "0", MADOGUCHI_SKIP_BROWSER="1")
    assert result.returncode == 0, result.stdout
    assert "1 passed, 4 skipped" in result.stdout
    assert "browser tests ran: 0 (passed 0, failed 0); did not run: 4 (MADOGUCHI_SKIP_BROWSER is set)" in result.stdout


def test_browser_tests_are_counted_across_xdist_workers(tmp_path):
    result = run_gated(tmp_path, "present", "-n", "2")
    assert result.returncode == 1, result.stdout
    assert "4 passed, 1 error" in result.stdout
    # The skipif'd test failed at setup: it did not run; the three journeys ran on the workers.
    assert "browser tests ran: 3 (passed 3, failed 0); did not run: 1" in result.stdout
