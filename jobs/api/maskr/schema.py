"""Maskr's request and error shapes, for the OpenAPI schema. Its answers are defined once,
in payloads.py, by the serializers that render them (re-exported here for the views); the
limits documented here are read from params.py and the settings."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from jobs.api.maskr.params import MAX_BATCH_FILES
from jobs.api.maskr.payloads import (  # noqa: F401  (documented by the views)
    STATUSES,
    MaskrBatchAnswerSerializer,
    MaskrResultSerializer,
    MaskrUploadAnswerSerializer,
)


class MaskrUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=f"JPEG, PNG or WebP, up to {settings.MAX_INPUT_BYTES // 2**20} MB")


class MaskrBatchUploadSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(),
        min_length=1,
        max_length=MAX_BATCH_FILES,
        help_text=f"1 to {MAX_BATCH_FILES} images",
    )


class MaskrDetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class MaskrValidationProblemSerializer(serializers.Serializer):
    loc = serializers.ListField(child=serializers.CharField())
    msg = serializers.CharField()
    type = serializers.CharField()
    ctx = serializers.DictField(required=False)


class MaskrValidationErrorSerializer(serializers.Serializer):
    detail = MaskrValidationProblemSerializer(many=True)


ERRORS = {
    **{code: MaskrDetailSerializer for code in (400, 401, 402, 413, 429, 503)},
    422: MaskrValidationErrorSerializer,
}
READ_ERRORS = {code: MaskrDetailSerializer for code in (401, 429)}
