"""Input validation for the submit endpoints, field names as Upsampler's API spells them.

Unknown fields are ignored (real clients send globalCreativity to precise-upscale); known
fields are validated strictly, and each error names the field and what is allowed.
"""

from __future__ import annotations

import math

from rest_framework import serializers

from inference.imageio import DEFAULT_QUALITY
from inference.registry import IMAGE_TYPES
from inference.sizing import FACTOR_RANGES
from jobs import scheduler
from jobs.models import FORMAT_NAMES, Job, OutputFormat, WebhookDelivery, output_format
from jobs.storage import absolute_url


class StrictNumberField(serializers.FloatField):
    """A number within [lo, hi]; booleans, NaN and infinities are refused."""

    def __init__(self, name: str, lo: float, hi: float, *, integer: bool = False, **kwargs):
        self.field_label, self.lo, self.hi, self.integer = name, lo, hi, integer
        kind = "a whole number" if integer else "a number"
        self.allowed = f"{name} must be {kind} from {lo:g} to {hi:g}"
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or data is None:
            self._fail(data)
        if isinstance(data, str):
            data = data.strip()
        try:
            value = float(data)
        except (TypeError, ValueError):
            self._fail(data)
        if not math.isfinite(value) or not (self.lo <= value <= self.hi):
            self._fail(data)
        if self.integer:
            if value != int(value):
                self._fail(data)
            return int(value)
        return value

    def _fail(self, data):
        raise serializers.ValidationError(f"{self.allowed} (got {data!r}).")


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if isinstance(data, str):
            lowered = data.strip().lower()
            if lowered in ("true", "1"):
                return True
            if lowered in ("false", "0"):
                return False
        elif isinstance(data, bool):
            return data
        raise serializers.ValidationError(f"must be true or false (got {data!r}).")


def _choice(name: str, choices: tuple[str, ...], default: str) -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=choices,
        default=default,
        error_messages={"invalid_choice": f'{name} must be one of {", ".join(choices)} (got "{{input}}").'},
    )


class BaseInputSerializer(serializers.Serializer):
    imageUrl = serializers.CharField(
        required=False,
        max_length=4000,
        help_text="http(s) URL of a JPEG, PNG or WebP image",
        error_messages={"blank": "imageUrl is empty.", "max_length": "imageUrl must be at most 4000 characters."},
    )
    imageBase64 = serializers.CharField(
        required=False,
        help_text="The image as base64 or a data: URI",
        error_messages={"blank": "imageBase64 is empty."},
    )
    inputImageType = _choice("inputImageType", IMAGE_TYPES, "universal")
    outputFormat = serializers.ChoiceField(
        choices=list(FORMAT_NAMES),
        default=OutputFormat.PNG.value,
        help_text="imageUrl's format (jpeg is jpg); compressedImageUrl stays a JPEG",
        error_messages={"invalid_choice": f'outputFormat must be one of {", ".join(FORMAT_NAMES)} (got "{{input}}").'},
    )
    outputQuality = StrictNumberField(
        "outputQuality", 1, 100, integer=True, required=False, default=DEFAULT_QUALITY, help_text="jpg and webp quality"
    )
    shouldEnhanceFaces = StrictBooleanField(required=False, default=False)
    shouldPreserveBlur = StrictBooleanField(required=False, default=False)

    def validate_outputFormat(self, value: str) -> str:
        return output_format(value)

    def validate_imageUrl(self, value: str) -> str:
        value = value.strip()
        if not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("imageUrl must be an http or https URL.")
        return value


