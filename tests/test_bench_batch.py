"""The batch benchmark works end to end (a short run; the README's figure comes from the
full run, `python bench/batch.py`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.serial]


def test_the_batch_run_reports_its_parallelism():
    out = subprocess.run(
        [sys.executable, "bench/batch.py", "--files", "4", "--workers", "2", "--size", "16"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = {line[:34].strip(): line[34:].strip() for line in out.stdout.splitlines()[1:]}
    assert lines["completed"].startswith("4 of 4")
    assert float(lines["parallelism (sum / wall)"].rstrip("x")) > 0
