"""The web tier never imports torch (nor onnxruntime, OpenCV or the face detector, which only
face enhancement on the workers uses): the API, web app, admin and task modules load without them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PROBE = """
import sys, django
django.setup()
from django.urls import resolve
import upscaler_platform.urls, jobs.api.views, jobs.tasks, jobs.submission, jobs.webhooks
import jobs.api.authentication, jobs.web.views.playground, jobs.web.views.jobs
import jobs.operators.admin, jobs.model_catalog, jobs.model_scan, jobs.management.commands.rescan_models
resolve('/api/v1/precise-upscale')
resolve('/api/v1/models')
resolve('/playground')
heavy = sorted(
    m for m in ('torch', 'torchvision', 'spandrel', 'onnxruntime', 'cv2', 'retinaface') if m in sys.modules
)
print(','.join(heavy) or 'clean')
"""


def test_it_serves_the_api_without_importing_torch():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "clean"
