"""How much context a network needs around a tile: its output's dependence on a crop edge.

    python bench/context.py [--model-dir DIR] [--threshold 0.5] [NAMES...]

For each model, a photo-like strip is run in one piece and then cropped so that an
artificial edge (zero padding, as at a tile's border) lies inside it. Both runs share the
real image borders, so every difference comes from the artificial edge. For each distance
``d`` from that edge (in input pixels) the script prints the mean and the largest absolute
difference of the output pixels that lie ``d`` input pixels from it, in levels of 255,
over three images and the four edge directions (left, right, top, bottom).

The context a tile needs is the smallest ``d`` from which on the mean difference stays
below ``--threshold``: 0.25/255, half the 0.5/255 the tiled output may differ from the
one-piece run by, because at the smallest tiles every output pixel is that close to a tile
edge along both axes and the two differences add up. ``inference.tile_context.CONTEXT``
records the figures.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_MODELS = ("RealESRGAN_x4plus", "RealESRGAN_x4plus_anime_6B", "realesr-animevideov3")
SEEDS = (1, 2, 3)
STRIP = 48  # the strip's short side, input pixels
REACH = 96  # distances measured: 0 .. REACH - 1
MARGIN = 48  # the one-piece run extends this far past the artificial edge


def photo(height: int, width: int, seed: int) -> np.ndarray:
    """Colour waves, hard-edged discs, fine texture and noise, in [0, 1]: H x W x 3 float32."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([0.5 + 0.35 * np.sin(x / 23 + c + seed) * np.cos(y / 17 - c) for c in range(3)], axis=-1)
    for _ in range(height * width // 400):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(3, 16)
        image[(y - cy) ** 2 + (x - cx) ** 2 < r * r] = rng.uniform(0, 1, 3)
    image += 0.05 * np.sin(x * 1.3 + y * 0.7)[..., None]
    image += rng.normal(0, 0.02, image.shape)
    return np.clip(image, 0, 1).astype(np.float32)


def edge_profile(network, scale: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, max) |crop - whole| in levels of 255 at each distance 0 .. REACH-1, 4 edges."""
    import torch

    width = REACH + MARGIN
    means, maxima = [], []
    for tall in (False, True):
        image = photo(width, STRIP, seed) if tall else photo(STRIP, width, seed)
        x = torch.from_numpy(image).permute(2, 0, 1)[None]
        axis = 2 if tall else 3  # the edge is across rows (top/bottom) or columns

        def run(start: int, stop: int, x=x, axis=axis) -> torch.Tensor:
            with torch.inference_mode():
                y = network(x.narrow(axis, start, stop - start))
            return y.transpose(2, 3) if axis == 2 else y  # edges along the last axis

        whole = run(0, width)
        right = run(0, REACH)  # an artificial right (bottom) edge at REACH
        left = run(MARGIN, width)  # an artificial left (top) edge at MARGIN
        for crop, origin, flip in ((right, 0, True), (left, MARGIN, False)):
            reference = whole[..., origin * scale : origin * scale + crop.shape[-1]]
            diff = (crop - reference).abs()[0] * 255  # C x H x W, output pixels
            columns = diff.reshape(diff.shape[0], diff.shape[1], -1, scale)  # by input column
            columns = columns.permute(2, 0, 1, 3).reshape(columns.shape[2], -1)
            if flip:
                columns = columns.flip(0)  # index = distance from the edge
            means.append(columns.mean(1)[:REACH].numpy())
            maxima.append(columns.amax(1)[:REACH].numpy())
    return np.mean(means, axis=0), np.max(maxima, axis=0)


def needed_context(means: np.ndarray, threshold: float) -> int:
    """The smallest d from which on every mean difference is below ``threshold``."""
    above = np.nonzero(means >= threshold)[0]
    return 0 if above.size == 0 else int(above[-1]) + 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", default=list(DEFAULT_MODELS))
    parser.add_argument(
        "--model-dir",
        default=os.environ.get("UPSCALER_MODEL_DIR") or str(REPO.parent / "shared" / "models"),
    )
    parser.add_argument("--threshold", type=float, default=0.25, help="levels of 255")
    args = parser.parse_args()

    import torch
    from spandrel import ModelLoader

    from inference.registry import model_path

    distances = (0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 56, 64, 80, 95)
    print(f"difference to the one-piece run at d input px from a crop edge, levels of 255 (torch {torch.__version__})")
    print(f"{'model':28}{'arch':9}" + "".join(f"{d:>6}" for d in distances) + f"{'context':>9}")
    for name in args.names:
        descriptor = ModelLoader().load_from_file(model_path(name, args.model_dir)).eval()
        profiles = [edge_profile(descriptor.model, descriptor.scale, seed) for seed in SEEDS]
        means = np.mean([p[0] for p in profiles], axis=0)
        maxima = np.max([p[1] for p in profiles], axis=0)
        context = needed_context(means, args.threshold)
        arch = descriptor.architecture.id
        print(f"{name:28}{arch:9}" + "".join(f"{means[d]:>6.2f}" for d in distances) + f"{context:>9}")
        print(f"{'  max':37}" + "".join(f"{maxima[d]:>6.1f}" for d in distances))
    return 0


if __name__ == "__main__":
    sys.exit(main())
