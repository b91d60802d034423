"""Maskr's query parameters and its 422 answers.

Maskr is a FastAPI service: a request it cannot validate gets 422 and
{"detail": [{"loc": [...], "msg": ..., "type": ...}, ...]}, one entry per problem, query
parameters first, then the body. The messages and types are pydantic v1's (the version
whose `value_error.missing` Maskr's document shows), with their `ctx` where pydantic v1
gives one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from inference.imageio import DEFAULT_QUALITY
from jobs.models import Job, output_format
from jobs.submission import Submission

SCALE_FACTORS = (2, 4)
OUTPUT_FORMATS = ("jpeg", "png", "webp")
QUALITY_RANGE = (1, 100)
MAX_BATCH_FILES = 50


@dataclass(frozen=True)
class Options:
    scale_factor: int = 4
    output_format: str = "jpeg"
    quality: int = DEFAULT_QUALITY

    @property
    def job_output_format(self) -> str:
        """The job's output format (Job.OutputFormat spells jpeg "jpg")."""
        return output_format(self.output_format)


MAX_FILENAME = 255


def filename(upload) -> str:
    return (upload.name or "")[:MAX_FILENAME]


def submission(options: Options, name: str, base_url: str, batch_id=None) -> Submission:
    """The job one uploaded file asks for: a precise upscale by the query's factor, in its
    format and quality."""
    return Submission(
        "precise",
        {"upscaleFactor": options.scale_factor, "inputImageType": "universal", "inputFilename": name},
        surface=Job.Surface.MASKR,
        base_url=base_url,
        output_format=options.job_output_format,
        output_quality=options.quality,
        batch_id=batch_id,
        held=True,  # Maskr answers when the jobs are done: the request holds a wait slot
    )


def missing(where: str, name: str) -> dict:
    return {"loc": [where, name], "msg": "field required", "type": "value_error.missing"}


def too_many_files(name: str, limit: int = MAX_BATCH_FILES) -> dict:
    return {
        "loc": ["body", name],
        "msg": f"ensure this value has at most {limit} items",
        "type": "value_error.list.max_items",
        "ctx": {"limit_value": limit},
    }


def _not_an_integer(name: str) -> dict:
    return {"loc": ["query", name], "msg": "value is not a valid integer", "type": "type_error.integer"}


def _not_permitted(name: str, given, permitted: tuple) -> dict:
    return {
        "loc": ["query", name],
        "msg": f"unexpected value; permitted: {', '.join(repr(value) for value in permitted)}",
        "type": "value_error.const",
        "ctx": {"given": given, "permitted": list(permitted)},
    }


def _integer(name: str, raw: str, problems: list[dict]) -> int | None:
    try:
        return int(raw)  # pydantic v1's int(): " 4 " is 4, "4.0" and "" are not integers
    except ValueError:
        problems.append(_not_an_integer(name))
        return None


def parse_query(query: Mapping[str, str]) -> tuple[Options, list[dict]]:
    """The options, and the 422 detail entries for the parameters that are wrong (empty when
    all are right). Unknown parameters are ignored, as FastAPI does."""
    problems: list[dict] = []
    defaults = Options()

    scale: int | None = defaults.scale_factor
    if "scale_factor" in query:
        scale = _integer("scale_factor", query["scale_factor"], problems)
        if scale is not None and scale not in SCALE_FACTORS:
            problems.append(_not_permitted("scale_factor", scale, SCALE_FACTORS))

    output_format = query.get("output_format", defaults.output_format)
    if output_format not in OUTPUT_FORMATS:
        problems.append(_not_permitted("output_format", output_format, OUTPUT_FORMATS))

    quality: int | None = defaults.quality
    if "quality" in query:
        quality = _integer("quality", query["quality"], problems)
        low, high = QUALITY_RANGE
        if quality is not None and quality < low:
            problems.append(
                {
                    "loc": ["query", "quality"],
                    "msg": f"ensure this value is greater than or equal to {low}",
                    "type": "value_error.number.not_ge",
                    "ctx": {"limit_value": low},
                }
            )
        elif quality is not None and quality > high:
            problems.append(
                {
                    "loc": ["query", "quality"],
                    "msg": f"ensure this value is less than or equal to {high}",
                    "type": "value_error.number.not_le",
                    "ctx": {"limit_value": high},
                }
            )
    if problems or scale is None or quality is None:  # None only with a problem recorded
        return defaults, problems
    return Options(scale, output_format, quality), problems
