"""APIXO's refusals over HTTP, in its envelope and words: each validation message of its
table, 401, 403, 402, 404, 429; none of them charged. And what a valid request becomes
before any worker runs it (pending, priced by its output size). No worker runs in this
module: jobs that get queued stay queued."""

from __future__ import annotations

import base64

import pytest
import requests

from billing.models import ApiKey, LedgerEntry
from billing.pricing import price
from jobs.models import Job
from tests import apixo, images, maskr

pytestmark = pytest.mark.django_db(transaction=True)

URL = "https://images.example/photo.png"  # never fetched: every request here is refused first


def nothing_charged(account, balance: int = 100) -> None:
    assert not Job.objects.exists()
    assert not LedgerEntry.objects.filter(kind="debit").exists()
    account.refresh_from_db()
    assert account.balance == balance == account.ledger_sum()


def refused(r: requests.Response, code: int, message: str | None = None) -> dict:
    assert r.status_code == code, r.text
    answer = r.json()
    assert set(answer) == {"code", "message", "data"}
    assert answer["code"] == code and answer["data"] is None
    if message is not None:
        assert answer["message"] == message
    return answer


# -- 400: APIXO's validation table, word for word --------------------------------------------

TABLE = [
    ({"request_type": "async"}, "The required parameter {{input}} is missing."),
    ({"input": None}, "The required parameter {{input}} is missing."),
    (apixo.body(URL, mode="text-to-image"), "Invalid mode type. Supported: image-to-image"),
    (apixo.body(URL, mode=""), "Invalid mode type. Supported: image-to-image"),
    ({"input": {"mode": "image-to-image"}}, "The required parameter {{image_urls}} is missing."),
    ({"input": {"image_urls": URL}}, "The parameter {{image_urls}} must be Array type."),
    ({"input": {"image_urls": {"0": URL}}}, "The parameter {{image_urls}} must be Array type."),
    ({"input": {"image_urls": []}}, "The parameter {{image_urls}} must contain exactly 1 image."),
    ({"input": {"image_urls": [URL, URL]}}, "The parameter {{image_urls}} must contain exactly 1 image."),
    ({"input": {"image_urls": [7]}}, "The parameter {{image_urls}} Array elements must be String type."),
    ({"input": {"image_urls": [None]}}, "The parameter {{image_urls}} Array elements must be String type."),
    ({"input": {"image_urls": [""]}}, "The parameter {{image_urls}} cannot contain empty string."),
    ({"input": {"image_urls": ["  "]}}, "The parameter {{image_urls}} cannot contain empty string."),
    (apixo.body(URL, resolution="16k"), "The parameter {{resolution}} must be either '2k', '4k' or '8k'."),
    (apixo.body(URL, resolution=4), "The parameter {{resolution}} must be either '2k', '4k' or '8k'."),
    (apixo.body(URL, output_format="gif"), "The parameter {{output_format}} must be either 'jpg', 'png' or 'webp'."),
    (apixo.body(URL, output_format=1), "The parameter {{output_format}} must be either 'jpg', 'png' or 'webp'."),
    # Where the table is silent: ours, in its pattern.
    ({"input": "photo.png"}, "The parameter {{input}} must be Object type."),
    (
        {**apixo.body(URL), "request_type": "sync"},
        "The parameter {{request_type}} must be either 'async' or 'callback'.",
    ),
    (apixo.body(URL, request_type="callback"), "The required parameter {{callback_url}} is missing."),
    (
        {**apixo.body(URL, request_type="callback"), "callback_url": ""},
        "The required parameter {{callback_url}} is missing.",
    ),
    ([apixo.body(URL)], "The request body must be a JSON object."),
]


@pytest.mark.parametrize(("payload", "message"), TABLE)
def test_each_validation_message_is_apixos(live_server, account, payload, message):
    refused(apixo.generate(live_server.url, account.raw_key, payload), 400, message)
    nothing_charged(account)


