"""Ximilar's own Python client (`ximilar-client`) pointed at a test server, as a team moving
from Ximilar would point it: only the endpoint and the token change."""

from __future__ import annotations

import base64

import requests
from ximilar.client import AsyncRClient, UpscaleClient

from tests.flows import wait_until

RECORD_KEYS = {"_status", "_id", "_width", "_height", "_upscaled_width", "_upscaled_height", "_upscaled_image_url"}


def client(base: str, key: str) -> UpscaleClient:
    # max_image_size=0: the client sends _base64 as it is instead of re-encoding it with OpenCV.
    return UpscaleClient(key, endpoint=base + "/", max_image_size=0)


def async_client(base: str, key: str) -> AsyncRClient:
    return AsyncRClient(key, endpoint=base + "/")


def data_uri(data: bytes, kind: str = "png") -> str:
    return f"data:image/{kind};base64," + base64.b64encode(data).decode()


def post(base: str, key: str | None, path: str, body, scheme: str = "Token") -> requests.Response:
    """Plain HTTP, as a team calling Ximilar without its client does."""
    headers = {"Authorization": f"{scheme} {key}"} if key else {}
    return requests.post(base + path, json=body, headers=headers, timeout=120)


def wait_done(request, timeout: float = 120) -> None:
    """Poll an AsynchronousRequest's status until DONE, then fetch its response."""
    seen: list = []

    def done() -> bool:
        seen.append(request.check_status())
        return seen[-1] == "DONE"

    wait_until(done, timeout, f"request {request.id} to be DONE", interval=0.2, context=lambda: str(seen[-5:]))
    assert request.update() or request.response is not None
