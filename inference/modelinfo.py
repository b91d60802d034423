"""What a model file in the model directory is, as plain data (torch-free).

``inference.catalog.scan`` fills these in on a worker from spandrel's descriptor; the web
tier stores ``to_dict()`` and reads it back with ``ModelInfo.from_dict`` without torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelInfo:
    name: str  # the file's stem: what UpscaleParams.model and the engine string use
    file: str  # the file's name in the model directory
    size_bytes: int
    sha256: str  # of the file
    # From spandrel's descriptor; None where the file could not be loaded.
    architecture: str | None = None  # spandrel's architecture id, e.g. "ESRGAN", "SPAN"
    architecture_name: str | None = None  # its display name, e.g. "RealESRGAN"
    purpose: str | None = None  # "SR", "Restoration", "FaceSR" or "Inpainting"
    scale: int | None = None  # native: 1 for restoration models
    parameters: int | None = None
    input_channels: int | None = None
    output_channels: int | None = None
    supports_half: bool | None = None
    supports_bfloat16: bool | None = None
    tiling: str | None = None  # spandrel's advice: "supported", "discouraged" or "internal"
    context: int | None = None  # input pixels the engine adds around each tile for it
    size_multiple: int | None = None  # input sides must be a multiple of this (the engine pads)
    size_minimum: int | None = None
    tags: tuple[str, ...] = ()  # spandrel's, e.g. ("64nf", "23nb")
    registered: bool = False  # one of the registry's models (a mode's default)
    # None: the engines can run it. Otherwise why not, in a sentence: not a model file,
    # refused (a pickle with code in it), not an image-to-image model, not RGB, ...
    error: str | None = None

    @property
    def usable(self) -> bool:
        """Usable by the engines: as a mode's network, or (purpose FaceSR) as the face model."""
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable: str, int, bool, None and a list of str."""
        data = dataclasses.asdict(self)
        data["tags"] = list(self.tags)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        """The inverse of ``to_dict``; keys it does not know (a newer scan's) are ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["tags"] = tuple(values.get("tags") or ())
        return cls(**values)
