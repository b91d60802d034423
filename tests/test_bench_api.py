"""The API load run works end to end (a short run; the figures come from `make bench`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.serial]


def test_the_load_run_reports_figures_and_no_errors():
    out = subprocess.run(
        [sys.executable, "bench/api.py", "--duration", "4", "--readers", "50"]
        + ["--held-waits", "10", "--poll-duration", "3", "--pollers", "5"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = {
        line.split()[0]: line.split() for line in out.stdout.splitlines() if line.startswith(("status", "submit "))
    }
    assert float(lines["status"][2]) > 0 and lines["status"][5] == "0"
    assert int(lines["submit"][1]) > 0 and lines["submit"][5] == "0"
    held = next(line for line in out.stdout.splitlines() if line.startswith("Status polls"))
    assert "(10 held the whole wait" in held, out.stdout
    rows = [line.split() for line in out.stdout.splitlines() if line.startswith(("no held waits", "10 held waits"))]
    assert len(rows) == 2 and all(float(row[4]) > 0 and row[-1] == "0" for row in rows), out.stdout
