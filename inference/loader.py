"""Loading models with spandrel, once per process and device, onto the best device.

A model is a registered one (``inference.registry.MODELS``: its file must hold the
architecture and scale the registry names) or any other model file in the model directory,
named by its stem. Files are read without running code: safetensors through spandrel's own
``ModelLoader().load_from_file``, PyTorch pickles (.pth, .ckpt, .pt) with
``torch.load(weights_only=True)``, never spandrel's pickle path (see ``read_state_dict``).
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch
from spandrel import (
    ImageModelDescriptor,
    ModelDescriptor,
    ModelLoader,
    ModelTiling,
    UnsupportedModelError,
    canonicalize_state_dict,
)

from inference import device as devices
from inference.cache import LoadedOnce
from inference.errors import ModelNotInstalledError
from inference.registry import MODELS, model_dir, resolve_model
from inference.tile_context import FALLBACK_CONTEXT, tile_context

log = logging.getLogger(__name__)


@dataclass(eq=False)
class LoadedModel:
    """A model ready to run: the spandrel descriptor on its device, and what tiling needs."""

    name: str
    path: Path
    descriptor: ImageModelDescriptor
    device: torch.device
    dtype: torch.dtype
    module: torch.nn.Module  # what to call: the network, or its torch.compile'd wrapper
    scale: int
    multiple: int  # spatial sizes must be a multiple of this
    minimum: int  # and at least this
    square: bool  # and square
    channels_last: bool
    context: int = FALLBACK_CONTEXT  # input pixels a tile needs around what it contributes
    tiling_supported: bool = True  # spandrel's advice; False: one piece where memory allows
    # Learnt while running: the largest tile that fitted after an out-of-memory back-off,
    # and (CUDA) the activation memory one input pixel costs.
    max_tile: int | None = None
    bytes_per_pixel: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        """(B, 3, h, w) floats in [0, 1] of ``self.dtype`` -> (B, 3, h*s, w*s)."""
        height, width = batch.shape[-2:]
        pad_h = _padding(height, self.multiple, self.minimum)
        pad_w = _padding(width, self.multiple, self.minimum)
        if self.square and height + pad_h != width + pad_w:
            side = max(height + pad_h, width + pad_w)
            pad_h, pad_w = side - height, side - width
        if pad_h or pad_w:
            mode = "reflect" if pad_h < height and pad_w < width else "replicate"
            batch = torch.nn.functional.pad(batch, (0, pad_w, 0, pad_h), mode=mode)
        if self.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        result = self.module(batch)
        if pad_h or pad_w:
            result = result[..., : height * self.scale, : width * self.scale]
        return result


def _padding(length: int, multiple: int, minimum: int) -> int:
    target = max(length, minimum)
    target = math.ceil(target / multiple) * multiple
    return target - length


# On CUDA, tile shapes are rounded up to multiples of this so that cuDNN's per-shape
# autotuning (and torch.compile's per-shape graphs) see a bounded set of shapes.
CUDA_SHAPE_MULTIPLE = 32

_cache: LoadedOnce[LoadedModel] = LoadedOnce()


class ModelFileError(Exception):
    """A model file that cannot be used; the message says why, in a sentence."""


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a model file, without running any code from it.

    spandrel's ``ModelLoader.load_from_file`` is not used for pickles: its ``.pth``/``.ckpt``
    path calls ``torch.load`` with its own allow-list unpickler as ``pickle_module``, which
    turns torch's ``weights_only`` off (torch refuses the two together), and its ``.pt`` path
    starts with ``torch.jit.load``, which deserialises TorchScript code. torch's weights-only
    unpickler is the maintained one: globals beyond tensors and plain containers are refused
    before anything is called.
    """
    if path.suffix.lower() == ".safetensors":
        return ModelLoader().load_state_dict_from_file(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = next(
            (line.strip() for line in str(exc).splitlines() if "GLOBAL" in line or "Unsupported" in line),
            "weights-only unpickling failed",
        )
        raise ModelFileError(
            f"{path.name} is a pickle that holds more than tensors ({detail}); it was refused because "
            "unpickling it could run code: use a .safetensors file, or a plain state_dict() saved with torch.save"
        ) from exc
    except RuntimeError as exc:
        if "TorchScript" in str(exc):
            raise ModelFileError(f"{path.name} is a TorchScript archive (code), which is refused") from exc
        raise ModelFileError(f"{path.name} cannot be read ({exc})") from exc
    except Exception as exc:  # a damaged file fails in many ways: EOFError, zip errors, ...
        raise ModelFileError(f"{path.name} cannot be read ({type(exc).__name__}: {exc})") from exc
    if not isinstance(state, dict):
        raise ModelFileError(f"{path.name} holds a {type(state).__name__}, not a state dict")
    return canonicalize_state_dict(state)


def read_model(path: Path) -> ModelDescriptor:
    """spandrel's descriptor of the model in ``path``, on the CPU; ModelFileError if none."""
    try:
        state = read_state_dict(path)
    except ModelFileError:
        raise
    except Exception as exc:  # safetensors: SafetensorError, OSError, ...
        raise ModelFileError(f"{path.name} cannot be read ({type(exc).__name__}: {exc})") from exc
    try:
        return ModelLoader().load_from_state_dict(state)
    except UnsupportedModelError as exc:
        raise ModelFileError(f"spandrel recognises no architecture in {path.name}") from exc
    except Exception as exc:  # an architecture's loader choking on an odd state dict
        raise ModelFileError(f"spandrel cannot load {path.name} ({type(exc).__name__}: {exc})") from exc


def unusable_reason(descriptor: ModelDescriptor) -> str | None:
    """Why the super-resolution engines cannot run this model, as a predicate ("is ..."; None: they can)."""
    if not isinstance(descriptor, ImageModelDescriptor):
        return f"is an {descriptor.purpose.lower()} model (it needs a mask), not an image-to-image model"
    if descriptor.purpose == "FaceSR":
        return "is a face restoration model, which works on aligned face crops, not whole images"
    if descriptor.input_channels != 3 or descriptor.output_channels != 3:
        return (
            f"maps {descriptor.input_channels} to {descriptor.output_channels} channels; "
            "the engines run RGB (3 to 3 channel) models"
        )
    return None


def registry_mismatch(name: str, descriptor: ModelDescriptor) -> str | None:
    """For a registered name: how the file differs from what the registry says (None: it does not)."""
    spec = MODELS.get(name)
    if spec is None:
        return None
    found = f"{descriptor.architecture.id} at {descriptor.scale}x"
    if descriptor.architecture.id != spec.architecture or descriptor.scale != spec.scale:
        return f"is not {name} (spandrel found {found}, expected {spec.architecture} at {spec.scale}x)"
    return None


def face_unusable_reason(descriptor: ModelDescriptor) -> str | None:
    """Why face enhancement cannot run this model (None: it can): it must be a FaceSR model
    mapping RGB to RGB."""
    if not isinstance(descriptor, ImageModelDescriptor) or descriptor.purpose != "FaceSR":
        return f"is a {descriptor.purpose} model, not a face restoration (FaceSR) model"
    if descriptor.input_channels != 3 or descriptor.output_channels != 3:
        return f"maps {descriptor.input_channels} to {descriptor.output_channels} channels, not RGB to RGB"
    return None


def load_model(
    name: str,
    directory: str | os.PathLike[str] | None = None,
    device: torch.device | str | None = None,
    *,
    faces: bool = False,
) -> LoadedModel:
    """The model ``name`` from ``directory``, loaded once per process and device.

    ``name`` is a registered model or any model file's stem. Raises ``UnknownModelError``
    for a name with no file, and ``ModelNotInstalledError`` when a file is missing,
    unreadable, not runnable here, or not the model the registry describes. ``faces``: a
    face restoration model (shouldEnhanceFaces), which the super-resolution engines refuse.
    """
    folder = Path(directory) if directory is not None else model_dir()
    target = devices.select_device(device if isinstance(device, str) else None)
    if isinstance(device, torch.device):
        target = device
    path = resolve_model(name, folder)
    stat = path.stat()
    # The file's identity is part of the key: a file replaced in place is loaded afresh.
    key = (name, str(path.resolve()), stat.st_size, stat.st_mtime_ns, str(target), faces)
    return _cache.get(key, lambda: _load(name, path, folder, target, faces), path.is_file)


def clear_cache() -> None:
    """Forget the loaded models (tests; a worker that swaps its model directory)."""
    _cache.clear()


def _load(name: str, path: Path, folder: Path, target: torch.device, faces: bool = False) -> LoadedModel:
    try:
        descriptor = read_model(path)
    except ModelFileError as exc:
        raise ModelNotInstalledError(
            name, path.name, folder, f"The model file {path.name} in {folder} cannot be loaded: {exc}"
        ) from exc
    usable = face_unusable_reason if faces else unusable_reason
    problem = registry_mismatch(name, descriptor) or usable(descriptor)
    if problem:
        raise ModelNotInstalledError(name, path.name, folder, f"The model file {path.name} in {folder} {problem}")
    assert isinstance(descriptor, ImageModelDescriptor)  # unusable_reason says so

    devices.configure(target)
    # spandrel's descriptor says which precisions the architecture supports (DAT and GFPGAN:
    # no fp16): such networks run in bf16 or fp32 on CUDA, never fp16.
    dtype = devices.compute_dtype(target, descriptor.supports_half, descriptor.supports_bfloat16)
    descriptor.model.eval().requires_grad_(False)
    descriptor.to(target, dtype)
    # channels_last: faster convolutions with cuDNN, and measured faster on CPUs too.
    # Not for face models: GFPGAN flattens feature maps with view(), which channels_last breaks.
    channels_last = not faces
    if channels_last:
        descriptor.model.to(memory_format=torch.channels_last)
    on_cuda = target.type == "cuda"
    module: torch.nn.Module = descriptor.model
    if devices.compile_enabled():
        # Opt-in: compilation takes minutes per tile shape but lifts GPU throughput.
        module = torch.compile(module, dynamic=False, mode="max-autotune-no-cudagraphs")  # type: ignore[assignment]
    requirements = descriptor.size_requirements
    architecture = descriptor.architecture.id
    log.info("loaded %s (%s at %dx) from %s on %s as %s", name, architecture, descriptor.scale, path, target, dtype)
    return LoadedModel(
        name=name,
        path=path,
        descriptor=descriptor,
        device=target,
        dtype=dtype,
        module=module,
        scale=descriptor.scale,
        multiple=math.lcm(max(1, requirements.multiple_of), CUDA_SHAPE_MULTIPLE if on_cuda else 1),
        minimum=max(1, requirements.minimum),
        square=requirements.square,
        channels_last=channels_last,
        context=tile_context(architecture),
        tiling_supported=descriptor.tiling == ModelTiling.SUPPORTED,
    )
