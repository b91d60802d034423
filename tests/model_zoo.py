"""A model directory of tiny community-style networks (tests/inference/tiny_networks.py) for
the platform's "bring your own model" tests, and a file that is not a model."""

from __future__ import annotations

from pathlib import Path

# name -> (spandrel architecture, native scale, file suffix)
ZOO: dict[str, tuple[str, int, str]] = {
    "2x_SPAN_tiny": ("SPAN", 2, ".safetensors"),
    "1x_Compact_tiny": ("Compact", 1, ".pth"),  # a pickle, as many are shared
    "4x_ESRGAN_tiny": ("ESRGAN", 4, ".safetensors"),
    "3x_Compact_tiny": ("Compact", 3, ".safetensors"),
}
BROKEN = "4x_Broken"  # 4x_Broken.safetensors: not a safetensors file at all


def build(folder: Path, names: list[str] | None = None) -> Path:
    from tests.inference.tiny_networks import save

    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names or list(ZOO)):
        architecture, scale, suffix = ZOO[name]
        save(folder / f"{name}{suffix}", architecture, scale, seed=i)
    (folder / f"{BROKEN}.safetensors").write_bytes(b"\x00not a model\x00" * 8)
    (folder / "README.txt").write_text("not a model file, and not listed")
    return folder


def scan(folder: Path):
    """What an inference worker's scan finds there (inference.catalog.scan, in this process)."""
    from inference.catalog import scan as catalog_scan

    return catalog_scan(folder)
