"""Which queued job runs next, and when each queued job will start and end.

The Celery message does not decide which job runs. There is one inference message per
queued job (sent when the job is queued, again by the sweep), and the worker that takes a
message claims the fairest queued job in the database (`lifecycle.claim_next`). So the
order is the database's, messages are interchangeable, and a message that finds nothing
left to claim (the sweep sent one more, a job was canceled) does nothing.

The order (ORDER, the same in SQL and in the forecast below):

1. Held jobs first: a request waiting for its answer (`Prefer: wait`, Ximilar's and
   Maskr's synchronous calls) holds a web thread and a client connection; each web
   process holds at most SYNC_WAIT_MAX_CONCURRENT of them, which bounds this priority.
2. The account with the fewest jobs in flight (IN_PROGRESS).
3. Round-robin: the account whose last job started longest ago (never: first).
4. The oldest job of that account.

So an account with nothing in flight starts ahead of another's backlog, and accounts with
queued jobs take turns, one job each, whatever the size of their backlogs.
"""

from __future__ import annotations

import contextlib
import heapq
import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, IntegerField, Max, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from jobs.models import Job

# The SQL of the order above; `forecast` sorts by `_order_key`, the same order in Python.
ORDER = ("-held", "in_flight", F("last_started").asc(nulls_first=True), "created_at", "id")


def queued_in_order() -> QuerySet[Job]:
    """IN_QUEUE jobs, the one to run next first."""
    in_flight = (
        Job.objects.filter(account=OuterRef("account"), status=Job.Status.IN_PROGRESS)
        .order_by()
        .values("account")
        .annotate(n=Count("pk"))
        .values("n")
    )
    last_started = (
        Job.objects.filter(account=OuterRef("account"), started_at__isnull=False)
        .order_by("-started_at")
        .values("started_at")[:1]
    )
    return (
        Job.objects.filter(status=Job.Status.IN_QUEUE)
        .annotate(
            in_flight=Coalesce(Subquery(in_flight, output_field=IntegerField()), Value(0)),
            last_started=Subquery(last_started),
        )
        .order_by(*ORDER)
    )


# --- Forecast: position, estimated start and end ---------------------------------------------


@dataclass(frozen=True)
class Estimate:
    position: int | None  # 1 = the next job to start; None once started
    starts_at: datetime
    ends_at: datetime


# Recent finished jobs the durations are estimated from, and the forecast's lifetime in the
# cache: status polls of every waiting client share one computation.
HISTORY = 200
FORECAST_CACHE_SECONDS = 2.0
# The most queued jobs simulated; jobs further back get no position (a rare queue).
FORECAST_MAX_QUEUED = 5000
# Inference workers counted as consuming: those that started a job this recently, unless
# jobs have waited longer than QUEUE_SETTLED_SECONDS (then the running jobs say it).
WORKERS_SEEN_SECONDS = 120
QUEUE_SETTLED_SECONDS = 3.0


def _megapixels(width: int, height: int) -> float:
    return max(width * height, 1) / 1e6


class Durations:
    """Estimated processing seconds of a job, from the recent successful jobs most like it:
    the same mode and network, the nearest output sizes, each one's seconds scaled to this
    output's pixels; the median of those. Falls back to the same mode, then to every mode,
    then to JOB_ETA_DEFAULT_SECONDS.

    `handoff`: the seconds a worker takes from one job's end to the next one's start while
    jobs wait (acknowledging, taking the next message, claiming): the median of those gaps
    in the recent history, per worker process."""

    # A longer gap means the worker had nothing to do: not a handoff.
    HANDOFF_MAX_SECONDS = 10.0

    def __init__(self, history: list[tuple[str, str, float, float]], handoff: float = 0.0):
        # (mode, model, output megapixels, seconds)
        self.history = history
        self.handoff = handoff
        self._known: dict[tuple, float] = {}

    @classmethod
    def recent(cls) -> Durations:
        rows = list(
            Job.objects.filter(status=Job.Status.SUCCESS, started_at__isnull=False, finished_at__isnull=False)
            .order_by("-finished_at")
            .values_list("mode", "model", "output_width", "output_height", "started_at", "finished_at", "worker")[
                :HISTORY
            ]
        )
        history = [
            (mode, model, _megapixels(w, h), max((end - start).total_seconds(), 0.0))
            for mode, model, w, h, start, end, _ in rows
            if start is not None and end is not None
        ]
        by_worker: dict[str, list[tuple[datetime, datetime]]] = {}
        for *_, start, end, worker in rows:
            if worker and start is not None and end is not None:
                by_worker.setdefault(worker, []).append((start, end))
        gaps = []
        for runs in by_worker.values():
            runs.sort()
            for (_, end), (start, _) in zip(runs, runs[1:], strict=False):
                gap = (start - end).total_seconds()
                if 0 <= gap < cls.HANDOFF_MAX_SECONDS:
                    gaps.append(gap)
        return cls(history, statistics.median(gaps) if gaps else 0.0)

    def seconds(self, mode: str, model: str, width: int, height: int) -> float:
        mp = _megapixels(width, height)
        for same in (
            lambda m, n: m == mode and n == model,
            lambda m, n: m == mode,
            lambda m, n: True,
        ):
            similar = [(abs(math.log(h_mp / mp)), secs * mp / h_mp) for m, n, h_mp, secs in self.history if same(m, n)]
            if similar:
                nearest = sorted(similar)[:10]
                return max(statistics.median(s for _, s in nearest), 0.1)
        return float(settings.JOB_ETA_DEFAULT_SECONDS)

    def of(self, job) -> float:
        key = (job["mode"], job["model"], job["output_width"], job["output_height"])
        if key not in self._known:
            self._known[key] = self.seconds(*key)
        return self._known[key]


