"""Maskr batch run: one batch of small images through gunicorn and a Celery worker of N
processes, on PostgreSQL and Redis on 127.0.0.1. Prints the batch's wall time against the
sum of its jobs' processing times, which is the parallelism the workers achieved.

Usage: python bench/batch.py [--files 50] [--workers 2] [--size 32]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

# bench/api.py's helpers (this script's folder is on sys.path when it runs).
from api import BIN, REPO, bench_env, database_of_its_own, drop_database, free_port, manage
from PIL import Image


def image(size: int, seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, "PNG")
    return buf.getvalue()


def start_worker(env: dict, processes: int, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "wb")  # noqa: SIM115 - the worker writes to it until it is stopped
    worker = subprocess.Popen(
        [
            str(BIN / "celery"),
            "-A",
            "upscaler_platform",
            "worker",
            "-Q",
            "inference",
            "--concurrency",
            str(processes),
            "--prefetch-multiplier",
            "1",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.time() + 120
    while b" ready." not in log_path.read_bytes():
        if worker.poll() is not None or time.time() > deadline:
            sys.exit(f"the worker did not start:\n{log_path.read_text()[-2000:]}")
        time.sleep(0.3)
    return worker


def post_batch(base: str, key: str, files: list[bytes]) -> tuple[float, dict]:
    started = time.perf_counter()
    r = requests.post(
        f"{base}/v1/services/image-upscaling/batch",
        params={"scale_factor": 2, "output_format": "jpeg"},
        files=[("files", (f"{i}.png", data, "image/png")) for i, data in enumerate(files)],
        headers={"Authorization": f"Bearer {key}"},
        timeout=900,
    )
    elapsed = time.perf_counter() - started
    if r.status_code != 200:
        sys.exit(f"the batch was refused: {r.status_code} {r.text[:300]}")
    return elapsed, r.json()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50, help="images in the batch (1-50)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="Celery worker processes")
    parser.add_argument("--size", type=int, default=32, help="side of each square input image, in pixels")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="upscaler-bench-batch-")
    env = bench_env(data_dir)
    database_of_its_own(env, "batch")
    env["REDIS_KEY_PREFIX"] = f"bench-batch-{os.getpid()}:"  # this run's own queue in a shared Redis
    env["SYNC_WAIT_MAX_SECONDS"] = "900"
    manage(env, "migrate", "--noinput")
    key = manage(env, "create_account", f"bench-{time.time_ns()}", "--credits", "1000000").strip().splitlines()[-1]

    worker = start_worker(env, args.workers, Path(data_dir) / "worker.log")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "upscaler_platform.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "2",
            "--threads",
            "4",
            "--worker-class",
            "gthread",
            "--timeout",
            "900",
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
        start_new_session=True,
    )
    try:
        for _ in range(120):
            try:
                requests.get(f"{base}/healthz", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.5)
        # Warm-up: every worker process loads the network once before the timed batch.
        post_batch(base, key, [image(args.size, 10_000 + i) for i in range(2 * args.workers)])

        wall, answer = post_batch(base, key, [image(args.size, i) for i in range(args.files)])
        processing = [r["processing_time_ms"] / 1000 for r in answer["results"] if r["processing_time_ms"]]
        busy = sum(processing)
        print(
            f"Maskr batch run: {args.files} images of {args.size}x{args.size} at 2x (jpeg), "
            f"{args.workers} worker processes, {os.cpu_count()} CPU cores shared by web, workers and client"
        )
        print(f"{'completed':<34} {answer['completed']} of {answer['total_files']} ({answer['status']})")
        print(f"{'batch wall time (request to answer)':<34} {wall:.2f} s")
        print(f"{'sum of the jobs processing times':<34} {busy:.2f} s")
        print(f"{'mean processing time per job':<34} {busy / max(len(processing), 1):.3f} s")
        print(f"{'parallelism (sum / wall)':<34} {busy / wall:.2f}x")
        return 0 if answer["completed"] == args.files else 1
    finally:
        for proc in (web, worker):
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in (web, worker):
            proc.wait(timeout=60)
        shutil.rmtree(data_dir, ignore_errors=True)
        drop_database(env["DATABASE_URL"])


if __name__ == "__main__":
    sys.exit(main())
