"""The operators' view of jobs: a read-only list and detail page with thumbnails, timings
and webhook attempts, and the few actions operators need (cancel with refund, retry a
failed job as a new charged job, redeliver a webhook). The models the workers found (their
descriptions editable, a rescan on a worker). Also the dashboard page."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from inference import registry
from jobs import lifecycle
from jobs.errors import DomainError
from jobs.models import Batch, Job, NetworkModel, WebhookDelivery
from jobs.operators.admin_mixins import ReadOnlyAdminMixin
from jobs.operators.thumbnails import THUMBNAIL_SOURCES, thumbnail_response
from jobs.submission import resubmit

log = logging.getLogger(__name__)

admin.site.site_header = "Upscaler operations"
admin.site.site_title = "Upscaler admin"
# The index gains a link to the dashboard. Setting the template on the site (rather than
# shadowing admin/index.html) works whatever the order of INSTALLED_APPS.
admin.site.index_template = "admin/upscaler_index.html"


def can_operate(request) -> bool:
    """Jobs are never edited by hand, so the model's change permission is what allows the
    operator actions (cancel, retry, redeliver)."""
    return request.user.has_perm("jobs.change_job")


class WebhookDeliveryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "attempt",
        "created_at",
        "url",
        "status_code",
        "succeeded",
        "duration_ms",
        "error",
        "response_body",
    )
    ordering = ("created_at", "id")


def seconds_label(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


class BatchFilter(admin.SimpleListFilter):
    """In a batch or not; `?batch=<id>` (the batch page links to it) lists one batch's jobs.
    Not a list of every batch: there are as many as uploads."""

    title = "batch"
    parameter_name = "batch"

    def lookups(self, request, model_admin):
        return [("any", "in a batch"), ("none", "not in a batch")]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if value == "any":
            return queryset.filter(batch__isnull=False)
        if value == "none":
            return queryset.filter(batch__isnull=True)
        try:
            return queryset.filter(batch_id=uuid.UUID(value))
        except ValueError:
            return queryset.none()


class ModelFilter(admin.SimpleListFilter):
    """The network a job ran. The choices come from the (small) model table and the
    registry, not from a DISTINCT over every job."""

    title = "model"
    parameter_name = "model"

    def lookups(self, request, model_admin):
        names = {*NetworkModel.objects.values_list("name", flat=True), *registry.MODELS, *registry.PIPELINES}
        return [(name, name) for name in sorted(names, key=str.lower)]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(model=value) if value else queryset


@admin.register(Job)
class JobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "short_id",
        "input_thumbnail",
        "account",
        "mode",
        "surface",
        "batch_link",
        "status",
        "created_at",
        "queue_time",
        "processing_time",
        "engine",
        "credit_cost",
    )
    list_filter = ("status", "mode", "surface", ModelFilter, BatchFilter, "account", "created_at")
    list_select_related = ("account",)
    search_fields = ("id",)
    search_help_text = "A job id (full, or its first characters)."
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    list_per_page = 50
    show_full_result_count = False  # COUNT(*) over every job on each page view is slow
    inlines = [WebhookDeliveryInline]
    actions = ["cancel_with_refund", "retry_failed", "redeliver_webhook"]
    fieldsets = (
        (None, {"fields": ("id", "account", "mode", "surface", "batch", "status", "progress", "error")}),
        (
            "Images",
            {
                "fields": (
                    "thumbnails",
                    ("input_width", "input_height", "input_format"),
                    ("output_width", "output_height"),
                    ("output_format", "output_quality", "output_ttl_seconds"),
                    "input_name",
                    "image_name",
                    "compressed_image_name",
                    "expires_at",
                    "files_deleted_at",
                )
            },
        ),
        (
            "Timings",
            {
                "fields": (
                    "created_at",
                    "started_at",
                    "finished_at",
                    "queue_time",
                    "processing_time",
                    "heartbeat_at",
                )
            },
        ),
        ("Run", {"fields": ("model", "engine", "faces_summary", "worker", "attempts", "seed", "params")}),
        ("Billing and webhook", {"fields": ("credit_cost", "webhook_url", "base_url")}),
    )

    # -- read-only: jobs change only through their lifecycle ----------------------------------

    def has_operate_permission(self, request):
        return can_operate(request)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Job._meta.fields] + [
            "faces_summary",
            "thumbnails",
            "queue_time",
            "processing_time",
        ]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().lower()
        if not term:
            return queryset, False
        try:
            return queryset.filter(pk=uuid.UUID(term)), False
        except ValueError:
            pass
        hexdigits = term.replace("-", "")
        if not hexdigits or any(c not in "0123456789abcdef" for c in hexdigits):
            return queryset.none(), False
        # A prefix of the id, as shown in the list ("0b6c1f2e").
        low = uuid.UUID(hexdigits.ljust(32, "0"))
        high = uuid.UUID(hexdigits.ljust(32, "f"))
        return queryset.filter(pk__gte=low, pk__lte=high), False

    # -- columns ----------------------------------------------------------------------------

    @admin.display(description="id", ordering="id")
    def short_id(self, job: Job) -> str:
        return str(job.id)[:8]

    @admin.display(description="batch", ordering="batch")
    def batch_link(self, job: Job) -> str:
        if job.batch_id is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:jobs_batch_change", args=[job.batch_id]), str(job.batch_id)[:8]
        )

    @admin.display(description="faces (shouldEnhanceFaces)")
    def faces_summary(self, job: Job) -> str:
        return job.faces_summary or "-"

    @admin.display(description="in queue")
    def queue_time(self, job: Job) -> str:
        return seconds_label(job.queue_seconds)

    @admin.display(description="processing")
    def processing_time(self, job: Job) -> str:
        return seconds_label(job.processing_seconds)

    @admin.display(description="input")
    def input_thumbnail(self, job: Job) -> str:
        if job.files_deleted_at or not job.input_name:
            return "-"
        return format_html(
            '<img src="{}" alt="input" class="job-thumb" loading="lazy" height="40" onerror="this.replaceWith(\'-\')">',
            self._thumbnail_url(job, "input"),
        )

    @admin.display(description="thumbnails")
    def thumbnails(self, job: Job) -> str:
        if job.files_deleted_at:
            return "The files were deleted at the end of their retention period."
        parts = []
        for which, field in THUMBNAIL_SOURCES.items():
            if getattr(job, field):
                parts.append(
                    format_html(
                        '<figure class="job-thumbnail"><img src="{}" alt="{}" id="thumbnail-{}">'
                        "<figcaption>{}</figcaption></figure>",
                        self._thumbnail_url(job, which),
                        which,
                        which,
                        which,
                    )
                )
        if not parts:
            return "-"
        return format_html(
            '<div style="display:flex;gap:16px;align-items:flex-start">{}</div>',
            format_html("".join(["{}"] * len(parts)), *parts),
        )

    def _thumbnail_url(self, job: Job, which: str) -> str:
        return reverse("admin:jobs_job_thumbnail", args=[job.pk, which])

    # -- extra views --------------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<uuid:object_id>/thumbnail/<str:which>/", view(self.thumbnail_view), name="jobs_job_thumbnail"),
            path("<uuid:object_id>/cancel/", view(require_POST(self.cancel_view)), name="jobs_job_cancel"),
            path("<uuid:object_id>/retry/", view(require_POST(self.retry_view)), name="jobs_job_retry"),
            path("<uuid:object_id>/redeliver/", view(require_POST(self.redeliver_view)), name="jobs_job_redeliver"),
            *super().get_urls(),
        ]

    def thumbnail_view(self, request, object_id, which: str):
        """A small JPEG of a job's input or output, read from storage (local or S3) and
        downsized here; staff only (admin_view), never a public URL."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return thumbnail_response(get_object_or_404(Job, pk=object_id), which)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = Job.objects.filter(pk=object_id).first() if _is_uuid(object_id) else None
        extra_context = {
            **(extra_context or {}),
            "can_operate": can_operate(request),
            "can_cancel": job is not None and job.status == Job.Status.IN_QUEUE,
            "can_retry": job is not None and job.status == Job.Status.FAILED,
            "can_redeliver": job is not None and job.is_finished and bool(job.webhook_url),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _object_action(self, request, object_id, action):
        if not can_operate(request):
            raise PermissionDenied
        queryset = Job.objects.filter(pk=object_id)
        if not queryset.exists():
            raise Http404("No such job.")
        result = action(request, queryset)
        if isinstance(result, HttpResponse):
            return result
        return HttpResponseRedirect(reverse("admin:jobs_job_change", args=[object_id]))

    def cancel_view(self, request, object_id):
        return self._object_action(request, object_id, self.cancel_with_refund)

    def retry_view(self, request, object_id):
        return self._object_action(request, object_id, self.retry_failed)

    def redeliver_view(self, request, object_id):
        return self._object_action(request, object_id, self.redeliver_webhook)

    # -- actions -------------------------------------------------------------------------

    @admin.action(description="Cancel selected queued jobs and refund them", permissions=["operate"])
    def cancel_with_refund(self, request, queryset):
        canceled = skipped = 0
        for job in queryset:
            if lifecycle.cancel(job):
                canceled += 1
            else:
                skipped += 1
        if canceled:
            self.message_user(request, f"Canceled and refunded {_jobs(canceled)}.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{_jobs(skipped)} not canceled: only jobs IN_QUEUE can be canceled.", messages.WARNING
            )

    @admin.action(description="Retry selected failed jobs (new charged jobs)", permissions=["operate"])
    def retry_failed(self, request, queryset):
        created = []
        for job in queryset.select_related("account"):
            if job.status != Job.Status.FAILED:
                self.message_user(
                    request, f"Job {job.pk} is {job.status}; only FAILED jobs can be retried.", messages.WARNING
                )
                continue
            try:
                created.append((job, resubmit(job)))
            except DomainError as exc:
                self.message_user(request, f"Job {job.pk} was not retried: {exc}", messages.ERROR)
        for old, new in created:
            self.message_user(
                request,
                format_html(
                    'Job {} retried as new job <a href="{}">{}</a> ({} credits charged).',
                    old.pk,
                    reverse("admin:jobs_job_change", args=[new.pk]),
                    new.pk,
                    new.credit_cost,
                ),
                messages.SUCCESS,
            )
        if len(created) == 1 and len(queryset) == 1:
            return HttpResponseRedirect(reverse("admin:jobs_job_change", args=[created[0][1].pk]))
        return None

    @admin.action(description="Redeliver the webhook of selected finished jobs", permissions=["operate"])
    def redeliver_webhook(self, request, queryset):
        queued = skipped = 0
        for job in queryset:
            if job.redeliver_refusal:
                skipped += 1
                continue
            try:
                lifecycle.redeliver(job)
            except Exception as exc:
                log.exception("Could not queue a webhook redelivery for job %s", job.id)
                self.message_user(
                    request, f"The broker is unavailable, nothing was queued ({type(exc).__name__}).", messages.ERROR
                )
                return None
            queued += 1
        if queued:
            self.message_user(request, f"Queued a webhook redelivery for {_jobs(queued)}.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{_jobs(skipped)} skipped: no webhook, or not finished yet.", messages.WARNING)
        return None


class BatchJobInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Job
    extra = 0
    can_delete = False
    show_change_link = True
    fields = readonly_fields = (
        "status",
        "input_width",
        "input_height",
        "output_width",
        "output_height",
        "output_format",
        "credit_cost",
        "processing_time",
        "error",
    )
    ordering = ("created_at",)

    @admin.display(description="processing")
    def processing_time(self, job: Job) -> str:
        return seconds_label(job.processing_seconds)


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A Maskr batch: its jobs inline (and listed on the jobs page), and the files refused
    before they became jobs."""

    list_display = ("short_id", "account", "surface", "total_files", "job_counts", "created_at")
    list_filter = ("surface", "account", "created_at")
    list_select_related = ("account",)
    search_fields = ("id",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [BatchJobInline]
    fields = readonly_fields = ("id", "account", "surface", "total_files", "created_at", "jobs_link", "refused_files")

    def get_queryset(self, request):
        unfinished = Count("jobs", filter=Q(jobs__status__in=Job.UNFINISHED))
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_jobs=Count("jobs"),
                n_succeeded=Count("jobs", filter=Q(jobs__status=Job.Status.SUCCESS)),
                n_unfinished=unfinished,
            )
        )

    @admin.display(description="id", ordering="id")
    def short_id(self, batch: Batch) -> str:
        return str(batch.id)[:8]

    @admin.display(description="jobs: succeeded / unfinished / all (refused files are not jobs)")
    def job_counts(self, batch: Batch) -> str:
        counts: Any = batch  # annotated by get_queryset
        return f"{counts.n_succeeded} / {counts.n_unfinished} / {counts.n_jobs}"

    @admin.display(description="jobs")
    def jobs_link(self, batch: Batch) -> str:
        url = reverse("admin:jobs_job_changelist") + f"?batch={batch.pk}"
        counts: Any = batch  # annotated by get_queryset
        return format_html('<a href="{}">{} jobs in the job list</a>', url, counts.n_jobs)

    @admin.display(description="refused before becoming jobs (not charged)")
    def refused_files(self, batch: Batch) -> str:
        refused = [item["rejected"] for item in batch.items if "rejected" in item]
        if not refused:
            return "-"
        return format_html(
            "<ul>{}</ul>",
            format_html_join("", "<li>{}: {}</li>", ((r.get("filename") or "?", r["error"]) for r in refused)),
        )


@admin.register(NetworkModel)
class NetworkModelAdmin(admin.ModelAdmin):
    """The models the inference workers found in the model directory. Only the description
    is edited here; the rest is what the last scan recorded. Rows are never deleted: a file
    that is gone stays listed, unavailable, so the jobs that ran it still name it."""

    change_list_template = "admin/jobs/networkmodel/change_list.html"
    list_display = (
        "name",
        "architecture",
        "scale_label",
        "parameters_label",
        "available",
        "short_error",
        "description",
        "scanned_at",
        "scanned_by",
    )
    list_filter = ("available", "architecture", "scale")
    search_fields = ("name", "description")
    fields = (
        "name",
        "file",
        "architecture",
        "scale",
        "parameters",
        "available",
        "error",
        "description",
        "default_for",
        "jobs_link",
        "scanned_at",
        "scanned_by",
        "first_seen_at",
        "info",
    )
    readonly_fields = tuple(f for f in fields if f != "description")

    def has_add_permission(self, request):
        return False  # rows come from scans

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="scale", ordering="scale")
    def scale_label(self, row: NetworkModel) -> str:
        return f"{row.scale}x" if row.scale is not None else "-"

    @admin.display(description="parameters", ordering="parameters")
    def parameters_label(self, row: NetworkModel) -> str:
        return f"{row.parameters:,}" if row.parameters is not None else "-"

    @admin.display(description="error")
    def short_error(self, row: NetworkModel) -> str:
        return row.error if len(row.error) <= 120 else row.error[:119] + "…"

    @admin.display(description="default network of")
    def default_for(self, row: NetworkModel) -> str:
        from jobs.model_catalog import default_for

        uses = default_for(row.name)
        return "; ".join(f"{mode} ({', '.join(types)})" for mode, types in uses.items()) or "-"

    @admin.display(description="jobs")
    def jobs_link(self, row: NetworkModel) -> str:
        url = reverse("admin:jobs_job_changelist") + f"?model={row.pk}"
        return format_html('<a href="{}">jobs that ran {}</a>', url, row.pk)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("rescan/", view(require_POST(self.rescan_view)), name="jobs_networkmodel_rescan"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_rescan": self.has_change_permission(request)}
        return super().changelist_view(request, extra_context)

    def rescan_view(self, request):
        """Queue a scan on an inference worker: only the workers have torch (and the files
        as they see them); the web process never loads a network."""
        from django.conf import settings

        from jobs.model_scan import scan_models

        if not self.has_change_permission(request):
            raise PermissionDenied
        try:
            scan_models.apply_async(queue=settings.INFERENCE_QUEUE)
        except Exception as exc:
            log.exception("Could not queue a model rescan")
            self.message_user(
                request, f"The broker is unavailable, nothing was queued ({type(exc).__name__}).", messages.ERROR
            )
        else:
            self.message_user(
                request,
                "Queued a rescan of the model directory. The next free inference worker runs it (after the jobs "
                "queued before it); reload this page to see the result.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:jobs_networkmodel_changelist"))


def _jobs(n: int) -> str:
    return f"{n} job" if n == 1 else f"{n} jobs"


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
