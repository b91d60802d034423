"""Throughput and peak memory of the inference engine against a naive one-piece call.

    python bench/inference.py [--size 512] [--small-tiles 64,32] [--model-dir DIR] [--device auto|cpu|cuda]

RealESRGAN_x4plus, precise 4x, on a synthetic size x size image. Each measurement runs in
a fresh subprocess so that one run's memory cannot hide another's peak:

* CPU: peak resident memory over the baseline after the model is loaded and warmed up
  (VmHWM from /proc/self/status, reset by writing "5" to /proc/self/clear_refs).
* CUDA: torch.cuda.max_memory_allocated over the allocation after loading.

"naive" is what a caller without the engine writes: spandrel's descriptor called on the
whole image, then clamp, quantise, copy to the host. "engine" is inference.api.upscale on
the decoded image. The small-tile rows run the engine with ``tile`` forced to 64 and 32
new pixels (what the out-of-memory back-off falls to on a busy GPU); their time is also given
as a ratio to the default tile's in the same run. Exits 1 when the engine misses its
targets: peak memory under a third of the naive call's and under 1.5 GB, throughput at least
0.85 of the naive call's, and every row within a mean of 0.5/255 of the naive output.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODEL = "RealESRGAN_x4plus"
FACTOR = 4


def synthetic_photo(size: int) -> np.ndarray:
    """Colour waves, hard-edged discs, fine texture and noise: size x size x 3 uint8."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    image = np.stack([0.5 + 0.35 * np.sin(x / 23 + c) * np.cos(y / 17 - c) for c in range(3)], axis=-1)
    for _ in range(40):
        cy, cx, r = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(4, size / 8)
        image[(y - cy) ** 2 + (x - cx) ** 2 < r * r] = rng.uniform(0, 1, 3)
    image += 0.05 * (np.sin(x * 1.3 + y * 0.7))[..., None]
    image += rng.normal(0, 0.02, image.shape)
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)


def encode(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


# --- one measurement, in its own process ------------------------------------------


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


class PeakMemory:
    """Peak memory of what runs between ``start`` and ``stop``, in bytes."""

    def __init__(self, device) -> None:
        self.device = device

    def start(self) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
        else:
            Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
            self.base = _status_kib("VmRSS") * 1024

    def stop(self) -> int:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            return torch.cuda.max_memory_allocated(self.device) - self.base
        return _status_kib("VmHWM") * 1024 - self.base


def measure(kind: str, size: int, model_dir: str, output: str, repeat: int, tile: int | None = None) -> dict:
    import torch

    from inference.device import select_device

    device = select_device()
    image = synthetic_photo(size)
    if kind == "engine":
        from inference.api import UpscaleParams, upscale
        from inference.imageio import decode_image
        from inference.loader import load_model
        from inference.superres import FEATHER, choose_tiling
        from inference.tiling import plan_axis

        decoded = decode_image(encode(image))
        params = UpscaleParams(mode="precise", scale=FACTOR, tile=tile)
        model = load_model(MODEL, model_dir, device)
        # Warm up the code paths (and, on CUDA, cuDNN's autotuning of the tile shapes).
        warm = decode_image(encode(image[:64, :64]))
        upscale(warm if device.type == "cpu" else decoded, params, model_dir=model_dir)
        label = f"{model.dtype}".replace("torch.", "")

        def run() -> np.ndarray:
            return np.asarray(upscale(decoded, params, model_dir=model_dir).image)

        tiling = choose_tiling(model, tile)
        plan = plan_axis(size, tiling.tile, model.context, FEATHER, model.multiple)
        layout = f"{plan.count}x{plan.count} tiles of {plan.size} px ({tiling.tile} new + {model.context} context)"

    else:
        layout = "one piece"
        from spandrel import ModelLoader

        from inference.registry import model_path

        descriptor = ModelLoader().load_from_file(model_path(MODEL, model_dir)).eval()
        dtype = torch.float16 if device.type == "cuda" else torch.float32
        descriptor.to(device, dtype)
        label = f"{dtype}".replace("torch.", "")

        def run() -> np.ndarray:
            with torch.inference_mode():
                x = torch.from_numpy(image).to(device).permute(2, 0, 1)[None].to(dtype) / 255
                y = descriptor(x)[0].permute(1, 2, 0)
                return y.mul(255).round().clamp(0, 255).to(torch.uint8).cpu().numpy()

        with torch.inference_mode():  # warm-up on a small input
            descriptor(torch.zeros((1, 3, 32, 32), device=device, dtype=dtype))
        if device.type == "cuda":
            run()

    peak = PeakMemory(device)
    best = float("inf")
    peaks = []
    result = None
    cpu_seconds = float("inf")
    for _ in range(repeat):
        peak.start()
        started, cpu_started = time.perf_counter(), time.process_time()
        result = run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - started)
        cpu_seconds = min(cpu_seconds, time.process_time() - cpu_started)
        peaks.append(peak.stop())
    np.save(output, result)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    return {
        "kind": kind,
        "seconds": best,
        "cpu_seconds": cpu_seconds,
        "peak_bytes": max(peaks),
        "output_pixels": int(result.shape[0] * result.shape[1]),
        "layout": layout,
        "device": f"{name} ({device.type}, {label}, {torch.get_num_threads()} threads)",
    }


