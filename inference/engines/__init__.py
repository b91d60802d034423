"""The engine behind each mode, looked up by name so importing this package stays light.

Adding a mode's engine is one module here with a class implementing
``inference.engines.base.Engine`` and one line in ``ENGINES``. Engines are imported on first
use, so ``smart`` (diffusers) costs nothing to a worker that never runs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from inference.errors import EngineNotAvailableError
from inference.registry import MODES

if TYPE_CHECKING:
    from inference.engines.base import Engine

# mode -> "module:Class"
ENGINES: dict[str, str] = {
    "precise": "inference.engines.precise:PreciseEngine",
    "dynamic": "inference.engines.dynamic:DynamicEngine",
    "restore": "inference.engines.restore:RestoreEngine",
    "smart": "inference.engines.smart:SmartEngine",
}

_instances: dict[str, Engine] = {}


def get_engine(mode: str) -> Engine:
    """The engine for ``mode``. ValueError for an unknown mode; EngineNotAvailableError
    for a known mode without an engine."""
    if mode not in MODES:
        raise ValueError(f"Unknown mode {mode!r}; expected one of {', '.join(MODES)}.")
    if mode not in ENGINES:
        raise EngineNotAvailableError(f"The {mode} mode is not available on this deployment yet.")
    engine = _instances.get(mode)
    if engine is None:
        module_name, class_name = ENGINES[mode].split(":")
        engine = getattr(importlib.import_module(module_name), class_name)()
        _instances[mode] = engine
    return engine
