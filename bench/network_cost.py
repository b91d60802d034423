"""What Ximilar's two models cost to run: CPU seconds of the classic model (DAT-light) and of
the GAN (RealESRGAN_x4plus) for the same upscale.

    python bench/network_cost.py [--model-dir DIR] [--side 256] [--runs 2]

A crop of a photo (scikit-image's astronaut) through the real engine at 2x and 4x, each
configuration loaded and warmed first, then timed ``--runs`` times in turn; the best CPU time
(``time.process_time``: all threads, less sensitive to other work on the machine than wall
time) is printed with the ratio. ``inference.registry.DAT_PRICE_FACTOR`` records the result.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model-dir", default=os.environ.get("UPSCALER_MODEL_DIR") or str(REPO.parent / "shared" / "models")
    )
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()

    from skimage import data

    from inference.api import UpscaleParams, upscale

    side = args.side
    crop = np.ascontiguousarray(data.astronaut()[100 : 100 + side, 100 : 100 + side])
    buffer = io.BytesIO()
    Image.fromarray(crop).save(buffer, "PNG")
    png = buffer.getvalue()
    jobs = {
        (2, "classic"): {"scale": 2, "classic": True},
        (2, "gan"): {"scale": 2, "model": "RealESRGAN_x4plus"},
        (4, "classic"): {"scale": 4, "classic": True},
        (4, "gan"): {"scale": 4, "model": "RealESRGAN_x4plus"},
    }
    for params in jobs.values():  # load and warm
        upscale(png, UpscaleParams("precise", **params), model_dir=args.model_dir)
    times: dict[tuple[int, str], list[float]] = {key: [] for key in jobs}
    for _ in range(args.runs):
        for key, params in jobs.items():
            started = time.process_time()
            result = upscale(png, UpscaleParams("precise", **params), model_dir=args.model_dir)
            times[key].append(time.process_time() - started)
            print(f"{key[0]}x {key[1]:8} {result.engine:28} {times[key][-1]:.1f} CPU s", flush=True)
    print(f"\n{side} px input, best of {args.runs} (CPU seconds)")
    for scale in (2, 4):
        classic, gan = min(times[scale, "classic"]), min(times[scale, "gan"])
        print(f"{scale}x: classic {classic:.1f}, gan {gan:.1f}, ratio {classic / gan:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
