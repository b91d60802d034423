"""The operators' admin, through Django's test client: read-only jobs and ledger, the job
actions (cancel with refund, retry as a new charged job, redeliver a webhook), thumbnails,
account top-ups and API keys."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from billing import ledger
from billing.models import Account, ApiKey, LedgerEntry, hash_key
from jobs import storage
from jobs.models import Job, WebhookDelivery
from tests import images

pytestmark = pytest.mark.django_db


def make_job(
    account,
    status=Job.Status.SUCCESS,
    *,
    mode="precise",
    cost=1,
    created_ago=None,
    queue_seconds=None,
    processing_seconds=None,
    output=(2000, 1000),
    webhook_url="",
    error="",
    engine="realesrgan-x4plus",
    with_files=False,
    surface="upsampler",
) -> Job:
    """A job as the API and a worker would have left it: charged on creation, refunded
    when FAILED or CANCELED, with timestamps set `created_ago` before now."""
    now = timezone.now()
    job_id = uuid.uuid4()
    input_name = ""
    if with_files:
        input_name = storage.save(f"inputs/{job_id}.png", images.png(64, 48))
    job = Job.objects.create(
        id=job_id,
        account=account,
        mode=mode,
        params={"upscaleFactor": 2},
        credit_cost=cost,
        input_name=input_name or f"inputs/{job_id}.png",
        input_format="PNG",
        input_width=64,
        input_height=48,
        output_width=output[0],
        output_height=output[1],
        webhook_url=webhook_url,
        surface=surface,
    )
    ledger.debit_for_job(account.pk, job, cost)
    created = now - (created_ago or timedelta(minutes=5))
    fields = {"created_at": created, "status": status, "error": error}
    if status in (Job.Status.IN_PROGRESS, Job.Status.SUCCESS, Job.Status.FAILED):
        started = created + timedelta(seconds=queue_seconds if queue_seconds is not None else 2)
        fields.update(started_at=started, attempts=1, engine=engine)
        if status != Job.Status.IN_PROGRESS:
            fields["finished_at"] = started + timedelta(
                seconds=processing_seconds if processing_seconds is not None else 10
            )
    if status == Job.Status.CANCELED:
        fields["finished_at"] = created + timedelta(seconds=1)
    if status == Job.Status.SUCCESS and with_files:
        fields["image_name"] = storage.save(f"outputs/{job_id}.png", images.png(128, 96))
        fields["compressed_image_name"] = storage.save(f"outputs/{job_id}.jpg", images.jpeg(128, 96))
    Job.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()
    if status in (Job.Status.FAILED, Job.Status.CANCELED):
        ledger.refund_job(job, reason=status.lower())
    return job


@pytest.fixture
def staff(db, client):
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123")
    client.force_login(user)
    return user


def changelist(model: str) -> str:
    return reverse(f"admin:{model}_changelist")


def run_action(client, model: str, action: str, pks, **extra):
    data = {"action": action, "_selected_action": [str(pk) for pk in pks], "index": "0", **extra}
    return client.post(changelist(model), data, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_it_lists_and_filters_jobs(client, staff, account, other_account):
    failed = make_job(account, Job.Status.FAILED, error="Boom.")
    ok = make_job(other_account, Job.Status.SUCCESS, mode="restore", cost=8)
    old = make_job(account, Job.Status.SUCCESS, created_ago=timedelta(days=40))

    r = client.get(changelist("jobs_job"), {"status__exact": "FAILED"})
    assert r.status_code == 200
    assert list(r.context["cl"].result_list) == [failed]
    r = client.get(changelist("jobs_job"), {"mode__exact": "restore"})
    assert list(r.context["cl"].result_list) == [ok]
    r = client.get(changelist("jobs_job"), {"account__id__exact": account.pk})
    assert set(r.context["cl"].result_list) == {failed, old}
    week_ago = (timezone.now() - timedelta(days=7)).replace(microsecond=0).isoformat(sep=" ")
    r = client.get(changelist("jobs_job"), {"created_at__gte": week_ago})
    assert set(r.context["cl"].result_list) == {failed, ok}
    r = client.get(changelist("jobs_job"), {"q": str(ok.pk)})
    assert list(r.context["cl"].result_list) == [ok]
    r = client.get(changelist("jobs_job"), {"q": str(failed.pk)[:8]})
    assert list(r.context["cl"].result_list) == [failed]
    r = client.get(changelist("jobs_job"), {"q": "not-an-id"})
    assert list(r.context["cl"].result_list) == []


def test_it_filters_jobs_by_surface_and_breaks_the_dashboard_down_by_surface(client, staff, account):
    upsampler = make_job(account, Job.Status.SUCCESS, cost=3)
    r = client.get(changelist("jobs_job"), {"surface__exact": "upsampler"})
    assert list(r.context["cl"].result_list) == [upsampler]
    failed = make_job(account, Job.Status.FAILED, cost=2)
    data = client.get(reverse("admin-dashboard-data")).json()
    [row] = data["surfaces"]
    assert row == {
        "surface": "upsampler",
        "total": 2,
        "unfinished": 0,
        "credits": 3,  # the failed job's 2 were refunded
        "byStatus": {"SUCCESS": 1, "FAILED": 1},
    }
    page = client.get(reverse("admin-dashboard")).content.decode()
    assert 'id="jobs-by-surface"' in page and "<td>upsampler</td>" in page
    assert client.get(changelist("jobs_job"), {"surface__exact": "maskr"}).context["cl"].result_count == 0
    assert failed.status == "FAILED"


def test_it_shows_a_job_read_only_with_timings_and_deliveries(client, staff, account):
    job = make_job(
        account, Job.Status.SUCCESS, queue_seconds=3, processing_seconds=12.5, webhook_url="https://example.com/hook"
    )
    WebhookDelivery.objects.create(
        job=job, attempt=1, url=job.webhook_url, status_code=500, response_body="oops", duration_ms=12
    )
    r = client.get(reverse("admin:jobs_job_change", args=[job.pk]))
    assert r.status_code == 200
    body = r.content.decode()
    assert "3.0 s" in body and "12.5 s" in body and "realesrgan-x4plus" in body
    assert "oops" in body  # the delivery inline
    assert 'name="_save"' not in body  # nothing to save: view only

    # Posting a change anyway is refused, and nothing can be added or deleted.
    r = client.post(reverse("admin:jobs_job_change", args=[job.pk]), {"status": "FAILED"})
    assert r.status_code == 403
    job.refresh_from_db()
    assert job.status == "SUCCESS"
    assert client.get(reverse("admin:jobs_job_add")).status_code == 403
    assert client.get(reverse("admin:jobs_job_delete", args=[job.pk])).status_code == 403
    entry = job.ledger.get()
    delete_url = reverse("admin:billing_ledgerentry_delete", args=[entry.pk])
    assert client.get(delete_url).status_code == 403
    r = client.post(reverse("admin:billing_ledgerentry_change", args=[entry.pk]), {"amount": 5})
    assert r.status_code == 403


def test_it_cancels_queued_jobs_with_a_refund(client, staff, account):
    queued = make_job(account, Job.Status.IN_QUEUE, cost=3)
    running = make_job(account, Job.Status.IN_PROGRESS, cost=2)
    balance = Account.objects.get(pk=account.pk).balance

    r = run_action(client, "jobs_job", "cancel_with_refund", [queued.pk, running.pk])
    assert r.status_code == 200
    text = " ".join(messages_of(r))
    assert "Canceled and refunded 1 job." in text
    assert "1 job not canceled" in text
    queued.refresh_from_db()
    running.refresh_from_db()
    assert queued.status == "CANCELED" and running.status == "IN_PROGRESS"
    refund = LedgerEntry.objects.get(job=queued, kind="refund")
    assert refund.amount == 3
    account.refresh_from_db()
    assert account.balance == balance + 3 == account.ledger_sum()


def test_it_retries_a_failed_job_as_a_new_charged_job(client, staff, account, django_capture_on_commit_callbacks):
    failed = make_job(
        account, Job.Status.FAILED, cost=4, with_files=True, error="Boom.", webhook_url="https://example.com/hook"
    )
    balance = Account.objects.get(pk=account.pk).balance
    sent = []
    from jobs import tasks

    original = tasks.run_job.apply_async
    tasks.run_job.apply_async = lambda args=None, **kw: sent.append(args)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            r = run_action(client, "jobs_job", "retry_failed", [failed.pk])
    finally:
        tasks.run_job.apply_async = original
    assert r.status_code == 200
    new = Job.objects.exclude(pk=failed.pk).get()
    assert r.redirect_chain[-1][0] == reverse("admin:jobs_job_change", args=[new.pk])
    assert new.status == "IN_QUEUE" and new.mode == failed.mode and new.params == failed.params
    assert new.webhook_url == failed.webhook_url
    assert new.input_name != failed.input_name
    assert storage.read(new.input_name) == storage.read(failed.input_name)
    assert LedgerEntry.objects.get(job=new, kind="debit").amount == -new.credit_cost
    account.refresh_from_db()
    assert account.balance == balance - new.credit_cost == account.ledger_sum()
    assert sent == [[str(new.pk)]]
    failed.refresh_from_db()
    assert failed.status == "FAILED"  # the old job keeps its refund


def test_it_refuses_a_retry_without_credits(client, staff, account):
    failed = make_job(account, Job.Status.FAILED, cost=4, with_files=True)
    account.refresh_from_db()
    ledger.top_up(account, -account.balance, memo="drain", kind=LedgerEntry.Kind.ADJUSTMENT)
    inputs = storage_inputs()
    r = run_action(client, "jobs_job", "retry_failed", [failed.pk])
    assert any("Insufficient credits" in m for m in messages_of(r))
    assert Job.objects.count() == 1
    assert storage_inputs() == inputs  # the copied input was removed again
    done = make_job(account, Job.Status.SUCCESS, cost=0)
    r = run_action(client, "jobs_job", "retry_failed", [done.pk])
    assert any("only FAILED jobs" in m for m in messages_of(r))


def storage_inputs() -> list[str]:
    from django.core.files.storage import default_storage

    try:
        return sorted(default_storage.listdir("inputs")[1])
    except FileNotFoundError:
        return []


def test_it_queues_a_manual_webhook_redelivery(client, staff, account, monkeypatch):
    from jobs import tasks

    done = make_job(account, Job.Status.SUCCESS, webhook_url="https://example.com/hook")
    no_hook = make_job(account, Job.Status.SUCCESS)
    calls = []
    monkeypatch.setattr(
        tasks.deliver_webhook, "apply_async", lambda args=None, kwargs=None, **kw: calls.append((args, kwargs))
    )
    r = run_action(client, "jobs_job", "redeliver_webhook", [done.pk, no_hook.pk])
    assert calls == [([str(done.pk)], {"manual": True})]
    text = " ".join(messages_of(r))
    assert "Queued a webhook redelivery for 1 job." in text and "1 job skipped" in text

    # The button on the job page does the same.
    r = client.post(reverse("admin:jobs_job_redeliver", args=[done.pk]))
    assert r.status_code == 302 and len(calls) == 2


def test_it_reports_a_broker_outage_on_redelivery(client, staff, account, monkeypatch):
    from jobs import tasks

    def down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.deliver_webhook, "apply_async", down)
    done = make_job(account, Job.Status.SUCCESS, webhook_url="https://example.com/hook")
    r = run_action(client, "jobs_job", "redeliver_webhook", [done.pk])
    assert any("broker is unavailable" in m for m in messages_of(r))


def test_it_serves_thumbnails_to_staff_only(client, staff, account):
    import io

    from PIL import Image

    job = make_job(account, Job.Status.SUCCESS, with_files=True)
    for which in ("input", "output"):
        r = client.get(reverse("admin:jobs_job_thumbnail", args=[job.pk, which]))
        assert r.status_code == 200 and r["Content-Type"] == "image/jpeg"
        image = Image.open(io.BytesIO(r.content))
        assert image.format == "JPEG" and max(image.size) <= 320
    thumbnail = reverse("admin:jobs_job_thumbnail", args=[job.pk, "secrets"])
    assert client.get(thumbnail).status_code == 404
    storage.delete(job.input_name)
    thumbnail = reverse("admin:jobs_job_thumbnail", args=[job.pk, "input"])
    assert client.get(thumbnail).status_code == 404

    client.logout()
    r = client.get(reverse("admin:jobs_job_thumbnail", args=[job.pk, "output"]))
    assert r.status_code == 302 and "/admin/login/" in r["Location"]
    user = get_user_model().objects.create_user("customer", password="pw-123-customer")
    client.force_login(user)
    r = client.get(reverse("admin:jobs_job_thumbnail", args=[job.pk, "output"]))
    assert r.status_code == 302  # not staff: back to the login page


def test_it_tops_up_an_account_through_the_form(client, staff, account):
    url = reverse("admin:billing_account_top_up", args=[account.pk])
    r = run_action(client, "billing_account", "top_up", [account.pk])
    assert r.redirect_chain[-1][0] == url
    assert b'name="credits"' in r.content and b'name="memo"' in r.content

    r = client.post(url, {"credits": "0", "memo": "x"})
    assert r.status_code == 200 and r.context["form"].errors
    r = client.post(url, {"credits": "250", "memo": "invoice 42"}, follow=True)
    assert any("Added 250 credits" in m for m in messages_of(r))
    entry = LedgerEntry.objects.filter(account=account).first()
    assert (entry.kind, entry.amount, entry.memo) == ("topup", 250, "invoice 42 (by ops)")
    account.refresh_from_db()
    assert account.balance == 350 == account.ledger_sum()
    # The account page shows the balance (read-only) and the ledger inline.
    r = client.get(reverse("admin:billing_account_change", args=[account.pk]))
    body = r.content.decode()
    assert "invoice 42 (by ops)" in body and 'name="balance"' not in body


def test_it_toggles_is_active_without_touching_the_balance(client, staff, account):
    r = client.get(reverse("admin:billing_account_change", args=[account.pk]))
    assert r.status_code == 200
    data = {
        "name": account.name,
        "balance": "999999",
        "owners-TOTAL_FORMS": "0",
        "owners-INITIAL_FORMS": "0",
        "api_keys-TOTAL_FORMS": "0",
        "api_keys-INITIAL_FORMS": "0",
        "ledger-TOTAL_FORMS": "0",
        "ledger-INITIAL_FORMS": "0",
    }
    r = client.post(reverse("admin:billing_account_change", args=[account.pk]), data)
    assert r.status_code == 302, r.context and r.context["adminform"].form.errors
    account.refresh_from_db()
    assert account.is_active is False and account.balance == 100
    run_action(client, "billing_account", "activate", [account.pk])
    account.refresh_from_db()
    assert account.is_active is True


def test_it_shows_a_new_api_key_once_and_stores_its_hash(client, staff, account):
    r = client.post(reverse("admin:billing_apikey_add"), {"account": account.pk, "name": "ci"}, follow=True)
    assert r.status_code == 200
    [shown] = [m for m in messages_of(r) if "copy it now" in m]
    raw = shown.split(" is ", 1)[1].split(" ", 1)[0]
    key = ApiKey.objects.get(name="ci")
    assert key.key_hash == hash_key(raw) and raw.startswith(key.prefix)
    # Never again: the key's page shows the prefix only.
    r = client.get(reverse("admin:billing_apikey_change", args=[key.pk]))
    assert raw not in r.content.decode() and key.prefix in r.content.decode()
    # And it works against the API.
    assert client.get("/api/v1/account", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


def test_it_revokes_api_keys(client, staff, account):
    key = ApiKey.objects.get(account=account)
    run_action(client, "billing_apikey", "revoke", [key.pk])
    key.refresh_from_db()
    assert key.is_active is False and key.revoked_at is not None
    r = client.get("/api/v1/account", HTTP_AUTHORIZATION=f"Bearer {account.raw_key}")
    assert r.status_code == 403


def test_it_serves_the_dashboard_and_its_data(client, staff, account):
    make_job(account, Job.Status.SUCCESS, queue_seconds=2, processing_seconds=10)
    make_job(account, Job.Status.SUCCESS, queue_seconds=4, processing_seconds=30)
    make_job(account, Job.Status.FAILED, error="The model ran out of memory.")
    r = client.get(reverse("admin:index"))
    assert reverse("admin-dashboard").encode() in r.content
    r = client.get(reverse("admin-dashboard"))
    assert r.status_code == 200
    assert b"The model ran out of memory." in r.content and b"dashboard-data" in r.content
    data = client.get(reverse("admin-dashboard-data")).json()
    assert sum(data["jobsPerHour"]["counts"]["SUCCESS"]) == 2
    assert data["creditsPerDay"]["spent"][-1] == 2  # 3 charged, 1 refunded
    assert data["failures"]["rate"] == pytest.approx(1 / 3)
    assert data["timings"]["processing"]["p50"] == pytest.approx(10)
    assert set(data["queues"]) == {"inference", "webhooks", "maintenance"}

    client.logout()
    assert client.get(reverse("admin-dashboard")).status_code == 302
    assert client.get(reverse("admin-dashboard-data")).status_code == 302


def test_an_accounts_page_lists_and_links_its_web_app_owners(client, staff, account, owner):
    r = client.get(reverse("admin:billing_account_change", args=[account.pk]))
    assert r.status_code == 200
    assert b"account owners" in r.content.lower()
    assert f'value="{owner.pk}"'.encode() in r.content
    teammate = get_user_model().objects.create_user("bo@acme.example", "bo@acme.example", "pw-bo-123456")
    data = {
        "name": account.name,
        "is_active": "on",
        "owners-TOTAL_FORMS": "2",
        "owners-INITIAL_FORMS": "1",
        "owners-0-id": str(owner.owner.pk),
        "owners-0-account": str(account.pk),
        "owners-0-user": str(owner.pk),
        "owners-1-account": str(account.pk),
        "owners-1-user": str(teammate.pk),
        "api_keys-TOTAL_FORMS": "0",
        "api_keys-INITIAL_FORMS": "0",
        "ledger-TOTAL_FORMS": "0",
        "ledger-INITIAL_FORMS": "0",
    }
    r = client.post(reverse("admin:billing_account_change", args=[account.pk]), data)
    assert r.status_code == 302, r.context and [f.errors for f in r.context["inline_admin_formsets"][0].formset]
    assert set(account.owners.values_list("user__username", flat=True)) == {"owner@acme.example", "bo@acme.example"}
