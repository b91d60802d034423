"""Which modes this deployment serves, and with which models (torch-free)."""

from __future__ import annotations

from django.conf import settings

from inference import registry


def missing_models(mode: str, image_type: str = "universal") -> list[str]:
    return registry.missing_for(mode, image_type, directory=settings.UPSCALER_MODEL_DIR)


def unavailable_reason(mode: str, image_type: str = "universal") -> str | None:
    """None if the mode can run here, else a message for a 503 that says what is missing."""
    missing = missing_models(mode, image_type)
    if not missing:
        return None
    pipelines = [name for name in missing if name in registry.PIPELINES]
    if pipelines:
        return _missing_pipeline(mode, pipelines[0])
    names = ", ".join(missing)
    return (
        f"The {mode} mode is not available on this deployment: model {names} is not installed "
        f"in {settings.UPSCALER_MODEL_DIR}. An operator installs it with "
        "'python manage.py fetch_models'."
    )


def faithful_model(factor: float) -> str:
    """The faithful network a classic job (Ximilar's classic model) runs at `factor`."""
    return registry.faithful_model(factor)


def model_unavailable_reason(mode: str, name: str) -> str | None:
    """None if the network `name`, which a surface chose for the job, is installed here; else
    a message for a 503 that names it and the command that installs it."""
    if registry.is_installed(name, settings.UPSCALER_MODEL_DIR):
        return None
    return (
        f"The {mode} mode's network {name} is not installed in {settings.UPSCALER_MODEL_DIR}. "
        f"An operator installs it with 'python manage.py fetch_models {name}'."
    )


def _missing_pipeline(mode: str, name: str) -> str:
    spec = registry.PIPELINES[name]
    problem = registry.pipeline_problem(name, settings.UPSCALER_MODEL_DIR)
    return (
        f"The {mode} mode is not available on this deployment: its diffusion model {name} "
        f"({spec.repo_id}, {spec.size}) is not installed ({problem}). An operator installs it with "
        f"'python manage.py fetch_models {name}' on a worker with the smart extra "
        "(pip install '.[worker,smart]')."
    )


def describe() -> list[dict]:
    out = []
    for mode in registry.MODES:
        models = sorted({m for t in ("universal", "anime") for m in registry.models_for(mode, t)})
        reason = unavailable_reason(mode)
        out.append({"mode": mode, "available": reason is None, "models": models, "reason": reason})
    return out
