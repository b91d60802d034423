"""APIXO's request shapes and answer envelopes, for the OpenAPI schema. The task inside the
status answer is payloads.ApixoTaskSerializer, which also renders it; the body is checked
by params.py."""

from __future__ import annotations

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from jobs.api.apixo import params
from jobs.api.apixo.payloads import ApixoTaskSerializer


class ApixoInputSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=[params.MODE], default=params.MODE)
    image_urls = serializers.ListField(
        child=serializers.CharField(), min_length=1, max_length=1, help_text="Exactly 1 public image URL"
    )
    resolution = serializers.ChoiceField(
        choices=list(params.RESOLUTIONS),
        default=params.DEFAULT_RESOLUTION,
        help_text="The output's long side: 2048, 4096 or 8192 pixels, the aspect ratio kept (case-insensitive)",
    )
    output_format = serializers.ChoiceField(
        choices=list(params.OUTPUT_FORMATS), default=params.DEFAULT_OUTPUT_FORMAT, help_text="jpeg is jpg"
    )


class ApixoGenerateRequestSerializer(serializers.Serializer):
    request_type = serializers.ChoiceField(choices=list(params.REQUEST_TYPES), default="async")
    callback_url = serializers.URLField(
        required=False, help_text="Required with request_type callback: receives the final status answer"
    )
    input = ApixoInputSerializer()


class ApixoTaskIdSerializer(serializers.Serializer):
    taskId = serializers.CharField()


def envelope(name: str, data: serializers.Field, code: str = "200", message: str = "success") -> serializers.Serializer:
    """APIXO's {code, message, data} around `data` (inline: a Serializer has a `data` of its own)."""
    return inline_serializer(
        name,
        fields={
            "code": serializers.IntegerField(help_text=code),
            "message": serializers.CharField(help_text=message),
            "data": data,
        },
    )


SUBMIT_ANSWER = envelope("ApixoSubmitAnswer", ApixoTaskIdSerializer())
STATUS_ANSWER = envelope("ApixoStatusAnswer", ApixoTaskSerializer())  # payloads.py: renders it too
BALANCE_ANSWER = envelope(
    "ApixoBalanceAnswer",
    serializers.IntegerField(help_text="The account's balance, in this deployment's credits (APIXO: USD)"),
)
ERROR = envelope(
    "ApixoError", serializers.JSONField(allow_null=True, help_text="null"), "The HTTP status", "What is wrong"
)
ERRORS = {code: ERROR for code in (400, 401, 402, 403, 404, 429, 503)}
READ_ERRORS = {code: ERROR for code in (400, 401, 403, 404, 429)}
ACCOUNT_ERRORS = {code: ERROR for code in (401, 403, 429)}
