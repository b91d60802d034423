"""Inference engine of the upscaling platform: plain Python, torch and spandrel, no Django.

The torch-free modules (``registry``, ``imageio``, ``errors``, ``sizing``) are safe to import
from the web tier. ``inference.api.upscale`` is the entry point of the GPU workers and imports
torch. See docs/inference.md.
"""

__all__ = ["api", "errors", "fetch", "imageio", "registry", "sizing"]
