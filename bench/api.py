"""API load run: 300 concurrent status readers (wrk) and a steady stream of submits
(Python), against gunicorn on PostgreSQL and Redis on 127.0.0.1, bounded in time; then
status polls alone, without and with 50 submits held open by `Prefer: wait=N`. With
`--own-postgres` the run has a PostgreSQL server of its own (initdb on a free port, the
default max_connections=100), so other clients of the shared server do not count; it
prints the server's max_connections and the most connections the run held at once.

Prints submit and status p50/p99 latency and requests per second, and the poll latency
beside the held waits; exits 1 on any error (non-2xx, socket error). Rate limits are raised
for the run: it measures capacity, not the limiter. No inference worker runs, so held waits
stay held for their whole N. Usage: python bench/api.py [--duration 20] [--readers 200]
[--submit-rate 5] [--held-waits 50] [--poll-duration 10] [--pollers 20] [--own-postgres]
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_env(data_dir: str) -> dict:
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/upscaler_bench")
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")
    env.setdefault("UPSCALER_MODEL_DIR", str(REPO.parent / "shared" / "models"))
    env.update(
        UPSCALER_DATA_DIR=data_dir,
        RATE_LIMIT_STATUS_PER_MINUTE="100000000",
        RATE_LIMIT_SUBMITS_PER_MINUTE="100000000",
        RATE_LIMIT_SUBMITS_PER_HOUR="100000000",
        MAX_UNFINISHED_JOBS_PER_ACCOUNT="100000000",
        LOG_LEVEL="WARNING",
    )
    return env


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def database_of_its_own(env: dict, label: str) -> str:
    """A fresh database for this run on the server of env's DATABASE_URL (created, and put in
    env): with the fair scheduler a worker claims any queued job in its database, so another
    run's leftover jobs would take this run's turns and count in its estimates."""
    server = env["DATABASE_URL"].rsplit("/", 1)[0]
    env["DATABASE_URL"] = f"{server}/upscaler_bench_{label}_{os.getpid()}"
    ensure_database(env["DATABASE_URL"])
    return env["DATABASE_URL"]


def drop_database(url: str) -> None:
    import psycopg

    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class OwnPostgres:
    """A PostgreSQL server of the run's own: initdb in a temporary folder, trust auth on
    127.0.0.1 and a free port, max_connections 100 (PostgreSQL's default), stopped after."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="upscaler-bench-pg-"))
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]

    def _as_postgres(self, *command: str) -> list[str]:
        # initdb and the server refuse to run as root.
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)

    def start(self) -> str:
        data = self.folder / "data"
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        subprocess.run(
            self._as_postgres(str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"),
            check=True,
            capture_output=True,
        )
        self.proc = subprocess.Popen(
            self._as_postgres(
                str(self.bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.folder}",
                "-c",
                "max_connections=100",
                "-c",
                "fsync=off",
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(100):
            if (
                subprocess.run(
                    [str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
                ).returncode
                == 0
            ):
                break
            time.sleep(0.2)
        return f"postgres://postgres@127.0.0.1:{self.port}/upscaler_bench"

    def stop(self) -> None:
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)


class ConnectionCounter:
    """Samples the connections the server holds (pg_stat_activity) while the run goes on."""

    def __init__(self, url: str):
        import psycopg

        self.conn = psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True)
        self.max_connections = int(self.conn.execute("SHOW max_connections").fetchone()[0])
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.2):
            count = self.conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
            self.peak = max(self.peak, count.fetchone()[0])

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.conn.close()


def manage(env: dict, *args: str) -> str:
    out = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{out.stderr}")
    return out.stdout


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(round(q / 100 * (len(ordered) - 1))), len(ordered) - 1)]


def parse_wrk(text: str) -> dict:
    def ms(value: str) -> float:
        number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    dist = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", text, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {
        "p50_ms": ms(dist["50"]),
        "p99_ms": ms(dist["99"]),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "requests": int(re.search(r"(\d+) requests in", text).group(1)),
        "errors": (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0),
    }


