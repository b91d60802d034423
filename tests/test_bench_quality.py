"""The quality benchmark runs end to end (one tiny crop; the figures come from a full run)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

CELL = re.compile(r"(\d+\.\d\d) / (\d\.\d\d\d)")


def test_the_quality_run_scores_each_row_against_the_original():
    out = subprocess.run(
        [sys.executable, "bench/quality.py", "--networks", "realesr-animevideov3", "--photos", "astronaut"]
        + ["--crop", "32"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    rows = {line.split("|")[1].strip(): CELL.findall(line) for line in out.stdout.splitlines() if line.startswith("| ")}
    for label in (
        "lanczos (baseline)",
        "precise / realesr-animevideov3",
        "dynamic / realesr-animevideov3",
        "ximilar classic, high_fidelity",
        "ximilar classic (default: artifact_removal, tune_colors)",
        "ximilar gan, artifact_removal, tune_colors",
    ):
        cells = rows[label]
        assert len(cells) == 4, (label, cells)  # 2x, 4x, 2x JPEG, 4x JPEG
        for psnr, ssim in cells:
            assert 10 < float(psnr) < 60 and 0 < float(ssim) <= 1, (label, cells)
    restore = [line for line in out.stdout.splitlines() if line.startswith("| restore / realesr-animevideov3")]
    assert len(restore) == 1
