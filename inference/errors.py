"""Exceptions raised by the inference package.

Every message is one sentence a client (or an operator, for model errors) can act on.
The image errors are defined here once and re-exported by ``inference.imageio``.
"""

from __future__ import annotations

import os

FETCH_COMMAND = "python manage.py fetch_models"
FETCH_COMMAND_PLAIN = "python -m inference.fetch"


class InferenceError(Exception):
    """Base class of every error the inference package raises on purpose."""


class ModelNotInstalledError(InferenceError):
    """A model file is missing from the model directory, or is not the expected model."""

    def __init__(
        self,
        name: str,
        filename: str,
        directory: str | os.PathLike[str],
        reason: str | None = None,
    ) -> None:
        self.name = name
        self.filename = filename
        self.directory = str(directory)
        self.reason = reason
        problem = reason or f"The model file {filename} is missing from {self.directory}"
        super().__init__(
            f"{problem}; install the {name} weights with `{FETCH_COMMAND}` "
            f"(or `{FETCH_COMMAND_PLAIN} --dir {self.directory} {name}`)."
        )


class UnknownModelError(ModelNotInstalledError, ValueError):
    """A model asked for by name that is neither registered nor a file in the model directory."""

    def __init__(self, name: str, directory: str | os.PathLike[str], available: list[str]) -> None:
        self.name = name
        self.filename = f"{name}.safetensors"
        self.directory = str(directory)
        self.available = list(available)
        self.reason = f"No model named {name!r} is installed in {self.directory}"
        names = ", ".join(self.available) or "none"
        InferenceError.__init__(
            self,
            f"{self.reason}; installed models: {names}. An operator adds one by putting its file "
            f"({name}.safetensors, or .pth) in that directory.",
        )


class FetchError(InferenceError):
    """Downloading or verifying a model file failed."""


class EngineNotAvailableError(InferenceError):
    """The requested mode has no engine on this deployment yet (e.g. ``smart``)."""


class ImageError(InferenceError, ValueError):
    """The input image cannot be used; the message tells the client what to send instead."""


class UnsupportedImageError(ImageError):
    """The image is in a format (or a variant of one) that is not accepted."""


class CorruptImageError(ImageError):
    """The image file is truncated, damaged or empty."""


class ImageTooLargeError(ImageError):
    """The image has more pixels than the configured cap."""
