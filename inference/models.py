"""``python -m inference.models list [--model-dir DIR] [--json]``: the models a worker can run.

Scans the model directory (``inference.catalog.scan``) and prints each model file's name,
architecture, native scale, parameter count and, for a file the engines cannot use, why.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inference.registry import model_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.models", description=__doc__.split("\n")[2])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="scan the model directory")
    listing.add_argument("--model-dir", help="default: $UPSCALER_MODEL_DIR or models/")
    listing.add_argument("--json", action="store_true", help="one JSON array of ModelInfo.to_dict()")
    args = parser.parse_args(argv)

    directory = Path(args.model_dir) if args.model_dir else model_dir()
    if not directory.is_dir():
        print(f"error: the model directory {directory} does not exist", file=sys.stderr)
        return 1
    from inference.catalog import scan  # imports torch when scanning

    models = scan(directory)
    if args.json:
        print(json.dumps([info.to_dict() for info in models], indent=2))
        return 0
    print(f"{len(models)} model file(s) in {directory}")
    width = max([len(info.name) for info in models] + [4])
    print(f"{'name':{width}}  {'architecture':14}{'scale':>6}{'parameters':>13}  error")
    for info in models:
        scale = f"{info.scale}x" if info.scale is not None else "-"
        parameters = f"{info.parameters:,}" if info.parameters is not None else "-"
        print(f"{info.name:{width}}  {info.architecture or '-':14}{scale:>6}{parameters:>13}  {info.error or ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
