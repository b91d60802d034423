"""The scheduler (jobs/scheduler.py): which queued job a worker claims, and the queue
position and estimates the status payload shows. In this process, claiming by hand: no
worker, no timing; the order is the whole test."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from billing import ledger
from billing.models import Account
from jobs import lifecycle, scheduler
from jobs.models import Job
from jobs.submission import Submission, submit
from tests import images

pytestmark = pytest.mark.django_db


def queue(account: Account, n: int = 1, *, held: bool = False, size=(16, 16)) -> list[str]:
    image = images.png(*size)
    return [str(submit(account, Submission("precise", {"upscaleFactor": 2}, held=held), image).id) for _ in range(n)]


def make_account(name: str, credits: int = 200) -> Account:
    account = Account.objects.create(name=name)
    ledger.top_up(account, credits)
    return account


def claim() -> str:
    job = lifecycle.claim_next(worker="test:1")
    assert job is not None
    return str(job.pk)


def finish(job_id: str) -> None:
    job = Job.objects.get(pk=job_id)
    assert lifecycle.succeed(job, image_name="a.png", compressed_name="a.jpg", engine="precise/test")


def test_a_single_job_starts_ahead_of_another_accounts_backlog():
    busy, quiet = make_account("busy"), make_account("quiet")
    backlog = queue(busy, 30)
    running = [claim(), claim()]  # two workers busy with the backlog
    assert running == backlog[:2]
    [single] = queue(quiet)
    finish(running[0])
    assert claim() == single  # the next free worker takes it, not the backlog's 3rd


def test_accounts_take_turns_one_job_each_whatever_their_backlogs():
    first, second, third = make_account("a"), make_account("b"), make_account("c")
    a, b, c = queue(first, 5), queue(second, 3), queue(third, 1)
    order = []
    for _ in range(9):  # one worker: each job ends before the next is claimed
        order.append(claim())
        finish(order[-1])
    assert order == [a[0], b[0], c[0], a[1], b[1], a[2], b[2], a[3], a[4]]


def test_a_held_job_runs_first():
    busy, waiting = make_account("busy"), make_account("waiting")
    queue(busy, 3)
    [held] = queue(waiting, held=True)
    assert Job.objects.get(pk=held).held
    assert claim() == held


def test_nothing_to_claim_is_none_and_a_claimed_job_is_not_claimed_again():
    account = make_account("one")
    [job_id] = queue(account)
    assert claim() == job_id
    assert lifecycle.claim_next(worker="test:2") is None
    assert Job.objects.get(pk=job_id).attempts == 1


def test_positions_follow_the_order_workers_claim_in():
    first, second = make_account("a"), make_account("b")
    queue(first, 4)
    queue(second, 2)
    queue(make_account("c"), 1, held=True)
    claim()  # one running: the forecast counts it as a worker
    forecast = scheduler.forecast()
    predicted = sorted((e.position, job_id) for job_id, e in forecast.items() if e.position is not None)
    assert [p for p, _ in predicted] == list(range(1, 7))
    claimed = []
    for _ in range(6):
        running = Job.objects.get(status="IN_PROGRESS")
        finish(str(running.pk))
        claimed.append(claim())
    assert claimed == [job_id for _, job_id in predicted]


def test_estimates_come_from_similar_jobs_and_the_workers_seen():
    account = make_account("a")
    now = timezone.now()
    # Two similar jobs took 10 s each at 32x32 on two workers: two run at once.
    for n, worker in enumerate(["host:1", "host:2"]):
        [job_id] = queue(account)
        Job.objects.filter(pk=job_id).update(
            status="SUCCESS",
            worker=worker,
            started_at=now - timedelta(seconds=30 + n),
            finished_at=now - timedelta(seconds=20 + n),
        )
    waiting = queue(account, 4)
    forecast = scheduler.forecast(now)
    starts = [(forecast[j].position, (forecast[j].starts_at - now).total_seconds()) for j in waiting]
    # Positions 1 and 2 start now on the two idle workers, 3 and 4 when those end (10 s).
    assert [p for p, _ in starts] == [1, 2, 3, 4]
    assert [round(s) for _, s in starts] == [0, 0, 10, 10]
    assert all(round((forecast[j].ends_at - forecast[j].starts_at).total_seconds()) == 10 for j in waiting)
    # A job four times the output pixels is estimated four times as long.
    assert scheduler.Durations.recent().seconds("precise", "", 64, 64) == pytest.approx(40, rel=0.05)


def test_the_status_payload_shows_position_estimates_and_stage(api, account):
    body = {"input": {"imageBase64": base64.b64encode(images.png(16, 16)).decode(), "upscaleFactor": 2}}
    ids = [api.post("precise-upscale", body).json()["id"] for _ in range(3)]
    answers = [api.get(f"status/{job_id}").json() for job_id in ids]
    assert [a["queuePosition"] for a in answers] == [1, 2, 3]
    assert answers[0]["estimatedStartAt"] <= answers[1]["estimatedStartAt"] <= answers[2]["estimatedStartAt"]
    assert all(a["estimatedEndAt"] > a["estimatedStartAt"] for a in answers)
    assert "stage" not in answers[0]

    scheduler.cache.delete(scheduler._CACHE_KEY)
    assert claim() == ids[0]
    lifecycle.set_stage(ids[0], Job.Stage.RUNNING)
    scheduler.cache.delete(scheduler._CACHE_KEY)
    running = api.get(f"status/{ids[0]}").json()
    assert running["status"] == "IN_PROGRESS" and running["stage"] == "running" and running["progress"] == 10
    assert "queuePosition" not in running and running["estimatedEndAt"] and running["startedAt"]
    assert api.get(f"status/{ids[2]}").json()["queuePosition"] == 2

    finish(ids[0])
    done = api.get(f"status/{ids[0]}").json()
    assert not {"queuePosition", "estimatedStartAt", "estimatedEndAt", "stage"} & set(done)
    assert done["startedAt"] <= done["finishedAt"]


def test_progress_moves_through_the_stages():
    account = make_account("a")
    [job_id] = queue(account)
    claim()
    seen = []
    for stage in Job.Stage.values:
        lifecycle.set_stage(job_id, stage)
        seen.append(Job.objects.get(pk=job_id).progress)
        if stage == Job.Stage.RUNNING:
            lifecycle.set_progress(job_id, lifecycle.engine_progress(0.5))
            seen.append(Job.objects.get(pk=job_id).progress)
    assert seen == [5, 10, 50, 90, 95]


def test_a_forked_child_opens_its_own_pool_and_leaves_the_parents_connection_working(transactional_db):
    """Celery's prefork children: upscaler_platform/celery.py forgets the parent's
    connections and pool in the child (no I/O on them), so the parent's session survives."""
    import os

    from django.db import connection

    import upscaler_platform.celery  # noqa: F401  (registers the fork hook)

    if not connection.settings_dict["OPTIONS"].get("pool"):
        pytest.skip("no connection pool (not PostgreSQL)")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        parent_pid = cursor.fetchone()[0]
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: a query on a connection of its own, then exit without cleanup
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                os.write(write, str(cursor.fetchone()[0]).encode())
            connection.close()
            connection.close_pool()  # what Celery's fixup does in a child: the child's own pool
        finally:
            os._exit(0)
    os.close(write)
    child_pid = int(os.read(read, 64) or b"0")
    os.waitpid(child, 0)
    assert child_pid and child_pid != parent_pid
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] == parent_pid  # the same session, still open


