"""The compose stack for real: docker-compose.yml plus the test override
deploy/compose.local.yml, built and started by deploy/local/compose.sh (what `make
compose-up` runs) and driven over HTTP on 127.0.0.1 as a client would: a job to SUCCESS
with its presigned S3 download and its signed webhook, one of the two inference workers'
containers killed mid-job, Redis restarted with jobs queued.

Run by `make compose-test` (root and a Docker engine, or the packages to make one); the
default `make test` leaves it out (it builds images: minutes).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import requests
from standardwebhooks import Webhook

from tests import images
from tests.flows import Client, download_image, wait_until
from tests.ports import free_port
from tests.servers import WebhookReceiver

REPO = Path(__file__).resolve().parent.parent.parent
COMPOSE_SH = REPO / "deploy" / "local" / "compose.sh"
STATE = REPO / "var" / "compose"

pytestmark = [
    pytest.mark.compose,
    pytest.mark.skipif(
        os.environ.get("UPSCALER_COMPOSE_TEST") != "1", reason="builds and runs the compose stack: make compose-test"
    ),
]


class Stack:
    def __init__(self, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "PORT": str(port),
            "UPSCALER_ALLOW_PRIVATE_URLS": "true",
            "PYTHON": sys.executable,
        }
        self.timings: dict[str, float] = {}

    def run(self, *args: str, timeout: float = 1800) -> str:
        out = subprocess.run(
            [str(COMPOSE_SH), *args], cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert out.returncode == 0, f"compose.sh {' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}"
        return out.stdout

    def compose(self, *args: str, timeout: float = 300) -> str:
        return self.run("compose", *args, timeout=timeout)

    def containers(self, service: str) -> list[str]:
        return self.compose("ps", "-q", service).split()

    def container(self, service: str) -> str:
        """The service's first container (worker-cpu runs two)."""
        return self.containers(service)[0]

    def settings(self) -> dict[str, str]:
        lines = (STATE / "compose.env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    def db(self) -> psycopg.Connection:
        s = self.settings()
        return psycopg.connect(
            host="127.0.0.1", port=55432, user="upscaler", password=s["POSTGRES_PASSWORD"], dbname="upscaler"
        )


@pytest.fixture(scope="module")
def stack():
    stack = Stack(free_port())
    started = time.monotonic()
    try:
        stack.run("up")
        stack.timings["up"] = time.monotonic() - started
        stack.timings["up_started"] = started
        yield stack
    finally:
        # The services' logs, for a failure's post-mortem (none when `up` failed early).
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            (STATE / "stack.log").write_text(stack.compose("logs", "--no-color", "--tail=300"))
        stack.run("down")
        report = {k: round(v, 1) for k, v in stack.timings.items() if k != "up_started"}
        (STATE / "timings.json").write_text(json.dumps(report, indent=2))
        print(f"\ncompose stack timings (s): {report}")


@pytest.fixture(scope="module")
def client(stack):
    out = stack.run("account", "compose-test", "1000")
    key = out.strip().splitlines()[-1]
    assert key and " " not in key, out
    return Client(stack.url, key)


def account(client: Client) -> dict:
    r = client.session.get(f"{client.base}/account", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def submit_precise(client: Client, width: int, height: int, factor: int, **fields) -> str:
    data = base64.b64encode(images.png(width, height)).decode()
    r = client.submit("precise-upscale", {**fields, "input": {"imageBase64": data, "upscaleFactor": factor}})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def ledger(stack: Stack, job_id: str) -> list[tuple[str, int]]:
    with stack.db() as conn:
        rows = conn.execute(
            "SELECT kind, amount FROM billing_ledgerentry WHERE job_id = %s ORDER BY id", (job_id,)
        ).fetchall()
    return [(kind, amount) for kind, amount in rows]


def attempts(stack: Stack, job_id: str) -> int:
    with stack.db() as conn:
        return conn.execute("SELECT attempts FROM jobs_job WHERE id = %s", (job_id,)).fetchone()[0]


def job_row(stack: Stack, job_id: str) -> tuple[str, int]:
    """(status, progress) in the stack's database, which the API may show a moment later."""
    with stack.db() as conn:
        return tuple(conn.execute("SELECT status, progress FROM jobs_job WHERE id = %s", (job_id,)).fetchone())


def test_a_job_to_success_with_its_s3_download_and_signed_webhook(stack, client):
    assert requests.get(f"{stack.url}/readyz", timeout=10).status_code == 200
    before = account(client)
    with WebhookReceiver() as receiver:
        job_id = submit_precise(client, 48, 40, 2, webhook=receiver.url + "/hook")
        final, _ = client.wait(job_id, timeout=300)
        stack.timings.setdefault("up_to_first_success", time.monotonic() - stack.timings["up_started"])
        assert final["status"] == "SUCCESS", final
        # The result is a presigned URL on the stack's S3 server, fetched as a client would.
        assert final["imageUrl"].startswith("http://127.0.0.1:") and "Signature" in final["imageUrl"]
        image, _ = download_image(final["imageUrl"])
        assert image.size == (96, 80)
        (call,) = receiver.wait_for(1, timeout=60)
    # Signed with the account's secret (Standard Webhooks), and it is the status payload.
    payload = Webhook(before["webhookSecret"]).verify(call["body"], call["headers"])
    assert payload["id"] == job_id and payload["status"] == "SUCCESS"
    after = account(client)
    assert after["balance"] == before["balance"] - final["creditCost"]
    assert ledger(stack, job_id) == [("debit", -final["creditCost"])]


def image_of(stack: Stack, service: str) -> str:
    return subprocess.check_output(
        ["docker", "inspect", "-f", "{{.Config.Image}}", stack.container(service)], text=True
    ).strip()


def test_the_stack_runs_with_its_own_settings(stack):
    config = subprocess.check_output(["docker", "inspect", "-f", "{{json .Config.Env}}", stack.container("web")])
    env = dict(item.split("=", 1) for item in json.loads(config))
    # The generated secrets, not whatever the caller's shell holds (this test run's own).
    assert env["SECRET_KEY"] == stack.settings()["SECRET_KEY"] != os.environ.get("SECRET_KEY")
    # Passed through from the environment of `make compose-up`.
    assert env["UPSCALER_ALLOW_PRIVATE_URLS"] == "true"
    assert env["PUBLIC_BASE_URL"] == stack.url


def test_only_the_worker_image_carries_torch(stack):
    has_torch = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('torch') else 3)"
    for service, expected in (("web", 3), ("worker-cpu", 0)):
        image = image_of(stack, service)
        out = subprocess.run(["docker", "run", "--rm", "--network", "none", image, "python", "-c", has_torch])
        assert out.returncode == expected, f"{image}: find_spec('torch') exit {out.returncode}"
        size = int(subprocess.check_output(["docker", "image", "inspect", "-f", "{{.Size}}", image], text=True))
        stack.timings[f"image_mb:{image}"] = size / 1e6


def restart_count(container: str) -> int:
    return int(subprocess.check_output(["docker", "inspect", "-f", "{{.RestartCount}}", container], text=True))


def test_two_inference_workers_share_the_jobs_and_one_killed_mid_job_loses_nothing(stack, client):
    before = account(client)
    workers = stack.containers("worker-cpu")
    assert len(workers) == 2, workers
    restarts = {worker: restart_count(worker) for worker in workers}
    # Seconds of CPU each for the 4x network: long enough to kill a worker mid-way.
    jobs = [submit_precise(client, 192, 160, 4) for _ in range(2)] + [
        submit_precise(client, 48, 40, 2) for _ in range(2)
    ]

    def running() -> int:
        with stack.db() as conn:
            return conn.execute(
                "SELECT count(DISTINCT worker) FROM jobs_job"
                " WHERE id = ANY(%s) AND status = 'IN_PROGRESS' AND progress > 0",
                (jobs[:2],),
            ).fetchone()[0]

    # One job at a time per worker: both long jobs running at once means one on each.
    wait_until(lambda: running() == 2, 240, "a job running on each worker", interval=0.2)
    # One container's main process, killed as an OOM kill or a crash would: the engine
    # restarts it (restart: unless-stopped), and the sweep puts its orphaned job back.
    killed = workers[0]
    pid = subprocess.check_output(["docker", "inspect", "-f", "{{.State.Pid}}", killed], text=True).strip()
    subprocess.run(["kill", "-9", pid], check=True)
    wait_until(lambda: restart_count(killed) > restarts[killed], 60, "the engine to restart the worker")
    finals = {job_id: client.wait(job_id, timeout=600)[0] for job_id in jobs}
    assert all(final["status"] == "SUCCESS" for final in finals.values()), finals
    tries = sorted(attempts(stack, job_id) for job_id in jobs[:2])
    assert tries[0] == 1 and 2 <= tries[1] <= 3, tries  # the killed worker's job ran again, the other once
    for job_id in jobs[:2]:
        image, _ = download_image(finals[job_id]["imageUrl"])
        assert image.size == (768, 640)
    # Every job finished once and charged once.
    for job_id, final in finals.items():
        assert ledger(stack, job_id) == [("debit", -final["creditCost"])]
    spent = sum(final["creditCost"] for final in finals.values())
    assert account(client)["balance"] == before["balance"] - spent
    with stack.db() as conn:
        workers_used = conn.execute(
            "SELECT count(DISTINCT split_part(worker, ':', 3)) FROM jobs_job WHERE id = ANY(%s)", (jobs,)
        ).fetchone()[0]
    assert workers_used >= 2


def queue_length(stack: Stack) -> int:
    out = stack.compose("exec", "-T", "redis", "redis-cli", "-p", "56379", "llen", "inference")
    return int(out.strip())


def test_no_job_is_lost_when_redis_restarts(stack, client):
    before = account(client)
    # Jobs waiting in Redis's queue, with no worker to take them.
    stack.compose("stop", "worker-cpu")
    try:
        queued = [submit_precise(client, 48, 40, 2) for _ in range(3)]
        assert [client.status(job_id)["status"] for job_id in queued] == ["IN_QUEUE"] * 3
        assert queue_length(stack) == 3
        stack.compose("restart", "redis")
        # Still there after the restart (append-only file on the redis-data volume), and
        # not re-sent by the sweep: that waits JOB_REQUEUE_AFTER_SECONDS (60 s here).
        assert queue_length(stack) == 3
    finally:
        stack.compose("start", "worker-cpu")
    finals = {job_id: client.wait(job_id, timeout=300)[0] for job_id in queued}
    assert all(f["status"] == "SUCCESS" for f in finals.values()), finals
    for job_id, final in finals.items():
        assert ledger(stack, job_id) == [("debit", -final["creditCost"])]
    spent = sum(f["creditCost"] for f in finals.values())
    assert account(client)["balance"] == before["balance"] - spent
