"""Inference engine of the upscaling platform: plain Python, torch and spandrel, no Django.

The torch-free modules (``registry``, ``imageio``, ``errors``, ``sizing``, ``modelinfo``) are
safe to import from the web tier; ``catalog`` imports torch only when ``scan`` runs.
``inference.api.upscale`` is the entry point of the GPU workers and imports torch. See
docs/inference.md.
"""

__all__ = ["api", "catalog", "errors", "fetch", "imageio", "modelinfo", "registry", "sizing"]
