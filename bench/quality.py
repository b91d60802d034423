"""How close each mode's output is to the truth: PSNR and SSIM against the original.

    python bench/quality.py [--model-dir DIR] [--crop 128] [--photos astronaut,coffee,...]

Ground truth: crops of real photographs that ship inside scikit-image (no download). Each
crop is downscaled with Pillow's bicubic (antialiased, as the usual super-resolution test
sets are made) by 2 and by 4, and also saved as a JPEG of quality 40 after that downscale
(the degraded input). Every row upscales those inputs back to the crop's size through the
real engine (``inference.api.upscale``) and is scored against the crop:

* ``lanczos``: the baseline, Pillow's Lanczos to the size.
* ``precise / NAME``: every installed super-resolution network (``inference.catalog.scan``).
* ``dynamic / NAME``: the same networks through dynamic's dials at their defaults (8, 5, 5).
* ``ximilar ...``: Ximilar's options as its surface sets them (jobs/api/ximilar/params.py):
  the classic model (no ``model_type``) and ``gan``, with its ``mode`` and ``tune_colors``
  (``gan, high_fidelity`` is the ``precise / RealESRGAN_x4plus`` row).

Restore keeps the size, so it has its own table: the crop itself as a JPEG of quality 40,
restored, against the crop.

PSNR (dB) and SSIM are on the 8-bit RGB output, a border of ``scale`` pixels left out (what
the network cannot see past), averaged over the photos. Higher is closer to the original.
A benchmark, not a test: it prints figures. Every installed network at the defaults takes
minutes on 2 quiet CPU cores (far longer on a loaded machine); ``--networks``,
``--dynamic-networks``, ``--photos`` and ``--crop`` narrow it (tests/test_bench_quality.py
runs it on one tiny crop).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PHOTOS = ("astronaut", "coffee", "chelsea")
SCALES = (2, 4)
JPEG_QUALITY = 40


@dataclass
class Row:
    label: str
    params: dict | None  # UpscaleParams fields besides mode/scale; None: Lanczos
    mode: str = "precise"
    scores: dict = field(default_factory=dict)  # (scale, degraded) -> [(psnr, ssim), ...]


def photo_crops(names: tuple[str, ...], crop: int) -> list[np.ndarray]:
    """A ``crop`` x ``crop`` RGB crop from the middle of each photo (divisible by 4)."""
    from skimage import data

    crops = []
    for name in names:
        image = getattr(data, name)()
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        height, width = image.shape[:2]
        top, left = (height - crop) // 2, (width - crop) // 2
        crops.append(np.ascontiguousarray(image[top : top + crop, left : left + crop, :3]))
    return crops


def degrade(truth: np.ndarray, scale: int, jpeg: bool) -> bytes:
    """The low-resolution input, PNG or JPEG-40 bytes."""
    height, width = truth.shape[:2]
    small = Image.fromarray(truth).resize((width // scale, height // scale), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    if jpeg:
        small.save(buffer, "JPEG", quality=JPEG_QUALITY)
    else:
        small.save(buffer, "PNG")
    return buffer.getvalue()


def score(output: np.ndarray, truth: np.ndarray, border: int) -> tuple[float, float]:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    a = output[border:-border, border:-border] if border else output
    b = truth[border:-border, border:-border] if border else truth
    psnr = peak_signal_noise_ratio(b, a, data_range=255)
    ssim = structural_similarity(b, a, channel_axis=2, data_range=255)
    return float(psnr), float(ssim)


def run_row(row: Row, data: bytes, scale: int, model_dir: str) -> np.ndarray:
    if row.params is None:
        image = Image.open(io.BytesIO(data)).convert("RGB")
        return np.asarray(image.resize((image.width * scale, image.height * scale), Image.Resampling.LANCZOS))
    from inference.api import UpscaleParams, upscale

    params = UpscaleParams(mode=row.mode, scale=float(scale), **row.params)
    result = upscale(data, params, model_dir=model_dir)
    return np.asarray(result.image.convert("RGB"))


def sr_networks(model_dir: str) -> list[str]:
    """The installed super-resolution networks (usable, purpose SR), by name."""
    from inference.catalog import scan

    return [info.name for info in scan(model_dir) if info.usable and info.purpose == "SR"]


def rows_for(networks: list[str], dynamic_networks: list[str]) -> list[Row]:
    rows = [Row("lanczos (baseline)", None)]
    rows += [Row(f"precise / {name}", {"model": name}) for name in networks]
    rows += [Row(f"dynamic / {name}", {"model": name}, mode="dynamic") for name in dynamic_networks]
    gan = {"model": "RealESRGAN_x4plus"}  # what Ximilar's model_type "gan" runs
    rows += [
        Row("ximilar classic, high_fidelity", {"classic": True}),
        Row(
            "ximilar classic (default: artifact_removal, tune_colors)",
            {"classic": True, "finish": "clean", "match_colors": True},
        ),
        Row("ximilar gan, artifact_removal, tune_colors", {**gan, "finish": "clean", "match_colors": True}),
    ]
    return rows


def restore_table(crops: list[np.ndarray], networks: list[str], model_dir: str) -> None:
    from inference.api import UpscaleParams, upscale

    print(f"\nrestore (same size): the crop as JPEG q{JPEG_QUALITY}, restored, against the crop")
    print(f"| {'row':58} | PSNR | SSIM |")
    print(f"|{'-' * 60}|------|------|")
    inputs = []
    for truth in crops:
        buffer = io.BytesIO()
        Image.fromarray(truth).save(buffer, "JPEG", quality=JPEG_QUALITY)
        inputs.append(buffer.getvalue())
    candidates: list[tuple[str, str | None]] = [("JPEG input itself (baseline)", None)]
    candidates += [(f"restore / {name}", name) for name in networks]
    for label, name in candidates:
        results = []
        for data, truth in zip(inputs, crops, strict=True):
            if name is None:
                output = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
            else:
                output = np.asarray(
                    upscale(data, UpscaleParams(mode="restore", model=name), model_dir=model_dir).image.convert("RGB")
                )
            results.append(score(output, truth, 4))
        psnr, ssim = np.mean(results, axis=0)
        print(f"| {label:58} | {psnr:.2f} | {ssim:.3f} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model-dir", default=os.environ.get("UPSCALER_MODEL_DIR") or str(REPO.parent / "shared" / "models")
    )
    parser.add_argument("--crop", type=int, default=96, help="side of the ground-truth crops (divisible by 4)")
    parser.add_argument("--photos", default=",".join(PHOTOS), help="scikit-image photo names")
    parser.add_argument("--networks", default="", help="comma-separated: only these networks (default: all installed)")
    parser.add_argument(
        "--dynamic-networks", default=None, help="comma-separated: dynamic's rows (default: --networks)"
    )
    parser.add_argument("--no-restore", action="store_true")
    args = parser.parse_args()
    if args.crop % 4:
        parser.error("--crop must be divisible by 4")

    import torch

    torch.manual_seed(0)
    crops = photo_crops(tuple(args.photos.split(",")), args.crop)
    networks = [n for n in args.networks.split(",") if n] or sr_networks(args.model_dir)
    dynamic_networks = networks if args.dynamic_networks is None else [n for n in args.dynamic_networks.split(",") if n]
    started = time.perf_counter()
    print(
        f"PSNR (dB) / SSIM against the original, mean of {len(crops)} crops of {args.crop} px "
        f"({args.photos}); inputs bicubic-downscaled, then also JPEG q{JPEG_QUALITY} (torch {torch.__version__})"
    )
    header = " | ".join(f"{s}x{' JPEG' if j else ''}" for j in (False, True) for s in SCALES)
    print(f"| {'row':58} | {header} |")
    print(f"|{'-' * 60}|" + "|".join("-" * 12 for _ in range(4)) + "|")
    for row in rows_for(networks, dynamic_networks):
        cells = []
        for jpeg in (False, True):
            for scale in SCALES:
                results = [
                    score(run_row(row, degrade(truth, scale, jpeg), scale, args.model_dir), truth, scale)
                    for truth in crops
                ]
                psnr, ssim = np.mean(results, axis=0)
                cells.append(f"{psnr:.2f} / {ssim:.3f}")
        print(f"| {row.label:58} | " + " | ".join(cells) + " |", flush=True)
    if not args.no_restore:
        restore_table(crops, networks, args.model_dir)
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
