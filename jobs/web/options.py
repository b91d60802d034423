"""The playground's options, read from the API's input serializers (jobs/api/serializers.py)
so the ranges, defaults and choices shown are the ones the submit validates against."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rest_framework import serializers

from inference.registry import IMAGE_TYPES, models_for
from jobs import capabilities, model_catalog
from jobs.api.serializers import INPUT_SERIALIZERS, StrictBooleanField, StrictNumberField
from jobs.models import FORMAT_ALIASES

LABELS = {
    "upscaleFactor": ("Upscale factor", "How many times wider and taller the result is."),
    "resemblance": ("Resemblance", "How closely the result keeps to the input's own texture."),
    "detail": ("Detail", "How much fine texture is synthesized over the faithful base."),
    "globalCreativity": ("Creativity", "How far the result may depart from the input."),
    "description": ("Description", "What the image shows, in a few words; steers what is drawn."),
    "shouldEnhanceFaces": ("Enhance faces", "Ask for clear, natural faces."),
    "shouldPreserveBlur": ("Keep soft focus", "Leave blurred areas (bokeh, motion) soft instead of sharpening them."),
    "inputImageType": ("Image type", "Anime selects the network trained on drawings and flat colour."),
    "outputFormat": ("Format", "The file you download; a JPEG copy comes with every result."),
    "outputQuality": ("Quality", "JPEG and WebP quality, 1-100."),
    "model": (
        "Model",
        "The network that runs. Whatever its own scale, the result has the exact size you ask for, at the same price.",
    ),
}

MODE_HELP = {
    "precise": "Faithful super-resolution, 1-16x. 1 credit per 4 output megapixels.",
    "dynamic": "Super-resolution with steerable synthesized detail, 1-4x. 1 credit per output megapixel.",
    "smart": "Generative (diffusion) upscale guided by a description, 1-4x. 1 credit per output megapixel.",
    "restore": "Removes compression artifacts and noise at the original size. 8 credits flat.",
}

# The options each mode's engine acts on. The API accepts the others too, for
# compatibility, and ignores them (docs/inference.md), so the playground does not offer them.
EFFECTIVE = {
    "precise": ["upscaleFactor"],
    "dynamic": ["upscaleFactor", "resemblance", "detail", "globalCreativity"],
    "smart": ["upscaleFactor", "globalCreativity", "detail", "description", "shouldEnhanceFaces", "shouldPreserveBlur"],
    "restore": [],
}
# Shown for every mode, outside the per-mode fieldsets.
COMMON = ["inputImageType", "outputFormat", "outputQuality"]


@dataclass(frozen=True)
class Option:
    name: str  # the API's camelCase field name
    label: str
    help: str
    kind: str  # "number", "boolean", "choice" or "text"
    default: object
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    choices: list[tuple[str, str]] = field(default_factory=list)
    max_length: int | None = None
    presets: list[float] = field(default_factory=list)  # one-click values for a factor

    @property
    def default_text(self) -> str:
        if isinstance(self.default, bool):
            return "on" if self.default else "off"
        if isinstance(self.default, float):
            return f"{self.default:g}"
        return str(self.default) if self.default != "" else "empty"


def describe(mode: str, name: str) -> Option:
    declared: Any = INPUT_SERIALIZERS[mode]().fields[name]  # one of the field classes below
    label, help_text = LABELS[name]
    default = declared.default
    if isinstance(declared, StrictNumberField):
        if declared.integer:
            return Option(name, label, help_text, "number", int(default), declared.lo, declared.hi, 1)
        presets = [v for v in ((2, 4, 8, 16) if declared.hi > 4 else (1.5, 2, 3, 4)) if declared.lo <= v <= declared.hi]
        return Option(name, label, help_text, "number", default, declared.lo, declared.hi, 0.01, presets=presets)
    if isinstance(declared, StrictBooleanField):
        return Option(name, label, help_text, "boolean", bool(default))
    if isinstance(declared, serializers.ChoiceField):
        choices = [(value, value) for value in declared.choices if value not in FORMAT_ALIASES]
        return Option(name, label, help_text, "choice", default, choices=choices)
    return Option(name, label, help_text, "text", default, max_length=declared.max_length)


@dataclass(frozen=True)
class Mode:
    name: str
    help: str
    options: list[Option]
    unavailable: str | None  # why it cannot run here, or None


def modes() -> list[Mode]:
    """Every mode this deployment can show: smart only when its model is installed; the
    others always, with the reason when their model is missing."""
    out = []
    available = [entry for entry in model_catalog.listing() if entry.available and not entry.face_model]
    for mode in INPUT_SERIALIZERS:
        reason = capabilities.unavailable_reason(mode)
        if mode == "smart" and reason:
            continue
        options = [describe(mode, name) for name in EFFECTIVE[mode]]
        choice = model_option(mode, available)
        if choice is not None:
            options.append(choice)
        out.append(Mode(mode, MODE_HELP[mode], options, reason))
    return out


def model_option(mode: str, available: list[model_catalog.Entry]) -> Option | None:
    """A choice of network for precise, dynamic and restore, offered when the operator has
    installed models besides the mode's own (the default: the mode's network)."""
    if mode not in model_catalog.MODEL_MODES:
        return None
    defaults = list(dict.fromkeys(models_for(mode, image_type)[0] for image_type in IMAGE_TYPES))
    if not [entry for entry in available if entry.name not in defaults]:
        return None
    default_label = f"The {mode} network: {defaults[0]}"
    if len(defaults) > 1:
        default_label += f" ({', '.join(defaults[1:])} for anime)"
    choices = [("", default_label)] + [(entry.name, model_label(entry)) for entry in available]
    label, help_text = LABELS["model"]
    return Option("model", label, help_text, "model", "", choices=choices)


def model_label(entry: model_catalog.Entry) -> str:
    scale = f"{entry.scale}x" if entry.scale else "?x"
    text = f"{entry.name} · {scale} {entry.architecture or ''}".rstrip()
    if entry.description:
        description = entry.description if len(entry.description) <= 80 else entry.description[:79] + "…"
        text += f" · {description}"
    return text


def common() -> list[Option]:
    return [describe("restore", name) for name in COMMON]
