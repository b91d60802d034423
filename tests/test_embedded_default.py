"""`make run` with no environment at all: SQLite, local files, the filesystem broker, web and
worker as separate processes; a client over HTTP runs a job to the end."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests import images
from tests.flows import Client, download_image

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

# Variables that would move the embedded default onto external services.
EXTERNAL = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "STORAGE_BACKEND",
    "PUBLIC_BASE_URL",
    "DJANGO_SETTINGS_MODULE",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_run_serves_a_job_end_to_end(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in EXTERNAL}
    env.update(UPSCALER_DATA_DIR=str(tmp_path / "var"), PORT=str(port), PYTHONUNBUFFERED="1")
    env["VENV"] = str(Path(sys.executable).parent.parent)
    log = open(tmp_path / "run.log", "wb")
    proc = subprocess.Popen(
        ["make", "run", f"VENV={env['VENV']}"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 180
        while True:
            try:
                if requests.get(f"{base}/api/v1/schema", timeout=20).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            assert time.time() < deadline, (tmp_path / "run.log").read_text()[-3000:]
            time.sleep(0.5)
        assert (tmp_path / "var" / "db.sqlite3").exists()

        created = subprocess.run(
            [sys.executable, "manage.py", "create_account", "local", "--credits", "20"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip().splitlines()[-1]

        client = Client(base, key)
        data = base64.b64encode(images.png(24, 20)).decode()
        r = client.submit("precise-upscale", {"input": {"imageBase64": data, "upscaleFactor": 3}})
        assert r.status_code == 200, r.text
        final, _ = client.wait(r.json()["id"], timeout=180)
        assert final["status"] == "SUCCESS", (final, (tmp_path / "run.log").read_text()[-3000:])
        assert final["imageUrl"].startswith(base)
        png, _ = download_image(final["imageUrl"])
        jpg, _ = download_image(final["compressedImageUrl"])
        assert png.size == jpg.size == (72, 60)
        account = client.session.get(f"{base}/api/v1/account", timeout=10).json()
        assert account["balance"] == 19
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
