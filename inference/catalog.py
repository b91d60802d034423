"""Discovering the models in the model directory: every file spandrel can load, by its stem.

``scan(model_dir)`` tries each ``.safetensors``, ``.pth``, ``.ckpt`` and ``.pt`` file (one per
stem, safetensors preferred) and describes it as a ``ModelInfo`` from spandrel's descriptor.
A file that is not a usable image-to-image model is listed with its ``error``; the scan
itself does not fail for it. Meant for a worker process: it imports torch when called (not
when imported) and returns plain data, which ``ModelInfo.to_dict`` makes JSON.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from inference import registry
from inference.modelinfo import ModelInfo

log = logging.getLogger(__name__)

__all__ = ["ModelInfo", "scan", "describe_file"]


def scan(model_dir: str | os.PathLike[str] | None = None) -> list[ModelInfo]:
    """Every model file in ``model_dir`` (default: $UPSCALER_MODEL_DIR), sorted by name."""
    folder = Path(model_dir) if model_dir is not None else registry.model_dir()
    return [describe_file(path, name) for name, path in registry.model_files(folder).items()]


def describe_file(path: Path, name: str | None = None) -> ModelInfo:
    """One file as a ``ModelInfo``; loading problems go into ``error``, never raised."""
    from inference.loader import (
        ModelFileError,
        face_unusable_reason,
        read_model,
        registry_mismatch,
        unusable_reason,
    )
    from inference.tile_context import tile_context

    name = name or path.stem
    base: dict[str, Any] = {
        "name": name,
        "file": path.name,
        "size_bytes": path.stat().st_size,
        "sha256": _sha256(path),
        "registered": name in registry.MODELS,
    }
    try:
        descriptor = read_model(path)
    except ModelFileError as exc:
        return ModelInfo(**base, error=str(exc))
    except Exception as exc:  # one odd file must not hide the others
        log.exception("scanning %s", path)
        return ModelInfo(**base, error=f"{path.name} cannot be loaded ({type(exc).__name__}: {exc})")
    requirements = descriptor.size_requirements
    architecture = descriptor.architecture.id
    # A face restoration model (FaceSR) is usable by shouldEnhanceFaces, not as a mode's network.
    usable = face_unusable_reason if descriptor.purpose == "FaceSR" else unusable_reason
    problem = registry_mismatch(name, descriptor) or usable(descriptor)
    return ModelInfo(
        **base,
        architecture=architecture,
        architecture_name=descriptor.architecture.name,
        purpose=descriptor.purpose,
        scale=descriptor.scale,
        parameters=sum(p.numel() for p in descriptor.model.parameters()),
        input_channels=descriptor.input_channels,
        output_channels=descriptor.output_channels,
        supports_half=descriptor.supports_half,
        supports_bfloat16=descriptor.supports_bfloat16,
        tiling=descriptor.tiling.name.lower(),
        context=tile_context(architecture),
        size_multiple=requirements.multiple_of,
        size_minimum=requirements.minimum,
        tags=tuple(descriptor.tags),
        error=f"{path.name} {problem}" if problem else None,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
