"""Which device and precision the models run on, and the backend switches that go with it."""

from __future__ import annotations

import logging
import os

import torch

from inference.errors import InferenceError

log = logging.getLogger(__name__)

DEVICE_ENV = "UPSCALER_DEVICE"  # auto | cpu | cuda | cuda:N
COMPILE_ENV = "UPSCALER_COMPILE"  # 1 to torch.compile the models (CUDA)

_configured: set[str] = set()


def select_device(preference: str | None = None) -> torch.device:
    """``preference`` or ``$UPSCALER_DEVICE``: ``auto`` picks CUDA when present, else CPU."""
    choice = (preference or os.environ.get(DEVICE_ENV, "") or "auto").strip().lower()
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InferenceError(
                f"{DEVICE_ENV}={choice} but no CUDA device is available; set it to auto or cpu, or fix the GPU drivers."
            )
        return torch.device(choice)
    raise InferenceError(f"{DEVICE_ENV} must be auto, cpu or cuda (got {choice!r}).")


def compute_dtype(device: torch.device, supports_half: bool, supports_bfloat16: bool) -> torch.dtype:
    """Half precision on CUDA where the architecture allows it, float32 on the CPU."""
    if device.type != "cuda":
        return torch.float32
    if supports_half:
        return torch.float16
    if supports_bfloat16 and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def configure(device: torch.device) -> None:
    """Process-wide backend settings for fast convolutions, applied once per device type."""
    if device.type in _configured:
        return
    _configured.add(device.type)
    if device.type == "cuda":
        # Tile shapes repeat, so cuDNN's per-shape autotuning pays for itself.
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        log.info("CUDA: %s, cuDNN autotune on", torch.cuda.get_device_name(device))


def compile_enabled() -> bool:
    return os.environ.get(COMPILE_ENV, "").strip().lower() in ("1", "true", "yes", "on")