def test_the_web_apps_job_status_carries_position_and_estimates(web, account):
    first, second = queue(account, 2)
    scheduler.cache.delete(scheduler._CACHE_KEY)
    data = web.get(f"/jobs/{second}/status.json").json()
    assert data["status"] == "IN_QUEUE" and data["queuePosition"] == 2
    assert data["estimatedStartAt"] < data["estimatedEndAt"]
    # The page's script words it ("2nd in line, about 40 s") from these fields.
    from pathlib import Path

    script = (Path(__file__).parent.parent / "jobs/static/web/playground.js").read_text()
    assert "queuePosition" in script and "in line" in script and "estimatedStartAt" in script


def test_a_submit_that_waits_for_its_answer_is_held(api):
    body = {"input": {"imageBase64": base64.b64encode(images.png(16, 16)).decode(), "upscaleFactor": 2}}
    held = api.post("precise-upscale", body, HTTP_PREFER="wait=1")
    assert held.status_code == 200 and held["Preference-Applied"] == "wait=1"
    plain = api.post("precise-upscale", body)
    assert Job.objects.get(pk=held.json()["id"]).held
    assert not Job.objects.get(pk=plain.json()["id"]).held


def test_the_handoff_between_a_workers_jobs_counts_in_the_estimates():
    account = make_account("a")
    now = timezone.now()
    # One worker ran three jobs of 4 s back to back, 1 s between them.
    for n in range(3):
        [job_id] = queue(account)
        start = now - timedelta(seconds=30 - 5 * n)
        Job.objects.filter(pk=job_id).update(
            status="SUCCESS", worker="host:1", started_at=start, finished_at=start + timedelta(seconds=4)
        )
    durations = scheduler.Durations.recent()
    assert durations.handoff == pytest.approx(1.0)
    assert durations.seconds("precise", "", 32, 32) == pytest.approx(4.0)
