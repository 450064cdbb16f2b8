"""The demo stays out of production: nothing imports it, and production settings do not install it."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "madoguchi"
# Development tools that seed data the way the demo does; never loaded by the web or worker processes.
DEVELOPMENT_TOOLS = {PACKAGE / "bench.py"}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_production_module_imports_the_demo():
    offenders = [str(path.relative_to(ROOT)) for path in PACKAGE.rglob("*.py")
                 if PACKAGE / "demo" not in path.parents and path not in DEVELOPMENT_TOOLS
                 and any(name == "madoguchi.demo" or name.startswith("madoguchi.demo.")
                         for name in imported_modules(path))]
    assert offenders == []


def installed_apps(**env) -> list[str]:
    environment = {k: v for k, v in os.environ.items()
                   if k not in {"DEBUG", "MADOGUCHI_TESTING", "MADOGUCHI_DEMO", "DJANGO_SETTINGS_MODULE"}}
    environment.update(MADOGUCHI_SECRET_KEY="x" * 50, **env)
    code = "import json; from madoguchi import settings; print(json.dumps(settings.INSTALLED_APPS))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("env,installed", [({}, False), ({"MADOGUCHI_DEMO": "1"}, True), ({"DEBUG": "1"}, True),
                                           ({"DEBUG": "1", "MADOGUCHI_DEMO": "0"}, False)])
def test_demo_is_installed_only_when_asked_for(env, installed):
    assert ("madoguchi.demo" in installed_apps(**env)) is installed


def test_the_test_settings_install_the_demo(settings):
    assert "madoguchi.demo" in settings.INSTALLED_APPS
