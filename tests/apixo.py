"""An APIXO client over real HTTP, as a team calling APIXO's Image Upscaler would write it."""

from __future__ import annotations

import json

import requests

from tests.flows import wait_until

GENERATE = "/api/v1/generateTask/image-upscaler"
STATUS = "/api/v1/statusTask/image-upscaler"
FINAL_STATES = ("success", "failed")


def headers(key: str | None) -> dict:
    return {"Authorization": f"Bearer {key}"} if key else {}


def body(url: str, request_type: str = "async", **fields) -> dict:
    """A request as APIXO's document writes it; `fields` add to (or replace) the input."""
    return {"request_type": request_type, "input": {"mode": "image-to-image", "image_urls": [url], **fields}}


def generate(base: str, key: str | None, payload, timeout: float = 60) -> requests.Response:
    return requests.post(base + GENERATE, json=payload, headers=headers(key), timeout=timeout)


def status(base: str, key: str | None, task_id: str) -> requests.Response:
    return requests.get(base + STATUS, params={"taskId": task_id}, headers=headers(key), timeout=30)


def task_id(r: requests.Response) -> str:
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["code"] == 200 and answer["message"] == "success", answer
    assert set(answer["data"]) == {"taskId"}
    return answer["data"]["taskId"]


def wait(base: str, key: str, task: str, timeout: float = 240) -> dict:
    """Poll as APIXO's document recommends (faster: these tasks are small) until the task
    ends; returns the final status answer."""

    def ended():
        r = status(base, key, task)
        assert r.status_code == 200, r.text
        answer = r.json()
        return answer if answer["data"]["state"] in FINAL_STATES else None

    return wait_until(ended, timeout, f"task {task} to end", interval=0.3)


def result_urls(data: dict) -> list[str]:
    """resultJson is a JSON string, parsed as APIXO's quickstart does."""
    assert isinstance(data["resultJson"], str)
    return json.loads(data["resultJson"])["resultUrls"]
