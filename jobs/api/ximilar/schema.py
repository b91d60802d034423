"""Ximilar's request and answer shapes, for the OpenAPI schema (the bodies are read by
params.py). The answers are defined once, in payloads.py, by the serializers that render
them (re-exported here for the views); the limits documented here are read from params.py."""

from __future__ import annotations

from rest_framework import serializers

from jobs.api.ximilar import params
from jobs.api.ximilar.payloads import (  # noqa: F401  (documented by the views)
    XimilarAnswerRecordSerializer,
    XimilarAnswerSerializer,
    XimilarRequestSerializer,
    XimilarStatusSerializer,
)


class XimilarRecordSerializer(serializers.Serializer):
    _url = serializers.URLField(required=False, help_text="exactly one of _url and _base64")
    _base64 = serializers.CharField(required=False, help_text="base64 or a data: URI; not echoed back")


class XimilarUpscaleRequestSerializer(serializers.Serializer):
    records = XimilarRecordSerializer(many=True, help_text="exactly one record; its other fields come back")
    mode = serializers.ChoiceField(choices=list(params.MODES), default="artifact_removal")
    model_type = serializers.ChoiceField(
        choices=list(params.MODEL_TYPES), allow_null=True, required=False, help_text="absent or null: classic"
    )
    image_format = serializers.ChoiceField(
        choices=list(params.IMAGE_FORMATS), required=False, help_text="absent: png with alpha, else jpg"
    )
    image_quality = serializers.IntegerField(
        min_value=params.QUALITY_RANGE[0], max_value=params.QUALITY_RANGE[1], default=params.DEFAULT_QUALITY
    )
    tune_colors = serializers.BooleanField(default=True)


class XimilarWebhookSerializer(serializers.Serializer):
    endpoint = serializers.URLField()
    headers = serializers.DictField(child=serializers.CharField(), required=False)


class XimilarAsyncRequestSerializer(XimilarUpscaleRequestSerializer):
    type = serializers.ChoiceField(choices=[params.REQUEST_TYPE])
    endpoint = serializers.ChoiceField(choices=list(params.ENDPOINTS))
    webhook = XimilarWebhookSerializer(required=False)


class XimilarErrorSerializer(serializers.Serializer):
    status = XimilarStatusSerializer()
    statistics = serializers.DictField()


class XimilarRequestListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = XimilarRequestSerializer(many=True)


class XimilarUserStatsSerializer(serializers.Serializer):
    credits_counter = serializers.IntegerField(help_text="The account's balance, in this deployment's credits")


class XimilarUserSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The account's id")
    email = serializers.CharField(help_text="The email of the account's first owner (web-app login); empty if none")
    first_name = serializers.CharField(help_text="Empty: accounts have no person's name")
    last_name = serializers.CharField(help_text="Empty")
    stats = XimilarUserStatsSerializer()


ERRORS = {code: XimilarErrorSerializer for code in (400, 401, 402, 404, 413, 429, 500, 503, 504)}
READ_ERRORS = {code: XimilarErrorSerializer for code in (400, 401, 404, 429)}
ACCOUNT_ERRORS = {code: XimilarErrorSerializer for code in (401, 429)}
