"""A job: one image, one mode, from IN_QUEUE to SUCCESS, FAILED or CANCELED."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from inference.imageio import DEFAULT_QUALITY
from inference.registry import MODES
from jobs import public_url

REFUND_NOTE = "Your credits have been refunded."


def default_output_ttl() -> int:
    """How long a job's output URLs work after it ends, unless its surface promises another
    lifetime (Submission.output_ttl_seconds)."""
    return settings.OUTPUT_TTL_SECONDS


class OutputFormat(models.TextChoices):
    PNG = "png"
    JPG = "jpg"
    WEBP = "webp"


# Other spellings of an output format that clients send (APIXO, Maskr and the Upsampler
# API accept "jpeg"); a job stores the format itself.
FORMAT_ALIASES = {"jpeg": OutputFormat.JPG}
# Every name an output format may be asked for by, each format followed by its aliases.
FORMAT_NAMES = tuple(
    name
    for value in OutputFormat.values
    for name in (value, *(alias for alias, of in FORMAT_ALIASES.items() if of == value))
)


def output_format(name: str) -> str:
    """The job's output format a client's name for it means ("jpeg" -> "jpg")."""
    return str(FORMAT_ALIASES.get(name, name))


class Job(models.Model):
    class Status(models.TextChoices):
        IN_QUEUE = "IN_QUEUE"
        IN_PROGRESS = "IN_PROGRESS"
        SUCCESS = "SUCCESS"
        FAILED = "FAILED"
        CANCELED = "CANCELED"

    # The functional form keeps MODES the one list of modes (django-stubs types only literals here).
    Mode = models.TextChoices("Mode", [(mode.upper(), mode) for mode in MODES])  # type: ignore[call-overload]

    class Surface(models.TextChoices):
        """The API a job came in by; its answers and webhooks take that API's shapes."""

        UPSAMPLER = "upsampler"
        XIMILAR = "ximilar"
        APIXO = "apixo"
        MASKR = "maskr"
        WEB = "web", "web app"

    class Failure(models.TextChoices):
        """Why a FAILED job failed, as a code for the surfaces that answer with one (APIXO's
        failCode); `error` says it in words. Blank: any other cause."""

        OTHER = "", "other"
        IMAGE = "image", "the input is not a usable image"
        TIMEOUT = "timeout", "the job took too long"

    class Stage(models.TextChoices):
        """The steps of a running job, each with the progress it starts at (STAGE_PROGRESS)."""

        FETCHED = "fetched", "input read"
        RUNNING = "running", "upscaling"
        ENCODING = "encoding", "encoding the outputs"
        UPLOADING = "uploading", "storing the outputs"

    UNFINISHED = (Status.IN_QUEUE, Status.IN_PROGRESS)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("billing.Account", on_delete=models.PROTECT, related_name="jobs")
    mode = models.CharField(max_length=16, choices=Mode.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_QUEUE)
    # The validated input fields, camelCase as the client sent them (image excluded).
    params = models.JSONField(default=dict)
    webhook_url = models.URLField(max_length=2000, blank=True, default="")
    # Extra headers the client asked to receive with its webhook (Ximilar's webhook.headers).
    webhook_headers = models.JSONField(default=dict, blank=True)
    batch = models.ForeignKey("jobs.Batch", null=True, blank=True, on_delete=models.PROTECT, related_name="jobs")
    surface = models.CharField(max_length=16, choices=Surface.choices, default=Surface.UPSAMPLER, db_index=True)
    # The scheme and host the job was submitted through (e.g. "https://api.example.com"), so
    # that URLs sent later, from a worker, point where the client can reach them.
    base_url = models.CharField(max_length=300, blank=True, default="")
    # What imageUrl is: png, jpg or webp, and the quality jpg and webp are encoded at.
    output_format = models.CharField(max_length=8, choices=OutputFormat.choices, default=OutputFormat.PNG)
    output_quality = models.PositiveSmallIntegerField(default=DEFAULT_QUALITY)
    # How long the output URLs work after the job ends (then the files are deleted); each
    # surface promises its own (Ximilar 24 hours, the others 3).
    output_ttl_seconds = models.PositiveIntegerField(default=default_output_ttl)
    credit_cost = models.PositiveIntegerField()
    seed = models.BigIntegerField(null=True, blank=True)
    # The network the job runs, decided at submit: the client's `model` (any model an
    # inference worker found in the model directory, NetworkModel), else the mode's default
    # for the image type. Blank on jobs from before models could be chosen.
    model = models.CharField(max_length=200, blank=True, default="")

    input_name = models.CharField(max_length=300, help_text="Storage path of the input image")
    input_format = models.CharField(max_length=8, blank=True, default="")
    input_width = models.PositiveIntegerField()
    input_height = models.PositiveIntegerField()
    output_width = models.PositiveIntegerField()
    output_height = models.PositiveIntegerField()

    # A request is waiting for this job's answer (a synchronous call): it runs first
    # (jobs/scheduler.py).
    held = models.BooleanField(default=False)
    progress = models.PositiveSmallIntegerField(default=0)
    # What the worker is doing: one of Stage, while IN_PROGRESS.
    stage = models.CharField(max_length=16, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    engine = models.CharField(max_length=100, blank=True, default="")
    # shouldEnhanceFaces, as the worker did it (inference.faces.FaceReport): whether faces were
    # enhanced, how many were detected and restored, the face model, or why not. Null until a
    # job that asked for it has succeeded, and on jobs that did not ask.
    faces = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    failure = models.CharField(max_length=16, choices=Failure.choices, blank=True, default=Failure.OTHER)
    worker = models.CharField(max_length=200, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When the maintenance sweep last sent its task again (it waited IN_QUEUE too long).
    requeued_at = models.DateTimeField(null=True, blank=True)

    image_name = models.CharField(max_length=300, blank=True, default="")
    compressed_image_name = models.CharField(max_length=300, blank=True, default="")
    image_url = models.TextField(blank=True, default="")
    compressed_image_url = models.TextField(blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    files_deleted_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The account's job list (GET /api/v1/jobs) and the unfinished-jobs cap.
            models.Index(fields=["account", "-created_at"], name="job_account_recent"),
            # The maintenance sweep for jobs stuck IN_QUEUE or IN_PROGRESS.
            models.Index(
                fields=["status", "created_at"],
                name="job_unfinished",
                condition=Q(status__in=["IN_QUEUE", "IN_PROGRESS"]),
            ),
            # The scheduler's order (jobs/scheduler.py): an account's jobs in flight, and
            # when its last job started.
            models.Index(fields=["account"], name="job_account_in_flight", condition=Q(status="IN_PROGRESS")),
            models.Index(fields=["account", "-started_at"], name="job_account_last_start"),
            # The purge of expired outputs.
            models.Index(
                fields=["expires_at"],
                name="job_files_to_purge",
                condition=Q(files_deleted_at__isnull=True, expires_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mode} {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status not in self.UNFINISHED

    @property
    def queue_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.started_at - self.created_at).total_seconds()

    @property
    def processing_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def model_name(self) -> str | None:
        """The network the job runs: its `model`, else (older jobs) the one its engine names."""
        if self.model:
            return self.model
        _, _, name = self.engine.partition("/")
        return name or None

    @property
    def faces_summary(self) -> str | None:
        """shouldEnhanceFaces in a sentence, for the web app and the admin; None when not asked."""
        if not self.params.get("shouldEnhanceFaces"):
            return None
        report = self.faces
        if not report:
            return "Requested; reported when the job has succeeded" if self.status != self.Status.SUCCESS else None
        if report.get("enhanced"):
            return f"Enhanced {report.get('restored')} of {report.get('detected')} faces with {report.get('model')}"
        return f"Not enhanced: {report.get('reason')}"

    def public_base_url(self) -> str:
        """Where URLs handed out later (webhooks, redelivery) point: PUBLIC_BASE_URL when set,
        else the base URL the job was submitted through."""
        return public_url.or_else(self.base_url)

    def output_expiry(self, ended_at: datetime) -> datetime:
        """When a job that ends at `ended_at` loses its files: its output URLs stop working
        and the maintenance sweep deletes them (and the input)."""
        return ended_at + timedelta(seconds=self.output_ttl_seconds)

    @property
    def outputs_live(self) -> bool:
        """The result files exist and their URLs still work."""
        return (
            self.status == Job.Status.SUCCESS
            and not self.files_deleted_at
            and self.expires_at is not None
            and self.expires_at > timezone.now()
        )

    @property
    def redeliver_refusal(self) -> str | None:
        """Why its webhook cannot be sent once more now; None when it can (it has one, and
        the job has ended). The API, the web app and the admin all ask this."""
        if not self.webhook_url:
            return "This job has no webhook."
        if not self.is_finished:
            return f"The job is {self.status}; its webhook is sent when it ends."
        return None


class Batch(models.Model):
    """Several images submitted in one request (Maskr's /batch): each is an ordinary job of
    the batch's account, run in parallel; the batch only groups them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("billing.Account", on_delete=models.PROTECT, related_name="batches")
    surface = models.CharField(max_length=16, choices=Job.Surface.choices)
    total_files = models.PositiveIntegerField()
    # The files in upload order, written once the batch is submitted: {"job_id": ...} for a
    # file that became a job, or {"rejected": <its answer>} for one refused before that (an
    # unreadable image, too large, no credits left), which is not a job and cost nothing.
    items = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "batches"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"batch {self.id} ({self.total_files} files)"

    def job_ids(self) -> list[str]:
        return [item["job_id"] for item in self.items if "job_id" in item]


class WebhookDelivery(models.Model):
    """One attempt to POST an event to a webhook: a job's final payload, or a test event an
    owner sent from the web app (no job; the account it was sent for instead). A job's row
    is written before the POST (that claims the attempt, jobs/webhooks.py) and completed
    with its outcome."""

    class Event(models.TextChoices):
        JOB = "job", "job finished"
        TEST = "test", "test event"

    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.CASCADE, related_name="webhook_deliveries")
    account = models.ForeignKey(
        "billing.Account", null=True, blank=True, on_delete=models.CASCADE, related_name="test_webhook_deliveries"
    )
    event = models.CharField(max_length=8, choices=Event.choices, default=Event.JOB)
    attempt = models.PositiveSmallIntegerField()
    url = models.URLField(max_length=2000)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True, default="")
    response_body = models.CharField(max_length=1000, blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # Null while the attempt is being sent.
    completed_at = models.DateTimeField(null=True, blank=True)
    # When the maintenance dispatcher sends the retry of this attempt, unless a worker has
    # taken it by then (taking it clears this). Null when no retry is planned.
    dispatch_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["created_at"]
        constraints = [
            # Claims an attempt: of two workers sending the same attempt, one INSERT wins.
            # (Test events have no job, and NULLs never collide.)
            models.UniqueConstraint(fields=["job", "attempt"], name="webhook_attempt_once"),
            models.CheckConstraint(
                condition=Q(event="job", job__isnull=False) | Q(event="test", job__isnull=True, account__isnull=False),
                name="webhook_delivery_job_or_test_event",
            ),
        ]
        indexes = [
            # The dispatcher's query for retries that are due.
            models.Index(fields=["dispatch_at"], name="webhook_retry_due", condition=Q(dispatch_at__isnull=False)),
            # The dispatcher's query for attempts whose worker died while sending.
            models.Index(fields=["created_at"], name="webhook_in_flight", condition=Q(completed_at__isnull=True)),
        ]

    def __str__(self) -> str:
        outcome = self.status_code or self.error or "?"
        return f"attempt {self.attempt} -> {outcome}"


class IdempotencyRecord(models.Model):
    """The first response to a submit sent with an `Idempotency-Key`, replayed for 24 hours."""

    account = models.ForeignKey("billing.Account", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of the endpoint and body")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    # The job the first request created, recorded in the transaction that creates and charges
    # it: a request that dies before recording its response still resolves to that job.
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # When the request that holds the key started (the first, or one that took over the key
    # of a request that died): a duplicate is refused at once while it may still be running.
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            # Concurrent duplicates: exactly one INSERT wins; the others are told to retry.
            models.UniqueConstraint(fields=["account", "key"], name="idempotency_key_per_account"),
        ]


class Counter(models.Model):
    """A named count that expires, for deployments without Redis (jobs/counters.py): the rate
    limiter's windows and the slots of image downloads in flight. Written only by single
    atomic statements (upserts), so concurrent requests are each counted once."""

    name = models.CharField(max_length=200, primary_key=True)
    count = models.BigIntegerField(default=0)
    # A slot's holder (a random token): only the request that took the slot frees it.
    holder = models.CharField(max_length=32, blank=True, default="")
    # Epoch seconds. An expired row counts as absent; indexed for the cleanup
    # DELETE ... WHERE expires_at <= now that runs when a counter starts.
    expires_at = models.FloatField(db_index=True)

    def __str__(self) -> str:
        return f"{self.name} = {self.count}"


class NetworkModel(models.Model):
    """A model file an inference worker found in the model directory (inference.catalog.scan),
    by name: the file's stem, what `model` in a submit names. Written by the scans (each
    inference worker as it starts, `manage.py rescan_models`, the admin's rescan); a file
    gone since is kept, unavailable, so the jobs that ran it still name it. The web tier
    checks `model` against these rows and never loads a network (jobs/model_catalog.py)."""

    name = models.CharField(max_length=200, primary_key=True)
    file = models.CharField(max_length=300, blank=True, default="")
    architecture = models.CharField(max_length=50, blank=True, default="", help_text="spandrel's architecture id")
    scale = models.PositiveSmallIntegerField(null=True, blank=True, help_text="The network's native scale")
    parameters = models.BigIntegerField(null=True, blank=True)
    # The file was in the model directory at the last scan and the engines can run it.
    available = models.BooleanField(default=False)
    error = models.TextField(blank=True, default="", help_text="Why it cannot be used; empty when it can")
    # The operator's words (admin, rescan_models --describe); a scan never changes them.
    description = models.TextField(blank=True, default="")
    # ModelInfo.to_dict() from the last scan that found the file (inference/modelinfo.py).
    info = models.JSONField(default=dict, blank=True)
    scanned_at = models.DateTimeField(null=True, blank=True)
    scanned_by = models.CharField(max_length=200, blank=True, default="", help_text="The worker that scanned last")
    first_seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
