"""Loading registered models with spandrel, once per process, onto the best device."""

from __future__ import annotations

import logging
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from spandrel import (
    ImageModelDescriptor,
    ModelLoader,
    ModelTiling,
    UnsupportedModelError,
    canonicalize_state_dict,
)

from inference import device as devices
from inference.cache import LoadedOnce
from inference.errors import ModelNotInstalledError
from inference.registry import get_spec, model_dir, model_path, not_installed_error
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


def load_model(
    name: str,
    directory: str | os.PathLike[str] | None = None,
    device: torch.device | str | None = None,
) -> LoadedModel:
    """The registered model ``name`` from ``directory``, loaded once per process and device.

    Raises ``ModelNotInstalledError`` when the file is missing, unreadable, or not the model
    the registry describes.
    """
    folder = Path(directory) if directory is not None else model_dir()
    target = devices.select_device(device if isinstance(device, str) else None)
    if isinstance(device, torch.device):
        target = device
    path = model_path(name, folder)
    key = (name, str(path.resolve()), str(target))
    return _cache.get(key, lambda: _load(name, path, folder, target), path.is_file)


def clear_cache() -> None:
    """Forget the loaded models (tests; a worker that swaps its model directory)."""
    _cache.clear()


def _load(name: str, path: Path, folder: Path, target: torch.device) -> LoadedModel:
    spec = get_spec(name)
    if not path.is_file():
        raise not_installed_error(name, folder)
    try:
        if path.suffix == ".safetensors":
            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
        descriptor = ModelLoader().load_from_state_dict(canonicalize_state_dict(state))
    except (
        OSError,
        RuntimeError,
        ValueError,
        KeyError,
        SafetensorError,
        UnsupportedModelError,
    ) as exc:
        raise ModelNotInstalledError(
            name,
            path.name,
            folder,
            f"The model file {path.name} in {folder} cannot be loaded ({exc})",
        ) from exc

    found = f"{descriptor.architecture.id} at {descriptor.scale}x"
    expected = f"{spec.architecture} at {spec.scale}x"
    if (
        not isinstance(descriptor, ImageModelDescriptor)
        or descriptor.architecture.id != spec.architecture
        or descriptor.scale != spec.scale
        or descriptor.input_channels != 3
        or descriptor.output_channels != 3
    ):
        raise ModelNotInstalledError(
            name,
            path.name,
            folder,
            f"The model file {path.name} in {folder} is not {name} (spandrel found {found}, expected {expected})",
        )

    devices.configure(target)
    dtype = devices.compute_dtype(target, descriptor.supports_half, descriptor.supports_bfloat16)
    descriptor.model.eval().requires_grad_(False)
    descriptor.to(target, dtype)  # type: ignore[call-overload]
    # channels_last: faster convolutions with cuDNN, and measured faster on CPUs too.
    descriptor.model.to(memory_format=torch.channels_last)
    on_cuda = target.type == "cuda"
    module: torch.nn.Module = descriptor.model
    if devices.compile_enabled():
        # Opt-in: compilation takes minutes per tile shape but lifts GPU throughput.
        module = torch.compile(module, dynamic=False, mode="max-autotune-no-cudagraphs")
    requirements = descriptor.size_requirements
    log.info("loaded %s (%s) from %s on %s as %s", name, found, path, target, dtype)
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
        channels_last=True,
        context=tile_context(descriptor.architecture.id),
        tiling_supported=descriptor.tiling == ModelTiling.SUPPORTED,
    )
