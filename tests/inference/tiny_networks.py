"""Small randomly initialised spandrel networks of several architectures and scales.

They load and run like community models (spandrel detects them from their state dicts)
but take milliseconds on tiny images.
"""

from __future__ import annotations

from pathlib import Path

import torch

# name -> (spandrel architecture id, native scale)
TINY: dict[str, tuple[str, int]] = {
    "1x_ESRGAN_tiny": ("ESRGAN", 1),
    "2x_ESRGAN_tiny": ("ESRGAN", 2),
    "4x_ESRGAN_tiny": ("ESRGAN", 4),
    "8x_ESRGAN_tiny": ("ESRGAN", 8),
    "1x_Compact_tiny": ("Compact", 1),
    "2x_Compact_tiny": ("Compact", 2),
    "3x_Compact_tiny": ("Compact", 3),
    "4x_Compact_tiny": ("Compact", 4),
    "2x_SPAN_tiny": ("SPAN", 2),
    "3x_SPAN_tiny": ("SPAN", 3),
    "4x_SPAN_tiny": ("SPAN", 4),
    "2x_SwinIR_tiny": ("SwinIR", 2),
}


def network(architecture: str, scale: int, seed: int = 0) -> torch.nn.Module:
    from spandrel.architectures.Compact import Compact
    from spandrel.architectures.ESRGAN import ESRGAN
    from spandrel.architectures.SPAN import SPAN
    from spandrel.architectures.SwinIR import SwinIR

    torch.manual_seed(seed)
    if architecture == "ESRGAN":
        return ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=scale)
    if architecture == "Compact":
        return Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=scale)
    if architecture == "SPAN":
        return SPAN(num_in_ch=3, num_out_ch=3, feature_channels=8, upscale=scale)
    if architecture == "SwinIR":
        return SwinIR(
            img_size=16,
            in_chans=3,
            embed_dim=12,
            depths=[1],
            num_heads=[2],
            window_size=4,
            mlp_ratio=2.0,
            upscale=scale,
            upsampler="pixelshuffledirect",
        )
    raise ValueError(architecture)


def state_dict(architecture: str, scale: int, seed: int = 0) -> dict[str, torch.Tensor]:
    return {key: value.contiguous() for key, value in network(architecture, scale, seed).state_dict().items()}


def save(path: Path, architecture: str, scale: int, seed: int = 0) -> Path:
    """The network's state dict as safetensors or, for .pth/.ckpt/.pt, with torch.save."""
    state = state_dict(architecture, scale, seed)
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    elif path.suffix == ".ckpt":
        torch.save({"state_dict": state, "epoch": 3}, path)  # a training checkpoint's layout
    else:
        torch.save(state, path)
    return path
