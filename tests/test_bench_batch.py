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
    lines = out.stdout.splitlines()[1:]

    def figure(label: str) -> str:
        return next(line[len(label) :].strip() for line in lines if line.startswith(label))

    assert figure("completed").startswith("4 of 4")
    # The figures are the batch's own and agree with each other. How parallel the run was
    # depends on the machine's load: the benchmark prints it (the README's figure comes from
    # the full run); a test cannot hold it to a bound without timing the machine.
    wall = float(figure("batch wall time (request to answer)").removesuffix(" s"))
    busy = float(figure("sum of the jobs processing times").removesuffix(" s"))
    mean = float(figure("mean processing time per job").removesuffix(" s"))
    parallelism = float(figure("parallelism (sum / wall)").removesuffix("x"))
    assert wall > 0 and busy > 0
    # Printed rounded (seconds to 0.01, the mean to 0.001, the ratio to 0.01): equal within that.
    assert abs(mean * 4 - busy) <= 0.005 + 4 * 0.0005 + 1e-9
    low, high = max(busy - 0.005, 0) / (wall + 0.005), (busy + 0.005) / max(wall - 0.005, 1e-9)
    assert low - 0.005 - 1e-9 <= parallelism <= high + 0.005 + 1e-9
