"""Celery is configured in one place, the `CELERY_*` settings: queues, acks, prefetch, the
beat schedule and the broker's timeouts. The app only loads them; tasks name their queue."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.conf import settings

from upscaler_platform.celery import app

REPO = Path(__file__).resolve().parent.parent


def test_the_app_sets_nothing_itself():
    tree = ast.parse((REPO / "upscaler_platform" / "celery.py").read_text())
    touched = [ast.unparse(node) for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "conf"]
    assert touched == [], "configure Celery with CELERY_* settings, not on app.conf"


def test_acks_late_is_set_once_in_settings():
    tree = ast.parse((REPO / "jobs" / "tasks.py").read_text())
    per_task = [
        kw.arg
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg in ("acks_late", "reject_on_worker_lost")
    ]
    assert per_task == []
    assert app.conf.task_acks_late is True and app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_each_task_has_an_explicit_route_to_a_queue_named_in_settings():
    import jobs.tasks  # noqa: F401  (registers the tasks)

    queues = {q.name for q in app.conf.task_queues}
    assert queues == {settings.INFERENCE_QUEUE, settings.WEBHOOKS_QUEUE, settings.MAINTENANCE_QUEUE}
    ours = sorted(name for name in app.tasks if name.startswith("jobs."))
    assert ours and sorted(app.conf.task_routes) == ours, "every task gets its own route, no wildcards"
    assert queue_of("jobs.tasks.run_job") == settings.INFERENCE_QUEUE
    assert queue_of("jobs.tasks.deliver_webhook") == settings.WEBHOOKS_QUEUE
    for name, entry in app.conf.beat_schedule.items():
        assert entry["task"] in app.tasks, name
        assert queue_of(entry["task"]) == entry["options"]["queue"] == settings.MAINTENANCE_QUEUE, name


def test_the_broker_timeouts_are_defined_once(settings, monkeypatch):
    import redis

    from jobs.operators import dashboard, health

    assert app.conf.broker_connection_timeout == settings.CELERY_BROKER_CONNECTION_TIMEOUT
    assert app.conf.broker_transport_options["visibility_timeout"] == settings.BROKER_VISIBILITY_TIMEOUT_SECONDS
    assert settings.BROKER_VISIBILITY_TIMEOUT_SECONDS > settings.JOB_TIME_LIMIT_SECONDS + 60  # the hard limit

    settings.CELERY_BROKER_CONNECTION_TIMEOUT = 1.25
    seen = []

    def from_url(url, **kwargs):
        seen.append((kwargs["socket_timeout"], kwargs["socket_connect_timeout"]))
        raise redis.ConnectionError("not tried")

    monkeypatch.setattr(redis.Redis, "from_url", from_url)
    with pytest.raises(redis.ConnectionError):
        health.check_broker()
    assert dashboard.queue_depths() is None
    assert seen == [(1.25, 1.25), (1.25, 1.25)]
    assert dashboard.broker_connection().connect_timeout == 1.25
