"""What a job asks of the engine: the parameters of one upscale, validated here. Engines and
the entry point (inference/api.py) both take them; neither imports the other for them."""

from __future__ import annotations

from dataclasses import dataclass

from inference.finishing import FINISHES
from inference.registry import IMAGE_TYPES, MODES
from inference.sizing import check_factor

MIN_EXPLICIT_TILE = 16
MODEL_MODES = ("precise", "dynamic", "restore")  # the modes that run any spandrel model


@dataclass(frozen=True)
class UpscaleParams:
    mode: str  # "precise" | "dynamic" | "restore" | "smart"
    scale: float = 4.0  # ignored by restore (output = input size)
    image_type: str = "universal"  # "realism" | "anime" | "universal"
    creativity: int = 5  # globalCreativity 0-10
    detail: int = 5  # 0-10
    resemblance: int = 8  # 0-10
    description: str = ""
    enhance_faces: bool = False
    preserve_blur: bool = False
    preserve_hands: bool = False
    seed: int | None = None
    tile: int | None = None  # new pixels a tile side contributes (context is added); None = automatic
    # precise, dynamic, restore: any installed model by name (its file's stem) instead of the
    # mode's default, e.g. "2x_my_SPAN"; inference.catalog.scan lists them.
    model: str | None = None
    # precise only (the Ximilar surface's options, inference/finishing.py): ``classic`` runs
    # the faithful network (DAT-light, inference.registry.faithful_model) when no ``model`` is
    # named (the Ximilar surface names it at submit); ``finish`` is a clean-up look after the
    # upscale ("none", "clean", "smooth"); ``match_colors`` maps the output's palette onto
    # the input's.
    classic: bool = False
    finish: str = "none"
    match_colors: bool = False
    # precise: the output's longer side in pixels, the aspect ratio kept, instead of ``scale``
    # (resolution tiers: 2048, 4096, 8192), whatever the input's size.
    long_side: int | None = None

    def validate(self) -> None:
        """ValueError naming the first parameter out of range."""
        if self.mode not in MODES:
            raise ValueError(f"Unknown mode {self.mode!r}; expected one of {', '.join(MODES)}.")
        if self.image_type not in IMAGE_TYPES:
            raise ValueError(f"Unknown image type {self.image_type!r}; expected one of {', '.join(IMAGE_TYPES)}.")
        if self.long_side is None:
            check_factor(self.mode, self.scale)
        elif self.mode != "precise":
            raise ValueError(f"long_side applies to precise only (got mode {self.mode!r}).")
        elif isinstance(self.long_side, bool) or not isinstance(self.long_side, int) or self.long_side < 1:
            raise ValueError(f"long_side must be a whole number of pixels, at least 1 (got {self.long_side!r}).")
        for field in ("creativity", "detail", "resemblance"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
                raise ValueError(f"{field} must be an integer from 0 to 10 (got {value!r}).")
        if self.tile is not None and (
            isinstance(self.tile, bool) or not isinstance(self.tile, int) or self.tile < MIN_EXPLICIT_TILE
        ):
            raise ValueError(f"tile must be an integer of at least {MIN_EXPLICIT_TILE} pixels.")
        if self.model is not None:
            if not isinstance(self.model, str) or not self.model.strip() or any(c in self.model for c in "/\\\0"):
                raise ValueError(f"model must be a model's name, the stem of its file (got {self.model!r}).")
            if self.mode not in MODEL_MODES:
                raise ValueError(f"model applies to {', '.join(MODEL_MODES)}; {self.mode} runs its own pipeline.")
        if self.finish not in FINISHES:
            raise ValueError(f"finish must be one of {', '.join(FINISHES)} (got {self.finish!r}).")
        if (self.classic or self.finish != "none" or self.match_colors) and self.mode != "precise":
            raise ValueError("classic, finish and match_colors apply to precise only.")