class ModelNameField(serializers.CharField):
    """`model`: a model installed on this deployment, by name (GET /api/v1/models). Only
    its form is checked here; whether it exists, at submit (jobs/model_catalog.py)."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "help_text",
            "A model from GET /api/v1/models (its name, the stem of its file) to run instead of the mode's "
            "default network; whatever its native scale the output has the exact size, at the same price",
        )
        super().__init__(
            required=False,
            max_length=200,
            error_messages={
                "blank": "model is empty: leave it out for the mode's default network.",
                "max_length": "model must be at most 200 characters.",
            },
            **kwargs,
        )

    def to_internal_value(self, data):
        if not isinstance(data, str) or any(c in data for c in "/\\\0"):
            raise serializers.ValidationError(
                f"model must be a model's name, as GET /api/v1/models lists them (got {data!r})."
            )
        return super().to_internal_value(data)


class PreciseInputSerializer(BaseInputSerializer):
    upscaleFactor = StrictNumberField("upscaleFactor", *FACTOR_RANGES["precise"], required=False, default=4)
    model = ModelNameField()


class SmartInputSerializer(BaseInputSerializer):
    upscaleFactor = StrictNumberField("upscaleFactor", *FACTOR_RANGES["smart"], required=False, default=2)
    globalCreativity = StrictNumberField("globalCreativity", 0, 10, integer=True, required=False, default=5)
    detail = StrictNumberField("detail", 0, 10, integer=True, required=False, default=5)
    description = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=1000,
        trim_whitespace=True,
        error_messages={"max_length": "description must be at most 1000 characters."},
    )
    model = ModelNameField(help_text="Not for smart, which runs its diffusion pipeline (precise, dynamic, restore)")

    def validate_model(self, value: str) -> str:
        raise serializers.ValidationError(
            "model applies to precise, dynamic and restore; smart runs its own diffusion pipeline."
        )


class DynamicInputSerializer(SmartInputSerializer):
    resemblance = StrictNumberField("resemblance", 0, 10, integer=True, required=False, default=8)
    shouldPreserveHands = StrictBooleanField(required=False, default=False)
    model = ModelNameField()

    def validate_model(self, value: str) -> str:
        return value


class RestoreInputSerializer(BaseInputSerializer):
    model = ModelNameField()


INPUT_SERIALIZERS = {
    "precise": PreciseInputSerializer,
    "dynamic": DynamicInputSerializer,
    "smart": SmartInputSerializer,
    "restore": RestoreInputSerializer,
}


def submit_request_serializer(mode: str) -> type[serializers.Serializer]:
    """The documented request body for a mode: {"webhook": ..., "input": {...}}."""
    return type(
        f"{mode.capitalize()}Request",
        (serializers.Serializer,),
        {
            "webhook": serializers.URLField(required=False, help_text="Receives the final status payload"),
            "input": INPUT_SERIALIZERS[mode](),
        },
    )


class SubmitResponseSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["IN_QUEUE"])
    creditCost = serializers.IntegerField()


class AbsoluteUrlField(serializers.CharField):
    """A stored URL; app-relative ones (signed local files) get the base URL from the context."""

    def to_representation(self, value: str) -> str:
        return absolute_url(value, self.context.get("base_url", ""))


class StateField(serializers.ChoiceField):
    """A job's status as a vendor's state: renders `mapping[job.status]` and documents the
    vendor's states as the choices, from the one mapping."""

    def __init__(self, mapping: dict[str, str], **kwargs):
        self.mapping = mapping
        super().__init__(choices=list(dict.fromkeys(mapping.values())), source="status", **kwargs)

    def to_representation(self, value: str) -> str:
        return self.mapping[value]


def computed(field: serializers.Field, compute) -> serializers.Field:
    """`field` (its type, choices, help text: what the schema documents) whose value is
    `compute(job, context)`: a vendor's answer field derived from the job, defined once for
    rendering and documenting. None leaves an optional field out (AnswerSerializer)."""

    class Computed(type(field)):  # type: ignore[misc]
        def get_attribute(self, instance):
            return instance

        def to_representation(self, value):
            return compute(value, self.context)

    return Computed(*field._args, **field._kwargs)  # type: ignore[attr-defined]  # kept by DRF for copies


class AnswerSerializer(serializers.Serializer):
    """A vendor's answer, rendered from a job by the same serializer that documents it in the
    OpenAPI schema: its optional fields (required=False) are left out when they have no
    value (None) for this job."""

    def to_representation(self, instance) -> dict:
        data = super().to_representation(instance)
        for name, field in self.fields.items():
            if not field.required and data.get(name) is None:
                data.pop(name, None)
        return data