def inference_slots(now: datetime, running: int, oldest_queued: datetime | None) -> int:
    """How many jobs run at once. A job that has waited more than QUEUE_SETTLED_SECONDS would
    have been taken by an idle worker: then every worker is busy and the jobs running are
    the workers. Otherwise (an empty or fresh queue) the inference processes seen starting
    jobs in the last WORKERS_SEEN_SECONDS (a job's `worker` names its process), at least the
    jobs running now, at least one."""
    if running and oldest_queued is not None and (now - oldest_queued).total_seconds() > QUEUE_SETTLED_SECONDS:
        return running
    since = now - timedelta(seconds=WORKERS_SEEN_SECONDS)
    seen = Job.objects.filter(started_at__gte=since).exclude(worker="").values("worker").distinct().count()
    return max(seen, running, 1)


def _order_key(job: dict, in_flight: dict, last_started: dict) -> tuple:
    """ORDER in Python."""
    account = job["account_id"]
    last = last_started.get(account)
    return (
        not job["held"],
        in_flight.get(account, 0),
        (last is not None, last or 0.0),
        job["created_at"],
        str(job["id"]),
    )


def forecast(now: datetime | None = None) -> dict[str, Estimate]:
    """Every unfinished job's estimate, by job id: the queue run forward in the scheduler's
    order on the workers seen, each running job ending after its estimated duration (at
    least a second from now), each queued one taking the next free worker."""
    now = now or timezone.now()
    fields = ("id", "account_id", "mode", "model", "output_width", "output_height", "held", "created_at", "started_at")
    running = list(Job.objects.filter(status=Job.Status.IN_PROGRESS).values(*fields))
    queued = list(
        Job.objects.filter(status=Job.Status.IN_QUEUE).order_by("created_at").values(*fields)[:FORECAST_MAX_QUEUED]
    )
    durations = Durations.recent()
    t0 = now.timestamp()
    estimates: dict[str, Estimate] = {}
    # Free times of the workers: (when, account whose job frees it, a tie-breaker).
    slots: list[tuple[float, int | None, int]] = []
    in_flight: dict[int, int] = {}
    for n, job in enumerate(running):
        started = job["started_at"].timestamp()
        end = max(started + durations.of(job), t0 + 1.0)
        estimates[str(job["id"])] = Estimate(None, job["started_at"], _at(end))
        end += durations.handoff
        heapq.heappush(slots, (end, job["account_id"], n))
        in_flight[job["account_id"]] = in_flight.get(job["account_id"], 0) + 1
    oldest = queued[0]["created_at"] if queued else None
    for n in range(inference_slots(now, len(running), oldest) - len(running)):
        heapq.heappush(slots, (t0, None, len(running) + n))
    last_started: dict[int, float] = {}
    for account, started in (
        Job.objects.filter(account_id__in={j["account_id"] for j in queued}, started_at__isnull=False)
        .values("account_id")
        .annotate(last=Max("started_at"))
        .values_list("account_id", "last")
    ):
        last_started[account] = started.timestamp()
    # Within an account the order is held first, then oldest: each account's queue in that
    # order, and at each step the account whose head comes first in ORDER.
    backlog: dict[int, list[dict]] = {}
    for job in sorted(queued, key=lambda j: (not j["held"], j["created_at"], str(j["id"]))):
        backlog.setdefault(job["account_id"], []).append(job)
    heads = {account: 0 for account in backlog}
    tick = len(slots)
    for position in range(1, len(queued) + 1):
        when, freed_by, _ = heapq.heappop(slots)
        if freed_by is not None:
            in_flight[freed_by] -= 1
        account = min(heads, key=lambda a: _order_key(backlog[a][heads[a]], in_flight, last_started))
        job = backlog[account][heads[account]]
        heads[account] += 1
        if heads[account] == len(backlog[account]):
            del heads[account]
        end = when + durations.of(job)
        estimates[str(job["id"])] = Estimate(position, _at(when), _at(end))
        end += durations.handoff  # the worker takes the next job after its handoff
        in_flight[account] = in_flight.get(account, 0) + 1
        last_started[account] = when
        tick += 1
        heapq.heappush(slots, (end, account, tick))
    return estimates


def _at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.get_current_timezone())


_CACHE_KEY = "scheduler:forecast"


def estimate(job: Job) -> Estimate | None:
    """The job's estimate while it is unfinished (shared by every reader for
    FORECAST_CACHE_SECONDS), None once it has ended."""
    if job.is_finished:
        return None
    try:
        estimates = cache.get(_CACHE_KEY)
    except Exception:
        estimates = None
    if estimates is None or (str(job.id) not in estimates and job.status == Job.Status.IN_QUEUE):
        estimates = forecast()
        with contextlib.suppress(Exception):
            cache.set(_CACHE_KEY, estimates, FORECAST_CACHE_SECONDS)
    found = estimates.get(str(job.id))
    if found is not None and job.status == Job.Status.IN_PROGRESS and found.position is not None:
        return None  # started since the forecast; the next one has it
    return found
