"""How many input pixels of context a tile needs around the pixels it contributes, per architecture.

A network's output near a tile's edge differs from the whole-image run because the
network sees zero padding there instead of the image; the difference fades with the
distance from the edge. ``bench/context.py`` measures that fade for a model (crop an image,
compare with the one-piece run at each distance); the figures below are the smallest
distance from which on the mean difference stays under 0.25/255, rounded up to 4 px, for
the real weights (docs/inference.md has the measured table). A quarter level, not the half
level the tiled output is held to: at the smallest tiles every pixel is that close to a
tile edge along both axes, and the two differences add up. Torch-free.
"""

from __future__ import annotations

# spandrel architecture id -> context in input pixels.
CONTEXT: dict[str, int] = {
    # RealESRGAN_x4plus (23 blocks) needs 45 px, the 6-block anime model 32 px: the deeper
    # network decides, as community ESRGAN models are mostly 23-block too.
    "ESRGAN": 48,
    # realesr-animevideov3 (16 convolutions): 11 px; nothing reaches past 17 px.
    "Compact": 12,
    # DAT-light (x2, x4): the crop edge's own effect is gone by 16 px (3.8/255 at the edge,
    # 0.5 at 4 px), but the mean difference then stays at 0.3-0.45/255 at every distance up to
    # 95 px: DAT's channel self-attention averages over the whole tile, so a tile never sees
    # exactly the whole image's statistics, whatever its context. That residue shrinks as the
    # tile grows; 32 px of context keeps the tiled output within 0.5/255 of the one-piece run
    # down to 32 px tiles (0.36/255 at 64 px tiles, 0.43 at 32, measured on a 184 px photo).
    "DAT": 32,
}
# Architectures not measured (transformers such as SwinIR, HAT or DAT see far): more
# context than any measured one needs.
FALLBACK_CONTEXT = 64


def tile_context(architecture: str) -> int:
    """The context a tile of ``architecture`` (a spandrel id) needs, in input pixels."""
    return CONTEXT.get(architecture, FALLBACK_CONTEXT)