def test_the_first_problem_in_the_tables_order_is_the_one_named(live_server, account):
    both = {"input": {"mode": "x", "image_urls": [], "resolution": "1k", "output_format": "gif"}}
    refused(apixo.generate(live_server.url, account.raw_key, both), 400, "Invalid mode type. Supported: image-to-image")
    both["input"].pop("mode")
    refused(
        apixo.generate(live_server.url, account.raw_key, both),
        400,
        "The parameter {{image_urls}} must contain exactly 1 image.",
    )
    both["input"]["image_urls"] = [URL]
    message = "The parameter {{resolution}} must be either '2k', '4k' or '8k'."
    refused(apixo.generate(live_server.url, account.raw_key, both), 400, message)
    nothing_charged(account)


def test_a_callback_url_that_is_not_an_http_url_is_a_400(live_server, account):
    # (A non-public address is refused when the callback is sent: the SSRF guard checks the
    # address it connects to, tests/test_ssrf.py.)
    for url in ("not a url", "ftp://hooks.example/x", "http://user:pw@hooks.example/"):
        payload = {**apixo.body(URL, request_type="callback"), "callback_url": url}
        answer = refused(apixo.generate(live_server.url, account.raw_key, payload), 400)
        assert answer["message"].startswith("The parameter {{callback_url}} "), answer
    nothing_charged(account)


def test_a_body_that_is_not_json_is_a_400(live_server, account):
    r = requests.post(
        live_server.url + apixo.GENERATE,
        data=b"{not json",
        headers={**apixo.headers(account.raw_key), "Content-Type": "application/json"},
        timeout=10,
    )
    assert refused(r, 400)["message"].startswith("The request body is not valid JSON")
    nothing_charged(account)


def test_the_status_of_no_task_id_is_a_400(live_server, account):
    r = requests.get(live_server.url + apixo.STATUS, headers=apixo.headers(account.raw_key), timeout=10)
    refused(r, 400, "The required parameter {{taskId}} is missing.")


# -- 401, 403 ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [apixo.GENERATE, apixo.STATUS + "?taskId=x"])
def test_a_missing_or_unknown_key_is_a_401_in_the_envelope(live_server, account, path):
    r = requests.request("POST" if "generate" in path else "GET", live_server.url + path, json={}, timeout=10)
    refused(r, 401, "Missing API key: send 'Authorization: Bearer YOUR_API_KEY'.")
    assert r.headers["WWW-Authenticate"] == "Bearer"
    r = requests.request(
        "POST" if "generate" in path else "GET", live_server.url + path, json={}, headers=apixo.headers("nope")
    )
    refused(r, 401, "Unknown API key.")
    nothing_charged(account)


def test_a_revoked_key_is_a_403(live_server, account):
    ApiKey.objects.filter(account=account).update(is_active=False)
    refused(apixo.generate(live_server.url, account.raw_key, apixo.body(URL)), 403, "This API key has been revoked.")
    nothing_charged(account)


# -- 402 -------------------------------------------------------------------------------------


def test_no_credits_is_a_402_even_for_an_image_that_would_fail(live_server, file_server):
    broke = maskr.account_with(0, name="broke")
    for url in (file_server.add("/a.png", images.png()), file_server.add("/a.txt", b"not an image")):
        answer = refused(apixo.generate(live_server.url, broke.raw_key, apixo.body(url, resolution="2k")), 402)
        assert answer["message"] == "Insufficient credits: this job costs 1 credits and the balance is 0."
    nothing_charged(broke, 0)


# -- 404 -------------------------------------------------------------------------------------


def test_an_unknown_task_or_another_accounts_is_a_404(live_server, account, other_account, file_server):
    mine = apixo.task_id(
        apixo.generate(live_server.url, account.raw_key, apixo.body(file_server.add("/a.png", images.png())))
    )
    for key, task in (
        (account.raw_key, "task_12345678"),
        (account.raw_key, "00000000-0000-0000-0000-000000000000"),
        (other_account.raw_key, mine),
    ):
        refused(apixo.status(live_server.url, key, task), 404, f"Task not found: {task!r}.")
    assert apixo.status(live_server.url, account.raw_key, mine).status_code == 200