def threads_per_worker(env: dict) -> int:
    code = "from upscaler_platform import gunicorn_conf; print(gunicorn_conf.threads)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    return int(out.stdout.strip() or 0)


def run_wrk(key: str, url: str, connections: int, duration: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
        + ["-H", f"Authorization: Bearer {key}", url],
        capture_output=True,
        text=True,
        timeout=duration + 60,
    )


def held_waits_run(base: str, key: str, body: dict, status_url: str, args) -> int:
    """Status polls alone, then the same polls while `--held-waits` submits wait on their
    jobs (`Prefer: wait=N`, nothing runs them). Prints both; returns the number of errors."""
    baseline = parse_wrk(run_wrk(key, status_url, args.pollers, args.poll_duration).stdout)

    wait_for = args.poll_duration + 8
    answers: list[requests.Response | Exception] = []
    lock = threading.Lock()

    def hold():
        try:
            r = requests.post(
                f"{base}/api/v1/precise-upscale",
                json=body,
                headers={"Authorization": f"Bearer {key}", "Prefer": f"wait={wait_for}"},
                timeout=wait_for + 60,
            )
        except requests.RequestException as exc:
            r = exc
        with lock:
            answers.append(r)

    holders = [threading.Thread(target=hold) for _ in range(args.held_waits)]
    for holder in holders:
        holder.start()
    time.sleep(3)  # let every submit be stored and start waiting
    with lock:
        early = len(answers)  # answered at once: over a process's wait cap
    held = parse_wrk(run_wrk(key, status_url, args.pollers, args.poll_duration).stdout)
    for holder in holders:
        holder.join()
    applied = sum(1 for r in answers if isinstance(r, requests.Response) and "Preference-Applied" in r.headers)
    failed = [r for r in answers if not isinstance(r, requests.Response) or r.status_code != 200]

    print()
    print(
        f"Status polls ({args.pollers} connections, {args.poll_duration}s each), without and with "
        f"{args.held_waits} submits held by Prefer: wait={wait_for} ({applied} held the whole wait, "
        f"{early} answered at once past a process's SYNC_WAIT_MAX_CONCURRENT)"
    )
    print(f"{'run':<16} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, run in (("no held waits", baseline), (f"{args.held_waits} held waits", held)):
        print(
            f"{name:<16} {run['requests']:>9} {run['rps']:>9.1f} {run['p50_ms']:>8.1f} "
            f"{run['p99_ms']:>8.1f} {run['errors']:>7}"
        )
    print(
        f"held / alone: p50 {held['p50_ms'] / baseline['p50_ms']:.2f}x, p99 {held['p99_ms'] / baseline['p99_ms']:.2f}x"
    )
    if failed:
        print("HELD WAIT ERRORS:", [getattr(r, "status_code", r) for r in failed][:5])
    return baseline["errors"] + held["errors"] + len(failed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=20, help="seconds of load")
    parser.add_argument("--readers", type=int, default=300, help="concurrent status readers")
    parser.add_argument("--submit-rate", type=float, default=5.0, help="submits per second")
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--held-waits", type=int, default=50, help="submits held open by Prefer: wait")
    parser.add_argument("--poll-duration", type=int, default=10, help="seconds of each poll-only run")
    parser.add_argument("--pollers", type=int, default=20, help="concurrent status pollers in the poll-only runs")
    parser.add_argument(
        "--own-postgres", action="store_true", help="a PostgreSQL server of the run's own, max_connections 100"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")

    own = OwnPostgres() if args.own_postgres else None
    if own is not None:
        os.environ["DATABASE_URL"] = own.start()
    try:
        return run(args)
    finally:
        if own is not None:
            own.stop()


def run(args) -> int:
    data_dir = tempfile.mkdtemp(prefix="upscaler-bench-")
    env = bench_env(data_dir)
    ensure_database(env["DATABASE_URL"])
    counter = ConnectionCounter(env["DATABASE_URL"])
    manage(env, "migrate", "--noinput")
    key = manage(env, "create_account", f"bench-{time.time_ns()}", "--credits", "1000000000").strip().splitlines()[-1]

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--config=python:upscaler_platform.gunicorn_conf",
            "upscaler_platform.wsgi",
            f"--bind=127.0.0.1:{port}",
            f"--workers={args.web_workers}",
            "--access-logfile=/dev/null",  # the config logs every request; not here
            "--log-level=warning",
        ],
        cwd=REPO,
        env=env,
        start_new_session=True,
    )
    try:
        headers = {"Authorization": f"Bearer {key}"}
        for _ in range(120):
            try:
                requests.get(f"{base}/api/v1/account", headers=headers, timeout=10)
                break
            except requests.RequestException:
                time.sleep(0.5)
        buf = io.BytesIO()
        Image.new("RGB", (64, 48), (120, 80, 40)).save(buf, "PNG")
        body = {"input": {"imageBase64": base64.b64encode(buf.getvalue()).decode(), "upscaleFactor": 2}}
        first = requests.post(f"{base}/api/v1/precise-upscale", json=body, headers=headers, timeout=10)
        assert first.status_code == 200, first.text
        status_url = f"{base}/api/v1/status/{first.json()['id']}"

        submit_latencies: list[float] = []
        submit_errors: list[str] = []
        stop = threading.Event()

        def submitter():
            session = requests.Session()
            interval = 1 / args.submit_rate
            next_at = time.monotonic()
            while not stop.is_set():
                started = time.monotonic()
                try:
                    r = session.post(f"{base}/api/v1/precise-upscale", json=body, headers=headers, timeout=30)
                    if r.status_code != 200:
                        submit_errors.append(f"{r.status_code}: {r.text[:100]}")
                except requests.RequestException as exc:
                    submit_errors.append(repr(exc))
                submit_latencies.append((time.monotonic() - started) * 1000)
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))

        thread = threading.Thread(target=submitter)
        thread.start()
        wrk = run_wrk(key, status_url, args.readers, args.duration)
        stop.set()
        thread.join()
        status = parse_wrk(wrk.stdout)
        submit_rps = len(submit_latencies) / args.duration

        print(
            f"API load run: {args.duration}s, {args.readers} concurrent status readers (wrk), "
            f"submits paced at up to {args.submit_rate:g}/s from one client, "
            f"gunicorn {args.web_workers} workers x {threads_per_worker(env)} threads, "
            f"{os.cpu_count()} CPU cores shared by server and load"
        )
        print(f"{'endpoint':<10} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
        print(
            f"{'status':<10} {status['requests']:>9} {status['rps']:>9.1f} {status['p50_ms']:>8.1f} "
            f"{status['p99_ms']:>8.1f} {status['errors']:>7}"
        )
        print(
            f"{'submit':<10} {len(submit_latencies):>9} {submit_rps:>9.1f} "
            f"{percentile(submit_latencies, 50):>8.1f} {percentile(submit_latencies, 99):>8.1f} "
            f"{len(submit_errors):>7}"
        )
        errors = status["errors"] + len(submit_errors)
        if errors:
            print("ERRORS:", submit_errors[:5], wrk.stdout[-500:])
        errors += held_waits_run(base, key, body, status_url, args)
        pool = env.get("DATABASE_POOL", "true").lower() not in ("0", "false", "no")
        print(
            f"PostgreSQL max_connections {counter.max_connections}; at most {counter.peak} client connections "
            f"at once during the run (pooled: {pool}, DATABASE_POOL_MAX_SIZE "
            f"{env.get('DATABASE_POOL_MAX_SIZE', 'default')} per process)"
        )
        return 1 if errors else 0
    finally:
        counter.close()
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
