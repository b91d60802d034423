"""python -m inference INPUT OUTPUT --mode ... --scale ...: writes the result, prints time and size."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from inference.imageio import decode_image
from tests.inference.synthetic import encode, photo

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inference", *args], cwd=REPO, capture_output=True, text=True)


def test_it_writes_the_upscaled_image_and_prints_time_and_size(tiny_models, tmp_path):
    source = tmp_path / "in.jpg"
    source.write_bytes(encode(photo(10, 15), "JPEG"))
    png, jpeg = tmp_path / "out.png", tmp_path / "out.jpg"
    done = cli(
        str(source),
        str(png),
        "--mode",
        "precise",
        "--scale",
        "2.5",
        "--type",
        "anime",
        "--tile",
        "16",
        "--model-dir",
        str(tiny_models),
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"38x25 \(0\.00 MP\) in \d+\.\d\d s with precise/RealESRGAN_x4plus_anime_6B", done.stdout)
    decoded = decode_image(png.read_bytes())
    assert decoded.format == "PNG" and (decoded.width, decoded.height) == (38, 25)
    done = cli(str(source), str(jpeg), "--mode", "restore", "--model-dir", str(tiny_models))
    assert done.returncode == 0, done.stderr
    assert decode_image(jpeg.read_bytes()).format == "JPEG"


def test_it_explains_failures_with_an_exit_code(tmp_path):
    source = tmp_path / "in.gif"
    source.write_bytes(encode(photo(8, 8), "GIF"))
    done = cli(str(source), str(tmp_path / "out.png"), "--model-dir", str(tmp_path))
    assert done.returncode == 1 and "detected: GIF" in done.stderr
    source.write_bytes(encode(photo(8, 8), "PNG"))
    done = cli(str(source), str(tmp_path / "out.png"), "--model-dir", str(tmp_path))
    assert done.returncode == 1 and "fetch_models" in done.stderr
    done = cli(str(source), str(tmp_path / "out.bmp"))
    assert done.returncode == 2 and ".png, .jpg or .jpeg" in done.stderr