def test_a_job_of_another_api_is_no_apixo_task(live_server, account, api):
    r = api.post("precise-upscale", {"input": {"imageBase64": base64.b64encode(images.png()).decode()}})
    assert r.status_code == 200, r.content
    refused(apixo.status(live_server.url, account.raw_key, r.json()["id"]), 404)


def test_another_model_id_is_a_404(live_server, account):
    for r in (
        requests.post(
            live_server.url + "/api/v1/generateTask/nano-banana",
            json=apixo.body(URL),
            headers=apixo.headers(account.raw_key),
            timeout=10,
        ),
        requests.get(
            live_server.url + "/api/v1/statusTask/nano-banana?taskId=x", headers=apixo.headers(account.raw_key)
        ),
    ):
        refused(r, 404, "Model not found: 'nano-banana'. This deployment serves 'image-upscaler'.")
    nothing_charged(account)


def test_the_upsampler_paths_beside_keep_their_own_shapes(live_server, account):
    auth = apixo.headers(account.raw_key)
    r = requests.get(live_server.url + "/api/v1/status/task_1", headers=auth, timeout=10)
    assert r.status_code == 404 and r.json() == {
        "status": "FAILED",
        "error": "No job with id 'task_1' for this account.",
    }
    r = requests.post(live_server.url + "/api/v1/precise-upscale", json={}, timeout=10)
    assert r.status_code == 401 and r.json()["status"] == "FAILED"


# -- 429 -------------------------------------------------------------------------------------


def test_over_the_rate_limit_is_a_429_with_retry_after(live_server, account, settings, fresh_rate_limits):
    settings.RATE_LIMITS = {"submit": [(1, 60)], "status": [(1, 60)]}
    refused(apixo.generate(live_server.url, account.raw_key, {}), 400)  # counted, and refused for its body
    r = apixo.generate(live_server.url, account.raw_key, apixo.body(URL))
    assert refused(r, 429)["message"].startswith("Rate limit exceeded: at most 1 submit requests per minute")
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    apixo.status(live_server.url, account.raw_key, "x")
    r = apixo.status(live_server.url, account.raw_key, "x")
    assert refused(r, 429)["message"].startswith("Rate limit exceeded: at most 1 status requests per minute")
    assert int(r.headers["Retry-After"]) >= 1
    nothing_charged(account)


# -- What a valid task is, before it runs ---------------------------------------------------


def test_a_task_is_pending_until_a_worker_takes_it_with_apixos_defaults(live_server, account, file_server):
    url = file_server.add("/photo.png", images.png(128, 96))
    task = apixo.task_id(apixo.generate(live_server.url, account.raw_key, {"input": {"image_urls": [url]}}))
    answer = apixo.status(live_server.url, account.raw_key, task).json()
    assert answer["code"] == 200 and answer["message"] == "success"
    data = answer["data"]
    assert set(data) == {"taskId", "state", "createTime"} and (data["taskId"], data["state"]) == (task, "pending")
    job = Job.objects.get(pk=task)
    assert abs(data["createTime"] - job.created_at.timestamp() * 1000) < 1
    # 4k and jpg by default: the long side is 4096, the aspect kept, priced by that size.
    assert (job.surface, job.mode, job.output_format, job.webhook_url) == ("apixo", "precise", "jpg", "")
    assert (job.input_width, job.input_height, job.output_width, job.output_height) == (128, 96, 4096, 3072)
    assert job.params == {"imageUrl": url, "inputImageType": "universal", "resolution": "4k", "targetLongSide": 4096}
    assert job.credit_cost == price("precise", 4096, 3072) == 3


