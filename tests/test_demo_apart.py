"""The demo stays out of production: production settings do not install it. That no production module
imports it is the `production` contract of .importlinter (lint-imports, run by .ci/run)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


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
