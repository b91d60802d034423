"""Downloading the official model weights into the model directory, verified.

``python -m inference.fetch [--dir D] [--base-url URL] [--force] [NAMES...]``

Each file is streamed to a temporary file in the target directory, its sha256 checked
against the registry (when the registry knows it), and renamed into place atomically, so
a worker never sees half a file. Files already present and valid are skipped. Torch-free.

Diffusion pipelines (``smart``: ``stable-diffusion-x4-upscaler``) are fetched only when
named: a snapshot of their diffusers folders is downloaded from the Hugging Face Hub (with
``huggingface_hub``, in the ``smart`` extra) into a temporary folder beside the target,
checked for completeness, and renamed into place.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

from inference.errors import FetchError
from inference.registry import MODELS, PIPELINES, ModelSpec, PipelineSpec, folder_problem, get_spec, model_dir

CHUNK = 1 << 20
TIMEOUT_SECONDS = 60


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def source_url(spec: ModelSpec, base_url: str | None = None) -> str:
    """The official URL, or the same file name under ``base_url`` (a mirror)."""
    if base_url:
        return f"{base_url.rstrip('/')}/{spec.official_filename}"
    return spec.url


def fetch_models(
    names: Iterable[str] | None = None,
    directory: str | os.PathLike[str] | None = None,
    *,
    base_url: str | None = None,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Download ``names`` (default: every spandrel model; pipelines only when named).

    A model counts as present when its official file is there with the right sha256, or
    (unless ``force``) when a re-packed ``.safetensors`` of it is; a pipeline when its
    folder is complete. ``base_url`` is a mirror of the release files, or for pipelines a
    Hugging Face Hub endpoint. Raises ``FetchError``.
    """
    folder = Path(directory) if directory is not None else model_dir()
    folder.mkdir(parents=True, exist_ok=True)
    wanted = list(names) if names else list(MODELS)
    specs: list[ModelSpec | PipelineSpec] = []
    for name in wanted:
        if name in PIPELINES:
            specs.append(PIPELINES[name])
            continue
        try:
            specs.append(get_spec(name))
        except KeyError:
            known = ", ".join([*sorted(MODELS), *PIPELINES])
            raise FetchError(f"Unknown model {name!r}; known models: {known}.") from None
    paths = []
    for spec in specs:
        if isinstance(spec, PipelineSpec):
            paths.append(fetch_pipeline(spec, folder, endpoint=base_url, force=force, log=log))
        else:
            paths.append(_fetch_one(spec, folder, base_url=base_url, force=force, log=log))
    return paths


def fetch_pipeline(
    spec: PipelineSpec,
    folder: Path,
    *,
    endpoint: str | None = None,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Download a diffusers pipeline's folders from the Hub into ``folder/spec.directory``."""
    target = folder / spec.directory
    if not force and folder_problem(spec, target) is None:
        log(f"{spec.name}: already installed at {target}")
        return target
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise FetchError(
            f"Downloading {spec.name} needs huggingface_hub: install the smart extra (pip install '.[worker,smart]')."
        ) from None
    log(f"{spec.name}: downloading {spec.repo_id}@{spec.revision} ({spec.size})")
    staging = Path(tempfile.mkdtemp(prefix=f".{spec.directory}.", suffix=".part", dir=folder))
    try:
        try:
            snapshot_download(
                repo_id=spec.repo_id,
                revision=spec.revision,
                local_dir=str(staging),
                allow_patterns=list(spec.allow_patterns),
                endpoint=endpoint,
            )
        except Exception as exc:  # the hub client raises many kinds; all mean the same here
            raise FetchError(f"Downloading {spec.name} from {spec.repo_id} failed: {exc}.") from exc
        shutil.rmtree(staging / ".cache", ignore_errors=True)
        problem = folder_problem(spec, staging)
        if problem:
            raise FetchError(f"The download of {spec.name} from {spec.repo_id} is incomplete: {problem}.")
        retired = None
        if target.exists():
            retired = target.with_name(f".{target.name}.old")
            shutil.rmtree(retired, ignore_errors=True)
            target.rename(retired)
        staging.rename(target)
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log(f"{spec.name}: saved {target}")
    return target


def _fetch_one(spec: ModelSpec, folder: Path, *, base_url: str | None, force: bool, log: Callable[[str], None]) -> Path:
    path = folder / spec.official_filename
    repacked = folder / spec.filename
    if not force and path.suffix != repacked.suffix and repacked.is_file():
        log(f"{spec.name}: already installed as {repacked}")
        return repacked
    if path.is_file() and not force:
        if spec.sha256 is None:
            log(f"{spec.name}: already present at {path} (no checksum recorded to verify)")
            return path
        if sha256_of(path) == spec.sha256:
            log(f"{spec.name}: already present and verified at {path}")
            return path
        log(f"{spec.name}: {path} does not match its sha256; downloading it again")

    url = source_url(spec, base_url)
    log(f"{spec.name}: downloading {url}")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(handle, "wb") as sink:
            try:
                request = urllib.request.Request(url, headers={"User-Agent": "upscaler-fetch"})
                with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                    for block in iter(lambda: response.read(CHUNK), b""):
                        sink.write(block)
                        digest.update(block)
                        size += len(block)
            except (urllib.error.URLError, OSError) as exc:
                raise FetchError(f"Downloading {spec.name} from {url} failed: {exc}.") from exc
            sink.flush()
            os.fsync(sink.fileno())
        actual = digest.hexdigest()
        if spec.sha256 is not None and actual != spec.sha256:
            raise FetchError(
                f"The download of {spec.name} from {url} has the wrong sha256: "
                f"expected {spec.sha256}, got {actual} ({size} bytes); it was deleted."
            )
        if spec.sha256 is None:
            log(f"{spec.name}: no checksum recorded; sha256 of the download is {actual}")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    log(f"{spec.name}: saved {path} ({size:,} bytes)")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inference.fetch",
        description="Download and verify the official model weights into the model directory.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"of {', '.join([*MODELS, *PIPELINES])}")
    parser.add_argument("--dir", help="model directory (default: $UPSCALER_MODEL_DIR or models/)")
    parser.add_argument("--base-url", help="a mirror holding the official file names (pipelines: a Hub endpoint)")
    parser.add_argument("--force", action="store_true", help="download even if present")
    args = parser.parse_args(argv)
    try:
        fetch_models(args.names or None, args.dir, base_url=args.base_url, force=args.force)
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
