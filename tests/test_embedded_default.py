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


def test_make_run_serves_jobs_end_to_end(tmp_path, file_server, webhook_receiver):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in EXTERNAL}
    env.update(UPSCALER_DATA_DIR=str(tmp_path / "var"), PORT=str(port), PYTHONUNBUFFERED="1")
    # Development settings: the image host and webhook receiver of this test are on 127.0.0.1.
    env.update(UPSCALER_ALLOW_PRIVATE_URLS="true", PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
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
        cases = [
            (
                "precise-upscale",
                {"imageUrl": file_server.add("/a.png", images.png(24, 20)), "upscaleFactor": 3},
                (72, 60),
            ),
            ("dynamic-upscale", {"imageBase64": base64.b64encode(images.jpeg(20, 16)).decode()}, (40, 32)),
            ("restore", {"imageUrl": file_server.add("/b.jpg", images.jpeg(24, 20))}, (24, 20)),
        ]
        finals = {}
        for path, fields, size in cases:
            r = client.submit(path, {"webhook": webhook_receiver.url + "/hook", "input": fields})
            assert r.status_code == 200, r.text
            final, _ = client.wait(r.json()["id"], timeout=180)
            assert final["status"] == "SUCCESS", (final, (tmp_path / "run.log").read_text()[-3000:])
            assert final["imageUrl"].startswith(base)
            png, _ = download_image(final["imageUrl"])
            jpg, _ = download_image(final["compressedImageUrl"])
            assert png.format == "PNG" and jpg.format == "JPEG" and png.size == jpg.size == size
            finals[final["id"]] = final
        account = client.session.get(f"{base}/api/v1/account", timeout=10).json()
        assert account["balance"] == 20 - 1 - 1 - 8
        webhook_receiver.wait_for(3, timeout=60)
        assert {p["id"]: p for p in webhook_receiver.payloads()} == finals
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
