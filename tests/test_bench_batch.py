"""The batch benchmark works end to end (a short run; the README's figure comes from the
full run, `python bench/batch.py`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.serial]


def test_the_batch_run_reports_its_figures():
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
    # The figures are the batch's own and agree with each other. How parallel the run was
    # depends on the machine's load: the benchmark prints it (the README's figure comes from
    # the full run); a test cannot hold it to a bound without timing the machine.
    wall = float(lines["batch wall time (request to answer)"].removesuffix(" s"))
    busy = float(lines["sum of the jobs processing times"].removesuffix(" s"))
    mean = float(lines["mean processing time per job"].removesuffix(" s"))
    parallelism = float(lines["parallelism (sum / wall)"].removesuffix("x"))
    assert wall > 0 and busy > 0
    assert abs(mean * 4 - busy) <= 0.01 * 4
    assert abs(parallelism - busy / wall) <= 0.01 + 0.01 * busy / wall
