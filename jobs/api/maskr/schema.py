"""Maskr's request and answer shapes, for the OpenAPI schema (the answers themselves are
built by payloads.py; the states and limits documented here are read from payloads.py,
params.py and the settings, not written again)."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from jobs.api.maskr.params import MAX_BATCH_FILES
from jobs.api.maskr.payloads import STATUS

STATUSES = list(dict.fromkeys(STATUS.values()))


class MaskrUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=f"JPEG, PNG or WebP, up to {settings.MAX_INPUT_BYTES // 2**20} MB")


class MaskrBatchUploadSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(),
        min_length=1,
        max_length=MAX_BATCH_FILES,
        help_text=f"1 to {MAX_BATCH_FILES} images",
    )


class MaskrResultSerializer(serializers.Serializer):
    job_id = serializers.CharField(allow_null=True, help_text="null for a batch file refused before it became a job")
    status = serializers.ChoiceField(choices=STATUSES)
    input_filename = serializers.CharField(allow_null=True)
    output_url = serializers.CharField(allow_null=True, help_text="Signed URL that expires (completed)")
    processing_time_ms = serializers.FloatField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    original_width = serializers.IntegerField(allow_null=True)
    original_height = serializers.IntegerField(allow_null=True)
    output_width = serializers.IntegerField(allow_null=True)
    output_height = serializers.IntegerField(allow_null=True)
    credits_used = serializers.IntegerField(allow_null=True, help_text="0 once a failed job was refunded")


class MaskrUploadAnswerSerializer(serializers.Serializer):
    job_id = serializers.CharField()
    status = serializers.ChoiceField(choices=STATUSES)
    result = MaskrResultSerializer()
    error = serializers.CharField(allow_null=True)


class MaskrBatchAnswerSerializer(serializers.Serializer):
    batch_id = serializers.CharField()
    status = serializers.ChoiceField(choices=STATUSES)
    total_files = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = MaskrResultSerializer(many=True)
    total_processing_time_ms = serializers.FloatField()
    total_credits_used = serializers.IntegerField()
    error = serializers.CharField(allow_null=True)


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
