"""How many input pixels of context a tile needs around the pixels it contributes, per architecture.

A network's output near a tile's edge differs from the whole-image run because the
network sees zero padding there instead of the image; the difference fades with the
distance from the edge. ``bench/context.py`` measures that fade for a model (crop an image,
compare with the one-piece run at each distance); the figures below are the smallest
distance from which on the mean difference stays under 0.5/255, rounded up to 4 px, for
the real weights (docs/inference.md has the measured table). Torch-free.
"""

from __future__ import annotations

# spandrel architecture id -> context in input pixels.
CONTEXT: dict[str, int] = {
    # RealESRGAN_x4plus (23 blocks) needs 37 px, the 6-block anime model 25 px: the deeper
    # network decides, as community ESRGAN models are mostly 23-block too.
    "ESRGAN": 40,
    # realesr-animevideov3 (16 convolutions): 10 px; nothing reaches past 17 px.
    "Compact": 12,
}
# Architectures not measured (transformers such as SwinIR, HAT or DAT see far): more
# context than any measured one needs.
FALLBACK_CONTEXT = 64


def tile_context(architecture: str) -> int:
    """The context a tile of ``architecture`` (a spandrel id) needs, in input pixels."""
    return CONTEXT.get(architecture, FALLBACK_CONTEXT)
