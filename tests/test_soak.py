"""A short run of the soak harness (madoguchi/bench/soak.py): 15 s of the mixed load with one LINE
worker SIGKILLed, then nothing lost or duplicated.

It runs the production shape in processes of its own (a scratch PostgreSQL database, Redis with
django-tasks-rq, gunicorn, `manage.py workers`, the scheduler), so it runs in the PostgreSQL pass of
the suite only, and only when Redis answers on 127.0.0.1:6379. The worker is killed while it runs a
job; the warm line worker's lease lets the job go after 15 s, yet the drain may still take most of
the time: 4 minutes 15 s on the shared development machine, test database creation included.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from madoguchi.bench import _stack

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def stack_available():
    if connection.vendor != "postgresql":
        pytest.skip("the soak runs in the PostgreSQL pass only (DATABASE_URL=postgres://...)")
    reason = _stack.unavailable()
    if reason:
        pytest.skip(f"the soak needs PostgreSQL and Redis on 127.0.0.1: {reason}")


def test_a_short_soak_with_a_worker_kill_loses_and_duplicates_nothing(stack_available):
    env = {key: value for key, value in os.environ.items()
           if key not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "MADOGUCHI_TASK_BACKEND", "MADOGUCHI_TESTING"}}
    env.update(SOAK_SECONDS="15", SOAK_FAULTS="0.3:worker:line", SOAK_DRAIN_SECONDS="150",
               SOAK_RATE_PAGES="2", SOAK_RATE_STATUS="0.5", SOAK_RATE_LINE="4", SOAK_RATE_PAYMENTS="0.5",
               SOAK_RATE_CLERK="0.5", PYTHONPATH=str(ROOT))
    completed = subprocess.run([sys.executable, "-m", "madoguchi.bench.soak"], env=env, cwd=ROOT,
                               capture_output=True, text=True, timeout=400)
    output = completed.stdout + completed.stderr
    assert "SIGKILL worker line" in output, output
    checked = re.search(r"checked: (\d+) LINE events", output)
    assert checked and int(checked.group(1)) > 0, output
    assert "BENCH soak_lost_or_duplicated 0 items" in completed.stdout, output
    assert completed.returncode == 0, output
