"""Ximilar's request and answer shapes, for the OpenAPI schema (the bodies are read by
params.py and built by payloads.py). Answers echo the client's own record fields, which a
serializer would drop, so they are built by payloads.py; every state, type, limit and
lifetime documented here is read from params.py and payloads.py, not written again."""

from __future__ import annotations

from rest_framework import serializers

from jobs.api.ximilar import params, payloads


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


class XimilarStatusSerializer(serializers.Serializer):
    code = serializers.IntegerField(help_text="the HTTP code of the answer")
    text = serializers.CharField()
    error_description = serializers.CharField(required=False)
    request_id = serializers.CharField(required=False)
    proc_id = serializers.CharField(required=False)


class XimilarAnswerRecordSerializer(serializers.Serializer):
    _status = XimilarStatusSerializer()
    _id = serializers.CharField(help_text="the job's id")
    _width = serializers.IntegerField()
    _height = serializers.IntegerField()
    _upscaled_width = serializers.IntegerField(required=False)
    _upscaled_height = serializers.IntegerField(required=False)
    _upscaled_image_url = serializers.CharField(
        required=False, help_text=f"works for {params.OUTPUT_TTL_SECONDS // 3600} hours"
    )


class XimilarAnswerSerializer(serializers.Serializer):
    records = XimilarAnswerRecordSerializer(many=True)
    statistics = serializers.DictField(help_text='{"processing time": seconds}')
    status = XimilarStatusSerializer()


class XimilarErrorSerializer(serializers.Serializer):
    status = XimilarStatusSerializer()
    statistics = serializers.DictField()


class XimilarRequestSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=list(dict.fromkeys(payloads.REQUEST_STATUS.values())))
    type = serializers.ChoiceField(choices=[params.REQUEST_TYPE])
    response = XimilarAnswerSerializer(required=False, help_text="once DONE: the synchronous endpoint's answer")


class XimilarRequestListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = XimilarRequestSerializer(many=True)


ERRORS = {code: XimilarErrorSerializer for code in (400, 401, 402, 404, 413, 429, 500, 503, 504)}
READ_ERRORS = {code: XimilarErrorSerializer for code in (400, 401, 404, 429)}