class FacesSerializer(serializers.Serializer):
    """What shouldEnhanceFaces did (jobs.models.Job.faces, inference.faces.FaceReport)."""

    enhanced = serializers.BooleanField(help_text="At least one face was restored and pasted back")
    detected = serializers.IntegerField(help_text="Faces the detector (RetinaFace) found in the output")
    restored = serializers.IntegerField(help_text="Faces restored by the face model and pasted back")
    model = serializers.CharField(allow_null=True, help_text="The face restoration model, e.g. GFPGANv1.4")
    reason = serializers.CharField(
        allow_null=True,
        help_text="Why no face was enhanced (no face model installed, no face found); null when enhanced",
    )


class StatusSerializer(serializers.Serializer):
    """The status payload: GET /status/<id>, the jobs list and the webhook body. Which of the
    optional fields appear depends on the status (Upsampler's shapes, plus our extensions)."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Job.Status.values)
    creditCost = serializers.IntegerField(source="credit_cost")
    progress = serializers.IntegerField(required=False, help_text="0-100, while unfinished")
    imageUrl = AbsoluteUrlField(
        source="image_url", required=False, help_text="The result in outputFormat, PNG by default (SUCCESS)"
    )
    compressedImageUrl = AbsoluteUrlField(
        source="compressed_image_url", required=False, help_text=f"JPEG, quality {DEFAULT_QUALITY} (SUCCESS)"
    )
    expiresAt = serializers.DateTimeField(source="expires_at", required=False, help_text="When both URLs stop working")
    error = serializers.CharField(required=False, help_text="Why it failed (FAILED, CANCELED)")
    mode = serializers.CharField()
    surface = serializers.CharField(help_text="The API the job came in by: upsampler, ximilar, apixo, maskr, web")
    outputFormat = serializers.CharField(source="output_format", help_text="imageUrl's format: png, jpg or webp")
    outputWidth = serializers.IntegerField(source="output_width")
    outputHeight = serializers.IntegerField(source="output_height")
    createdAt = serializers.DateTimeField(source="created_at")
    batchId = serializers.UUIDField(
        source="batch_id", required=False, help_text="The batch the job came in (Maskr's /batch); absent otherwise"
    )
    model = serializers.CharField(
        source="model_name",
        allow_null=True,
        help_text="The network the job runs: the model it named, else its mode's default (GET /api/v1/models)",
    )
    faces = FacesSerializer(
        allow_null=True,
        required=False,
        help_text="Only for jobs sent with shouldEnhanceFaces: what it did, once the job has succeeded (null before)",
    )

    # Extensions while the job waits or runs (jobs/scheduler.py): where it stands in the
    # queue and when it should start and end, from recent similar jobs' times.
    queuePosition = serializers.IntegerField(
        required=False, help_text="IN_QUEUE: 1 when it is the next job to start, 2 with one job before it, ..."
    )
    estimatedStartAt = serializers.DateTimeField(required=False, help_text="IN_QUEUE: when it should start")
    estimatedEndAt = serializers.DateTimeField(required=False, help_text="IN_QUEUE, IN_PROGRESS: when it should end")
    stage = serializers.ChoiceField(
        choices=Job.Stage.values, required=False, help_text="IN_PROGRESS: fetched, running, encoding, uploading"
    )
    startedAt = serializers.DateTimeField(source="started_at", required=False, help_text="When a worker took it")
    finishedAt = serializers.DateTimeField(source="finished_at", required=False, help_text="When it ended")

    # Fields shown only in some statuses; every other field is always there.
    ONLY_WHEN = {
        "progress": set(Job.UNFINISHED),
        "stage": {Job.Status.IN_PROGRESS},
        "imageUrl": {Job.Status.SUCCESS},
        "compressedImageUrl": {Job.Status.SUCCESS},
        "expiresAt": {Job.Status.SUCCESS},
        "error": {Job.Status.FAILED, Job.Status.CANCELED},
    }

    def to_representation(self, job: Job) -> dict:
        data = super().to_representation(job)
        for name, statuses in self.ONLY_WHEN.items():
            if job.status not in statuses:
                data.pop(name, None)
        if job.batch_id is None:
            data.pop("batchId", None)
        if not job.params.get("shouldEnhanceFaces"):
            data.pop("faces", None)
        for name in ("stage", "startedAt", "finishedAt"):
            if data.get(name) in (None, ""):
                data.pop(name, None)
        estimate = scheduler.estimate(job)
        if estimate is not None:
            if estimate.position is not None:
                data["queuePosition"] = estimate.position
                data["estimatedStartAt"] = self.fields["estimatedStartAt"].to_representation(estimate.starts_at)
            data["estimatedEndAt"] = self.fields["estimatedEndAt"].to_representation(estimate.ends_at)
        return data


def status_payload(job: Job, base_url: str) -> dict:
    return StatusSerializer(job, context={"base_url": base_url}).data


class ErrorSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["FAILED"])
    error = serializers.CharField()


class JobListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    pageSize = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = StatusSerializer(many=True)


class AccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    balance = serializers.IntegerField(help_text="Credits available")
    unfinishedJobs = serializers.IntegerField()
    limits = serializers.DictField(child=serializers.IntegerField())
    webhookSecret = serializers.CharField(help_text="whsec_ secret that signs webhooks (Standard Webhooks)")


class WebhookSecretSerializer(serializers.Serializer):
    webhookSecret = serializers.CharField()
    previousSecretValidUntil = serializers.DateTimeField()


class WebhookDeliverySerializer(serializers.ModelSerializer):
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)
    durationMs = serializers.IntegerField(source="duration_ms")
    createdAt = serializers.DateTimeField(source="created_at")
    completedAt = serializers.DateTimeField(
        source="completed_at", allow_null=True, help_text="When the answer came; null while the attempt is being sent"
    )

    class Meta:
        model = WebhookDelivery
        fields = [
            "attempt",
            "url",
            "statusCode",
            "succeeded",
            "error",
            "durationMs",
            "createdAt",
            "completedAt",
        ]


class RedeliverSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["QUEUED"], help_text="The delivery is queued")


class ModeSerializer(serializers.Serializer):
    mode = serializers.CharField()
    available = serializers.BooleanField()
    models = serializers.ListField(child=serializers.CharField())
    reason = serializers.CharField(allow_null=True)


class ModesSerializer(serializers.Serializer):
    modes = ModeSerializer(many=True)


class NetworkModelSerializer(serializers.Serializer):
    """One model a job can name (jobs.model_catalog.Entry)."""

    name = serializers.CharField(help_text="What `model` takes: the stem of the model's file")
    architecture = serializers.CharField(allow_null=True, help_text="spandrel's architecture id, e.g. ESRGAN, SPAN")
    architectureName = serializers.CharField(source="architecture_name", allow_null=True)
    purpose = serializers.CharField(
        allow_null=True,
        help_text="spandrel's: SR (super-resolution), Restoration, or FaceSR (a face restoration model: "
        "shouldEnhanceFaces runs it on the detected faces; `model` cannot name it)",
    )
    scale = serializers.IntegerField(
        allow_null=True,
        help_text="The network's native scale (1 for restoration networks). Every upscaleFactor in the mode's "
        "range still gives the exact output size: the network runs in as many passes as needed, then a resample",
    )
    parameters = serializers.IntegerField(allow_null=True, help_text="Null until a worker has scanned the file")
    description = serializers.CharField(allow_blank=True)
    available = serializers.BooleanField(help_text="In the model directory at the last scan, and runnable")
    error = serializers.CharField(allow_null=True, help_text="Why it cannot be used; null when it can")
    modes = serializers.ListField(child=serializers.CharField(), help_text="The modes that accept it as `model`")
    enhancesFaces = serializers.BooleanField(
        source="face_model", help_text="A face restoration model, run by shouldEnhanceFaces (the first available one)"
    )
    defaultFor = serializers.DictField(
        source="default_for",
        child=serializers.ListField(child=serializers.CharField()),
        help_text="mode -> inputImageTypes that run it when a job names no model",
    )
    file = serializers.CharField(allow_null=True)
    scannedAt = serializers.DateTimeField(
        source="scanned_at", allow_null=True, help_text="The last scan that recorded it; null: a built-in model"
    )


class NetworkModelsSerializer(serializers.Serializer):
    models = NetworkModelSerializer(many=True)


def webhook_body(job: Job) -> dict:
    """POSTed to an Upsampler-style job's webhook: its status payload."""
    return status_payload(job, job.public_base_url())