# --- the report ---------------------------------------------------------------------


def run_child(kind: str, args: argparse.Namespace, folder: Path, tile: int | None = None) -> tuple[dict, np.ndarray]:
    output = folder / f"{kind}{tile or ''}.npy"
    command = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--size",
        str(args.size),
        "--model-dir",
        args.model_dir,
        "--repeat",
        str(args.repeat),
        "--output",
        str(output),
        *(["--tile", str(tile)] if tile else []),
    ]
    env = dict(os.environ)
    if args.device:
        env["UPSCALER_DEVICE"] = args.device
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"the {kind} run failed")
    return json.loads(done.stdout.strip().splitlines()[-1]), np.load(output)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512, help="input side in pixels")
    parser.add_argument(
        "--model-dir",
        default=os.environ.get("UPSCALER_MODEL_DIR") or str(REPO.parent / "shared" / "models"),
    )
    parser.add_argument("--device", help="auto, cpu or cuda (default: $UPSCALER_DEVICE or auto)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per process (best)")
    parser.add_argument("--rounds", type=int, default=1, help="processes per side (best)")
    parser.add_argument("--small-tiles", default="64,32", help="engine rows at these tiles ('' for none)")
    parser.add_argument("--tile", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=["engine", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.size, args.model_dir, args.output, args.repeat, args.tile)))
        return 0

    import torch

    small = [int(t) for t in args.small_tiles.split(",") if t.strip()]
    sides: list[tuple[str, int | None]] = [("naive", None), ("engine", None)] + [("engine", t) for t in small]
    # Alternating fresh processes, best of --rounds each: on a shared machine a burst of
    # other work then hurts all sides alike.
    rows: dict[tuple[str, int | None], dict] = {}
    outputs: dict[tuple[str, int | None], np.ndarray] = {}
    with tempfile.TemporaryDirectory() as temporary:
        for _ in range(args.rounds):
            for kind, tile in sides:
                row, out = run_child(kind, args, Path(temporary), tile)
                if (kind, tile) not in rows or row["seconds"] < rows[kind, tile]["seconds"]:
                    rows[kind, tile], outputs[kind, tile] = row, out
    naive, engine = rows["naive", None], rows["engine", None]
    side = args.size * FACTOR
    print(
        f"{MODEL}, precise {FACTOR}x, {args.size}x{args.size} -> {side}x{side} "
        f"({side * side / 1e6:.2f} MP out) on {engine['device']}, torch {torch.__version__}"
    )
    header = f"{'seconds':>10}{'CPU s':>9}{'out MP/s':>12}{'peak MB':>10}{'x default':>11}{'mean diff':>11}"
    print(f"{'':22}{header}  layout")
    for (kind, tile), row in rows.items():
        label = "naive (one piece)" if kind == "naive" else f"engine, tile {tile}" if tile else "engine (default)"
        row["mps"] = row["output_pixels"] / row["seconds"] / 1e6
        row["difference"] = np.abs(outputs[kind, tile].astype(float) - outputs["naive", None].astype(float)).mean()
        ratio = f"{row['seconds'] / engine['seconds']:.2f}" if kind == "engine" else "-"
        print(
            f"{label:22}{row['seconds']:>10.2f}{row['cpu_seconds']:>9.1f}{row['mps']:>12.4f}"
            f"{row['peak_bytes'] / 2**20:>10.0f}{ratio:>11}{row['difference']:>11.3f}  {row['layout']}"
        )
    speed = engine["mps"] / naive["mps"]
    memory = engine["peak_bytes"] / naive["peak_bytes"]
    print(f"engine / naive: throughput {speed:.2f}x, peak memory {memory:.3f}x (mean diff in levels of 255)")
    checks = {
        "peak memory < 1/3 of naive": memory < 1 / 3,
        "peak memory < 1.5 GB": engine["peak_bytes"] < 1.5 * 2**30,
        "throughput >= 0.85 of naive": speed >= 0.85,
    }
    for (kind, tile), row in rows.items():
        if kind == "engine":
            checks[f"{'tile ' + str(tile) if tile else 'default tile'}: mean difference < 0.5/255"] = (
                row["difference"] < 0.5
            )
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