@pytest.mark.parametrize(
    ("fields", "size", "output_format"),
    [
        ({"resolution": "2K", "output_format": "jpeg"}, (1536, 2048), "jpg"),
        ({"resolution": "8k", "output_format": "WEBP"}, (6144, 8192), "webp"),
        ({"resolution": None, "output_format": "png", "mode": None}, (3072, 4096), "png"),
    ],
)
def test_tiers_are_case_insensitive_and_jpeg_is_jpg(live_server, account, file_server, fields, size, output_format):
    url = file_server.add("/portrait.png", images.png(96, 128))
    task = apixo.task_id(apixo.generate(live_server.url, account.raw_key, apixo.body(url, **fields)))
    job = Job.objects.get(pk=task)
    assert ((job.output_width, job.output_height), job.output_format) == (size, output_format)
    assert job.credit_cost == price("precise", *size)
    account.refresh_from_db()
    assert account.balance == 100 - job.credit_cost == account.ledger_sum()


def test_8k_costs_more_than_2k(live_server, account, file_server):
    url = file_server.add("/square.png", images.png(64, 64))
    costs = {}
    for resolution in ("2k", "4k", "8k"):
        task = apixo.task_id(apixo.generate(live_server.url, account.raw_key, apixo.body(url, resolution=resolution)))
        costs[resolution] = Job.objects.get(pk=task).credit_cost
    assert costs == {"2k": 1, "4k": 4, "8k": 17}  # 4.2, 16.8 and 67.1 output megapixels at 4 MP a credit


def test_a_canceled_task_is_failed_with_an_unknown_error(live_server, account, file_server, api):
    task = apixo.task_id(
        apixo.generate(live_server.url, account.raw_key, apixo.body(file_server.add("/a.png", images.png())))
    )
    assert api.post(f"cancel/{task}").status_code == 200
    data = apixo.status(live_server.url, account.raw_key, task).json()["data"]
    assert (data["state"], data["failCode"]) == ("failed", "Unknown error")
    assert data["failMsg"] == "The job was canceled. Your credits have been refunded."
    assert data["completeTime"] >= data["createTime"] and "costTime" not in data and "resultJson" not in data


# -- 405, 503 -------------------------------------------------------------------------------


def test_the_wrong_method_is_a_405_in_the_envelope(live_server, account):
    auth = apixo.headers(account.raw_key)
    refused(requests.get(live_server.url + apixo.GENERATE, headers=auth, timeout=10), 405, 'Method "GET" not allowed.')
    r = requests.post(live_server.url + apixo.STATUS, json={}, headers=auth, timeout=10)
    refused(r, 405, 'Method "POST" not allowed.')


def test_a_deployment_without_the_network_is_a_503(live_server, account, file_server, settings, tmp_path):
    settings.UPSCALER_MODEL_DIR = str(tmp_path)  # no model files at all
    r = apixo.generate(live_server.url, account.raw_key, apixo.body(file_server.add("/a.png", images.png())))
    assert refused(r, 503)["message"].startswith("The precise mode is not available on this deployment")
    nothing_charged(account)


def test_a_tier_over_the_output_cap_is_a_400(live_server, account, file_server, settings):
    settings.MAX_OUTPUT_PIXELS = 50_000_000  # an operator's lower cap: an 8k square is 67.1 MP
    url = file_server.add("/square.png", images.png(64, 64))
    r = apixo.generate(live_server.url, account.raw_key, apixo.body(url, resolution="8k"))
    message = "The output would be 8192x8192 (67.1 MP), over the 50 MP limit: choose a smaller resolution."
    refused(r, 400, message)
    nothing_charged(account)


def test_an_apixo_model_that_cannot_run_is_a_503_not_the_clients_fault(live_server, account, file_server, settings):
    settings.APIXO_MODEL = "4x-NotInstalled"
    r = apixo.generate(live_server.url, account.raw_key, apixo.body(file_server.add("/a.png", images.png())))
    assert refused(r, 503)["message"].startswith("APIXO_MODEL cannot be used here: model must name an available model")
    nothing_charged(account)
