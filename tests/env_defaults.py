"""Loaded as a pytest plugin (`-p tests.env_defaults`) before Django reads its settings:
the test environment, on the real local services (PostgreSQL, Redis)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_MODELS = REPO.parent / "shared" / "models"

# Under pytest-xdist each worker process loads this plugin again, with the controller's
# environment: pytest-django gives each worker its own test database (test_<name>_gwN), and
# the worker id below gives each its own Redis prefix (queues, counters) and data folder.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if WORKER and not os.environ.get("UPSCALER_TEST_WORKER_SET"):
    os.environ["UPSCALER_TEST_WORKER_SET"] = WORKER
    if "REDIS_KEY_PREFIX" in os.environ:
        os.environ["REDIS_KEY_PREFIX"] = f"{os.environ['REDIS_KEY_PREFIX']}{WORKER}:"
    os.environ.pop("UPSCALER_DATA_DIR", None)

# One database per run (pytest-django creates test_<name>), so runs side by side on one
# machine do not drop each other's test database.
os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/upscaler_{os.getpid()}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")
os.environ.setdefault("CELERY_BROKER_URL", os.environ["REDIS_URL"])
# Queues and counters of this run live under their own prefix in the shared Redis, so runs
# side by side neither steal each other's tasks nor share rate-limit windows.
os.environ.setdefault("REDIS_KEY_PREFIX", f"test{os.getpid()}:")
os.environ.setdefault("UPSCALER_MODEL_DIR", str(SHARED_MODELS))
# Workers started by tests do not scan the model directory unless a test asks (it loads
# every model file: seconds of CPU per worker start).
os.environ.setdefault("MODEL_SCAN_ON_WORKER_START", "false")
os.environ.setdefault("UPSCALER_DATA_DIR", tempfile.mkdtemp(prefix="upscaler-test-"))
# Test servers (images, webhook receivers) listen on 127.0.0.1; SSRF tests switch this off.
os.environ.setdefault("UPSCALER_ALLOW_PRIVATE_URLS", "true")
os.environ.setdefault("WEBHOOK_RETRY_BASE_SECONDS", "0.3")
os.environ.setdefault("SECRET_KEY", "test-secret-key")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "upscaler_platform.settings")
