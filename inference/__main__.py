"""``python -m inference INPUT OUTPUT --mode precise --scale 4 [--type anime] [--model NAME] [--tile N]``

Upscales one file with the same engine the workers use and prints the time and size.
The output format follows OUTPUT's extension: .png (full quality) or .jpg/.jpeg (85).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from inference.errors import InferenceError
from inference.imageio import decode_image, encode_jpeg, encode_png
from inference.registry import IMAGE_TYPES, MODES, missing_for, model_dir, not_installed_error, resolve_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference", description=__doc__.split("\n")[2])
    parser.add_argument("input", type=Path, help="a JPEG, PNG or WebP file")
    parser.add_argument("output", type=Path, help="where to write the result (.png or .jpg)")
    parser.add_argument("--mode", default="precise", choices=MODES)
    parser.add_argument("--scale", type=float, default=4.0, help="upscale factor")
    parser.add_argument("--type", dest="image_type", default="universal", choices=IMAGE_TYPES)
    parser.add_argument("--model", help="any installed model by name (python -m inference.models list)")
    parser.add_argument("--tile", type=int, help="new pixels per tile side, input pixels (context is added)")
    parser.add_argument("--creativity", type=int, default=5, help="dynamic: 0-10")
    parser.add_argument("--detail", type=int, default=5, help="dynamic: 0-10")
    parser.add_argument("--resemblance", type=int, default=8, help="dynamic: 0-10")
    parser.add_argument("--model-dir", help="default: $UPSCALER_MODEL_DIR or models/")
    parser.add_argument("--progress", action="store_true", help="print progress to stderr")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)

    suffix = args.output.suffix.lower()
    if suffix not in (".png", ".jpg", ".jpeg"):
        parser.error("OUTPUT must end in .png, .jpg or .jpeg")

    # Checked before torch is imported (that takes seconds), so that mistakes fail fast.
    try:
        decoded = decode_image(args.input.read_bytes())
        directory = Path(args.model_dir) if args.model_dir else model_dir()
        if args.model:
            resolve_model(args.model, directory)
        else:
            for name in missing_for(args.mode, args.image_type, directory):
                raise not_installed_error(name, directory)
    except (InferenceError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    from inference.api import UpscaleParams, upscale  # imports torch

    def report(fraction: float) -> None:
        print(f"\r{fraction:6.1%}", end="", file=sys.stderr, flush=True)

    try:
        params = UpscaleParams(
            mode=args.mode,
            scale=args.scale,
            image_type=args.image_type,
            creativity=args.creativity,
            detail=args.detail,
            resemblance=args.resemblance,
            tile=args.tile,
            model=args.model,
        )
        result = upscale(
            decoded,
            params,
            progress=report if args.progress else None,
            model_dir=directory,
        )
    except (InferenceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.progress:
        print(file=sys.stderr)
    encode = encode_png if suffix == ".png" else encode_jpeg
    args.output.write_bytes(encode(result.image, result.icc_profile))
    megapixels = result.width * result.height / 1e6
    print(
        f"{args.output}: {result.width}x{result.height} ({megapixels:.2f} MP) "
        f"in {result.seconds:.2f} s with {result.engine}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
