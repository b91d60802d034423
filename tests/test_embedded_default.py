"""`make run` with no environment at all: SQLite, local files, the filesystem broker, web,
worker and beat as separate processes; a client over HTTP runs a job to the end, a killed
process is replaced by one, and nothing outlives the shutdown."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests import flows, images
from tests.conftest import answers
from tests.flows import Client, download_image
from tests.ports import free_port

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


def embedded_env(tmp_path: Path, port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in EXTERNAL}
    env.update(UPSCALER_DATA_DIR=str(tmp_path / "var"), PORT=str(port), PYTHONUNBUFFERED="1")
    return env


def test_make_run_serves_jobs_end_to_end(tmp_path, file_server, webhook_receiver):
    port = free_port()
    env = embedded_env(tmp_path, port)
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

        def up() -> bool:
            assert proc.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            return answers(f"{base}/api/v1/schema")

        wait_until(up, 180, "the embedded default to answer", tmp_path / "run.log")
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


def session_processes(session: int) -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line or the title the process gave itself) of each live
    process in the session: everything `make run` started, orphans included."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        state, ppid, _pgrp, sid = stat.rsplit(")", 1)[1].split()[:4]
        if int(sid) == session and state != "Z":
            found[int(entry.name)] = (int(ppid), cmdline.replace(b"\0", b" ").decode(errors="replace").strip())
    return found


def beats(procs: dict) -> list[int]:
    # Celery titles its beat "[celery beat]", standalone or inside a worker (--beat).
    return [pid for pid, (_, cmd) in procs.items() if cmd.startswith("[celery beat]")]


def workers(procs: dict, launcher: int, name: str = "") -> list[int]:
    """The launcher's Celery workers (main processes; their pool processes are their
    children), or the one whose hostname starts with `name` (inference@, io@)."""
    return [pid for pid, (ppid, cmd) in procs.items() if ppid == launcher and cmd.startswith(f"[celeryd: {name}")]


def wait_until(predicate, timeout: float, what: str, log: Path):
    """flows.wait_until, with the launcher's log on failure."""
    return flows.wait_until(
        predicate, timeout, what, interval=0.2, context=lambda: log.read_text(errors="replace")[-3000:]
    )


def test_a_killed_worker_leaves_one_beat_and_stopping_leaves_no_process(tmp_path):
    import setproctitle  # noqa: F401  (a dependency: without it Celery cannot title its processes)

    env = embedded_env(tmp_path, free_port())
    for command in (["migrate", "--noinput", "-v", "0"], ["createcachetable"]):
        done = subprocess.run([sys.executable, "manage.py", *command], cwd=REPO, env=env, timeout=300)
        assert done.returncode == 0
    log_path = tmp_path / "run.log"
    launcher = subprocess.Popen(
        [sys.executable, "manage.py", "run_embedded", "--web-workers", "1"],
        cwd=REPO,
        env=env,
        stdout=open(log_path, "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    session = launcher.pid

    def ready_count() -> int:
        return log_path.read_bytes().count(b" ready.")

    def started_count(name: str) -> int:
        """How many times the launcher started `name` (its lines begin with the name)."""
        return len(re.findall(rf"^{re.escape(name)} started \(pid ", log_path.read_text(errors="replace"), re.M))

    def started():
        return ready_count() >= 2 and beats(session_processes(session))

    try:
        wait_until(started, 180, "the two workers and beat", log_path)
        # Inference and the I/O worker (webhooks, maintenance) are separate processes.
        assert len(workers(session_processes(session), launcher.pid)) == 2
        [worker] = workers(session_processes(session), launcher.pid, "inference@")
        assert len(workers(session_processes(session), launcher.pid, "io@")) == 1
        os.kill(worker, signal.SIGKILL)  # the main process only, as an OOM kill or a crash would
        # The launcher restarted it, and the new worker reported ready: a beat inside a worker
        # (--beat) is started before the worker reports ready, so it would be there now.
        wait_until(lambda: started_count("worker") >= 2 and ready_count() >= 3, 180, "the worker's restart", log_path)
        procs = session_processes(session)
        assert worker not in procs
        assert len(beats(procs)) == 1, procs
        orphans = {pid: p for pid, p in procs.items() if pid != session and p[0] not in procs}
        assert orphans == {}, "processes the killed worker left behind"

        [beat] = beats(procs)
        os.kill(beat, signal.SIGKILL)
        # The launcher's whole answer to the exit: it logged the restart and started one beat,
        # which is the only one alive.
        wait_until(lambda: started_count("beat") >= 2, 60, "the launcher to restart beat", log_path)
        new_beat = int(re.findall(r"^beat started \(pid (\d+)\)", log_path.read_text(errors="replace"), re.M)[-1])
        wait_until(lambda: beats(session_processes(session)) not in ([], [beat]), 60, "a new beat", log_path)
        assert len(beats(session_processes(session))) == 1
        assert new_beat in session_processes(session)

        os.killpg(session, signal.SIGINT)  # Ctrl-C in the terminal that runs `make run`
        launcher.wait(timeout=60)
        wait_until(lambda: session_processes(session) == {}, 15, "every process of the session to end", log_path)
    finally:
        for pid in session_processes(session):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
