"""Waiting well, with real workers: fair turns between accounts, and webhooks that never
wait behind the inference queue (the embedded default's two workers)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from billing import ledger
from billing.models import Account
from jobs.management.commands.run_embedded import worker_commands
from jobs.models import Job
from jobs.submission import Submission, submit
from tests import images
from tests.conftest import REPO, worker_env
from tests.flows import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# The compact network: a 16x16 job takes well under a second on these CPUs.
FAST_NETWORK = "realesr-animevideov3"


def queue(account: Account, n: int, *, size=(16, 16), fast: bool = True, webhook: str = "") -> list[str]:
    ids = [
        str(submit(account, Submission("precise", {"upscaleFactor": 2}, webhook), images.png(*size)).id)
        for _ in range(n)
    ]
    if fast:  # the job runs the network its `model` names (set at submit)
        Job.objects.filter(pk__in=ids).update(model=FAST_NETWORK)
    return ids


def make_account(name: str) -> Account:
    account = Account.objects.create(name=name)
    ledger.top_up(account, 500)
    return account


def test_another_accounts_single_job_starts_within_the_running_jobs_plus_one(make_worker):
    busy, quiet = make_account("busy"), make_account("quiet")
    backlog = queue(busy, 30)
    [single] = queue(quiet, 1)  # submitted after the whole backlog
    make_worker()  # two processes: two jobs at once
    wait_until(lambda: Job.objects.filter(pk=single, status="SUCCESS").exists(), 180, "the single job")
    starts = list(Job.objects.filter(started_at__isnull=False).order_by("started_at").values_list("pk", flat=True))
    rank = [str(pk) for pk in starts].index(single) + 1
    # At most the two running jobs of the backlog started before it: it took the next free worker.
    assert rank <= 3, (rank, len(backlog))
    assert Job.objects.get(pk=single).attempts == 1


@pytest.fixture
def embedded_workers(live_server, broker, tmp_path):
    """The embedded default's two workers (run_embedded.worker_commands: inference alone
    with one process, webhooks and maintenance in threads), on the test's PostgreSQL and
    Redis."""
    env = worker_env(live_server.url)
    started = []
    for name, command in worker_commands(1, 4).items():
        log = tmp_path / f"{name}.log"
        proc = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True
        )
        started.append(proc)
        wait_until(lambda log=log: b" ready." in log.read_bytes(), 120, f"the {name} to start")
    yield
    for proc in started:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def test_a_webhook_is_sent_while_the_inference_queue_is_still_busy(embedded_workers, webhook_receiver):
    account = make_account("a")
    [quick] = queue(account, 1, webhook=webhook_receiver.url + "/hook")
    # Then two jobs of the default 23-block network: seconds of CPU each.
    slow = queue(account, 2, size=(96, 80), fast=False)
    [call] = webhook_receiver.wait_for(1, timeout=180)
    received = time.time()
    assert call["body"] and Job.objects.get(pk=quick).status == "SUCCESS"
    # One inference process: the slow jobs run after the quick one, one at a time. Its
    # webhook did not wait for them (it would have, on a worker consuming every queue).
    unfinished = Job.objects.filter(pk__in=slow, status__in=Job.UNFINISHED).count()
    delay = received - Job.objects.get(pk=quick).finished_at.timestamp()
    assert unfinished >= 1, f"the webhook came {delay:.1f} s after its job, behind the queue"
