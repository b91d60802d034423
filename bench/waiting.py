"""Waiting at scale: one account's backlog and another account's single job, on the
embedded default's two workers (run_embedded.worker_commands: inference with N processes,
webhooks and maintenance in threads), on PostgreSQL and Redis on 127.0.0.1.

Account "backlog" queues --backlog jobs; once they run, account "single" queues one job
with a webhook. Prints each account's waits (submit to start), how many backlog jobs
started between the single job's submit and its start, the webhook's delay after its job
ended while the backlog still runs, and the error of the estimated start (the status
payload's estimatedStartAt, taken right after each submit, and as read 5 s before the real
start by a client polling every half second) against the real start.

Jobs run the compact network (realesr-animevideov3) on small images: the run measures the
scheduling, not the network. Usage: python bench/waiting.py [--backlog 30] [--workers 2]
"""

from __future__ import annotations

import argparse
import http.server
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

# bench/api.py's helpers (this script's folder is on sys.path when it runs).
from api import REPO, bench_env, database_of_its_own, drop_database, manage

FAST_NETWORK = "realesr-animevideov3"
# The forecast a polling client reads this long before its job starts is scored too.
LEAD_SECONDS = 5.0


class Receiver(http.server.ThreadingHTTPServer):
    """Webhook receiver on 127.0.0.1: the time each POST arrived."""

    def __init__(self):
        self.arrivals: list[float] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.arrivals.append(time.time())
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def summary(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p90 = ordered[min(int(round(0.9 * (len(ordered) - 1))), len(ordered) - 1)]
    return f"mean {statistics.mean(values):6.1f} s, median {statistics.median(values):6.1f} s, p90 {p90:6.1f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=30, help="jobs the backlog account queues")
    parser.add_argument("--workers", type=int, default=2, help="inference processes")
    parser.add_argument("--size", type=int, default=48, help="input side in pixels (2x upscale)")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="upscaler-bench-queue-")
    env = bench_env(data_dir)
    database_of_its_own(env, "waiting")
    env.update(UPSCALER_ALLOW_PRIVATE_URLS="true", MODEL_SCAN_ON_WORKER_START="false", PYTHONUNBUFFERED="1")
    manage(env, "migrate", "--noinput")
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "upscaler_platform.settings")
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from PIL import Image

    from billing import ledger
    from billing.models import Account
    from jobs import scheduler
    from jobs.management.commands.run_embedded import worker_commands
    from jobs.models import Job
    from jobs.submission import Submission, submit

    procs = []
    for name, command in worker_commands(args.workers, 4).items():
        log = open(os.path.join(data_dir, f"{name}.log"), "wb")  # noqa: SIM115 - written until it stops
        procs.append(
            subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        )
    receiver = Receiver()
    try:
        import io

        buf = io.BytesIO()
        Image.new("RGB", (args.size, args.size), (120, 80, 40)).save(buf, "PNG")
        image = buf.getvalue()

        def account(name: str) -> Account:
            acc = Account.objects.create(name=f"{name}-{time.time_ns()}")
            ledger.top_up(acc, 100000)
            return acc

        def queue(acc: Account, webhook: str = "") -> tuple[str, float | None]:
            job = submit(acc, Submission("precise", {"upscaleFactor": 2, "model": FAST_NETWORK}, webhook), image)
            scheduler.cache.delete(scheduler._CACHE_KEY)  # the estimate as of now, as a status poll right after
            estimate = scheduler.estimate(job)
            return str(job.id), (estimate.starts_at.timestamp() if estimate and estimate.position else None)

        # Warm-up: each inference process loads the network, and recent times exist to estimate from.
        warm = account("warm-up")
        warm_ids = [queue(warm)[0] for _ in range(args.workers * 5)]
        while Job.objects.filter(pk__in=warm_ids, status__in=Job.UNFINISHED).exists():
            time.sleep(0.2)

        # What a client polling the status every half second would read, for each queued job.
        samples: list[tuple[float, dict[str, float]]] = []
        sampling = threading.Event()

        def sample():
            from django.db import connection

            while not sampling.wait(0.5):
                now = time.time()
                forecast = scheduler.forecast()
                samples.append((now, {k: e.starts_at.timestamp() for k, e in forecast.items() if e.position}))
            connection.close()

        sampler = threading.Thread(target=sample)
        sampler.start()
        busy, quiet = account("backlog"), account("single")
        estimates = dict(queue(busy) for _ in range(args.backlog))
        while not Job.objects.filter(account=busy, status="IN_PROGRESS").exists():
            time.sleep(0.05)
        single, single_estimate = queue(quiet, f"http://127.0.0.1:{receiver.server_port}/hook")
        estimates[single] = single_estimate
        everything = list(estimates)
        while Job.objects.filter(pk__in=everything, status__in=Job.UNFINISHED).exists():
            time.sleep(0.2)
        sampling.set()
        sampler.join()

        jobs = {str(j.pk): j for j in Job.objects.filter(pk__in=everything)}
        one = jobs[single]
        backlog = [j for j in jobs.values() if j.account_id == busy.pk]
        ahead = sum(1 for j in backlog if one.created_at < j.started_at < one.started_at)
        print(
            f"Queue run: {args.backlog} jobs of one account, then one job of another; {args.workers} inference "
            f"processes, webhooks and maintenance in their own worker; {os.cpu_count()} CPU cores"
        )
        print(f"{'account':<10} {'jobs':>5}  wait (submit to start)")
        print(f"{'backlog':<10} {len(backlog):>5}  {summary([j.queue_seconds for j in backlog])}")
        print(f"{'single':<10} {1:>5}  {one.queue_seconds:6.1f} s")
        processing = statistics.median(j.processing_seconds for j in jobs.values())
        print(
            f"single job: {ahead} backlog jobs started between its submit and its start "
            f"(workers: {args.workers}; a job takes {processing:.2f} s, median)"
        )
        if receiver.arrivals:
            delay = receiver.arrivals[0] - one.finished_at.timestamp()
            still = sum(1 for j in backlog if j.finished_at.timestamp() > receiver.arrivals[0])
            print(f"webhook: delivered {delay:.2f} s after its job ended, with {still} backlog jobs still to finish")
        else:
            print("webhook: NOT DELIVERED")
        errors = [abs(estimates[k] - j.started_at.timestamp()) for k, j in jobs.items() if estimates[k] is not None]
        signed = [estimates[k] - j.started_at.timestamp() for k, j in jobs.items() if estimates[k] is not None]
        print(f"estimated start vs real start, {len(errors)} jobs: |error| {summary(errors)}")
        print(f"  (signed mean {statistics.mean(signed):+.1f} s: positive = started earlier than estimated)")
        ahead_errors = []
        for k, j in jobs.items():
            started = j.started_at.timestamp()
            earlier = [est[k] for at, est in samples if k in est and at <= started - LEAD_SECONDS]
            if earlier:
                ahead_errors.append(abs(earlier[-1] - started))
        print(
            f"estimated start read {LEAD_SECONDS:g} s before the real start (status polled every 0.5 s), "
            f"{len(ahead_errors)} jobs: |error| {summary(ahead_errors)}"
        )
        single_error = (single_estimate - one.started_at.timestamp()) if single_estimate else None
        if single_error is not None:
            print(f"  single job: estimated {single_error:+.1f} s from its real start")
        return 0 if receiver.arrivals else 1
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        receiver.shutdown()
        from django.db import connections

        connections.close_all()
        drop_database(env["DATABASE_URL"])


if __name__ == "__main__":
    sys.exit(main())
