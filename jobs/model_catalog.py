"""The models a job can name (`model` in precise, dynamic and restore): what the inference
workers found in the model directory, recorded as NetworkModel rows, and the registry's
built-in models, which are known before any scan.

Torch-free: the web tier decides from these records and never loads a network. The scans
themselves run where torch is (jobs/model_scan.py) and hand their results to `record_scan`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inference import registry
from inference.modelinfo import ModelInfo
from jobs.errors import InvalidRequest
from jobs.models import NetworkModel

log = logging.getLogger(__name__)
NAME_MAX_LENGTH: int = NetworkModel._meta.get_field("name").max_length  # type: ignore[assignment]
# The modes that run any spandrel network by name (inference.api.MODEL_MODES; that module
# imports torch, so the web tier cannot read it from there).
MODEL_MODES = ("precise", "dynamic", "restore")

FACE_PURPOSE = "FaceSR"  # spandrel's purpose of face restoration models (GFPGAN, RestoreFormer, ...)

REFRESH_HINT = (
    "Inference workers scan the model directory when they start; an operator can rescan it "
    "with 'python manage.py rescan_models' or from the admin."
)


class UnknownModel(InvalidRequest):
    """`model` names nothing a job can run here; `available` lists what it could name."""

    def __init__(self, message: str, *, available: list[str]):
        super().__init__(message, field="model")
        self.available = available


@dataclass(frozen=True)
class Entry:
    """One model as GET /api/v1/models lists it."""

    name: str
    architecture: str | None
    architecture_name: str | None
    purpose: str | None
    scale: int | None
    parameters: int | None
    description: str
    available: bool
    error: str | None
    file: str | None
    registered: bool  # one of the registry's built-in models
    scanned_at: datetime | None  # None: known from the registry, not scanned yet
    default_for: dict[str, list[str]] = field(default_factory=dict)  # mode -> image types

    @property
    def face_model(self) -> bool:
        """A face restoration model: shouldEnhanceFaces runs it, `model` cannot name it."""
        return self.purpose == FACE_PURPOSE

    @property
    def modes(self) -> list[str]:
        return list(MODEL_MODES) if self.available and not self.face_model else []


def default_for(name: str) -> dict[str, list[str]]:
    """The modes (and image types) that run `name` when a job names no model."""
    out: dict[str, list[str]] = {}
    for mode in MODEL_MODES:
        types = [t for t in registry.IMAGE_TYPES if registry.models_for(mode, t)[0] == name]
        if types:
            out[mode] = types
    return out


def default_model(mode: str, image_type: str) -> str:
    """What a job of `mode` runs when it names no model (smart: its pipeline)."""
    return registry.models_for(mode, image_type)[0]


def _from_row(row: NetworkModel) -> Entry:
    info = ModelInfo.from_dict(row.info) if row.info else None
    spec = registry.MODELS.get(row.name)
    return Entry(
        name=row.name,
        architecture=row.architecture or None,
        architecture_name=info.architecture_name if info else None,
        purpose=info.purpose if info else None,
        scale=row.scale,
        parameters=row.parameters,
        description=row.description or (spec.description if spec else ""),
        available=row.available,
        error=row.error or None,
        file=row.file or None,
        registered=spec is not None,
        scanned_at=row.scanned_at,
        default_for=default_for(row.name),
    )


def _from_registry(spec: registry.ModelSpec) -> Entry:
    """A built-in model no scan has recorded: the registry says what it is, the model
    directory (which the web tier sees too) whether its file is there."""
    installed = registry.is_installed(spec.name, settings.UPSCALER_MODEL_DIR)
    path = registry.model_path(spec.name, settings.UPSCALER_MODEL_DIR)
    return Entry(
        name=spec.name,
        architecture=spec.architecture,
        architecture_name=None,
        purpose=spec.purpose,
        scale=spec.scale,
        parameters=None,
        description=spec.description,
        available=installed,
        error=None
        if installed
        else f"{spec.filename} is not in the model directory; an operator installs it with "
        f"'python manage.py fetch_models {spec.name}'",
        file=path.name if installed else None,
        registered=True,
        scanned_at=None,
        default_for=default_for(spec.name),
    )


def listing() -> list[Entry]:
    """Every model: the recorded ones, and the built-in ones not recorded yet; by name."""
    entries = {row.name: _from_row(row) for row in NetworkModel.objects.all()}
    for name, spec in registry.MODELS.items():
        if name not in entries:
            entries[name] = _from_registry(spec)
    return [entries[name] for name in sorted(entries, key=str.lower)]


def entry(name: str) -> Entry | None:
    row = NetworkModel.objects.filter(pk=name).first()
    if row is not None:
        return _from_row(row)
    spec = registry.MODELS.get(name)
    return _from_registry(spec) if spec is not None else None


def available_names() -> list[str]:
    """The models `model` can name: available, and not face models."""
    return [e.name for e in listing() if e.available and not e.face_model]


def face_model_names() -> list[str]:
    """The available face restoration models (what shouldEnhanceFaces can run)."""
    return [e.name for e in listing() if e.available and e.face_model]


def choose(mode: str, image_type: str, requested: str | None) -> str:
    """The network a job runs: `requested` when it can run here, else the mode's default.
    Raises UnknownModel (a 400) listing the models it could name."""
    if not requested:
        return default_model(mode, image_type)
    if mode not in MODEL_MODES:
        raise InvalidRequest(
            f"model applies to {', '.join(MODEL_MODES)}; {mode} runs its own diffusion pipeline.", field="model"
        )
    found = entry(requested)
    if found is not None and found.face_model:
        raise UnknownModel(
            f'model "{requested}" is a face restoration model: it runs on the faces of any job sent with '
            f"shouldEnhanceFaces, not as a mode's network. Available models: "
            f"{', '.join(available_names()) or 'none'} (GET /api/v1/models describes them).",
            available=available_names(),
        )
    if found is not None and found.available:
        return requested
    names = available_names()
    listed = ", ".join(names) or "none"
    if found is not None:
        raise UnknownModel(
            f'model "{requested}" cannot be used: {found.error or "it is not available"}. '
            f"Available models: {listed} (GET /api/v1/models describes them).",
            available=names,
        )
    message = f'model must name an available model: {listed} (got "{requested}"); GET /api/v1/models describes them.'
    if not NetworkModel.objects.exists():
        message += (
            " No inference worker has recorded a scan of the model directory yet, so only the built-in models "
            f"are known. {REFRESH_HINT}"
        )
    raise UnknownModel(message, available=names)


def record_scan(infos: Iterable[ModelInfo], scanned_by: str) -> dict[str, list[str]]:
    """Record a scan of the whole model directory: each model found is written (its
    description kept), and each recorded model not found is marked unavailable (kept, so
    old jobs still name it). Returns the names found, usable or not, and gone."""
    now = timezone.now()
    infos = list(infos)
    too_long = [info.name for info in infos if len(info.name) > NAME_MAX_LENGTH]
    if too_long:  # one odd file name must not keep the others from being recorded
        log.warning("model files with names over %d characters are not recorded: %s", NAME_MAX_LENGTH, too_long)
        infos = [info for info in infos if len(info.name) <= NAME_MAX_LENGTH]
    rows = [
        NetworkModel(
            name=info.name,
            file=info.file,
            architecture=info.architecture or "",
            scale=info.scale,
            parameters=info.parameters,
            available=info.usable,
            error=info.error or "",
            info=info.to_dict(),
            scanned_at=now,
            scanned_by=scanned_by[:200],
        )
        for info in infos
    ]
    found = [info.name for info in infos]
    with transaction.atomic():
        # One statement per scan: two workers recording at once never collide on a new name.
        NetworkModel.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["name"],
            update_fields=[
                "file",
                "architecture",
                "scale",
                "parameters",
                "available",
                "error",
                "info",
                "scanned_at",
                "scanned_by",
            ],
        )
        gone = list(NetworkModel.objects.exclude(name__in=found).select_for_update())
        for row in gone:
            row.available = False
            row.error = f"{row.file or row.name} was not in the model directory at the last scan"
            row.scanned_at, row.scanned_by = now, scanned_by[:200]
            row.save(update_fields=["available", "error", "scanned_at", "scanned_by"])
    return {
        "usable": [info.name for info in infos if info.usable],
        "unusable": [info.name for info in infos if not info.usable],
        "gone": [row.name for row in gone],
    }


def describe(name: str, text: str) -> NetworkModel:
    """Set a recorded model's description (kept through rescans). LookupError naming the
    recorded models when `name` is not one."""
    updated = NetworkModel.objects.filter(pk=name).update(description=text.strip())
    if not updated:
        recorded = ", ".join(NetworkModel.objects.values_list("name", flat=True)) or "none yet"
        raise LookupError(f"No recorded model named {name!r}; recorded: {recorded}.")
    return NetworkModel.objects.get(pk=name)
