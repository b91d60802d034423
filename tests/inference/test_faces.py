"""shouldEnhanceFaces in the engine: RetinaFace finds the faces of real photos (scikit-image's),
each is aligned to the 512 template, restored by the face model and pasted back.

A restorer that returns its input shows the alignment and the paste-back are right (the
picture stays within half a level of the unflagged run); the random-weight GFPGAN
(tests/face_models.py) shows the face changes and nothing far from it does."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data

from inference import faces
from inference.api import UpscaleParams, upscale
from tests.face_models import FACE_MODEL
from tests.inference.synthetic import encode

pytestmark = pytest.mark.slow


def photo(name: str, side: int | None = None) -> np.ndarray:
    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if side:
        image = np.asarray(Image.fromarray(image).resize((side, side * image.shape[0] // image.shape[1])))
    return np.ascontiguousarray(image)


def pixels(result) -> np.ndarray:
    return np.asarray(result.image.convert("RGB")).astype(float)


@pytest.mark.parametrize(("name", "count"), [("astronaut", 1), ("camera", 1), ("coffee", 0), ("chelsea", 0)])
def test_retinaface_finds_the_faces_of_real_photos_and_none_where_there_are_no_people(name, count):
    found = faces.detect(photo(name))
    assert len(found) == count
    for face in found:
        assert face.score > 0.9 and face.landmarks.shape == (5, 2)
        x, y, w, h = face.box
        # The landmarks lie in the box: eyes above the mouth corners.
        assert ((face.landmarks >= (x, y)) & (face.landmarks <= (x + w, y + h))).all()
        assert face.landmarks[:2, 1].max() < face.landmarks[3:, 1].min()


def test_an_identity_restorer_leaves_the_upscaled_picture_within_half_a_level(shared_models):
    # The real pipeline up to the restorer: detection on the output, the similarity warp to
    # the 512 template, the inverse warp and the feathered blend.
    source = encode(photo("astronaut", 256))
    plain = upscale(
        source, UpscaleParams(mode="precise", scale=2, model="realesr-animevideov3"), model_dir=shared_models
    )
    color = np.asarray(plain.image.convert("RGB"))
    out, report = faces.enhance_color(color, restorer=lambda face: face, model_name="identity")
    assert report.enhanced and report.detected == report.restored == 1
    difference = np.abs(out.astype(float) - color)
    assert difference.mean() < 0.5, difference.mean()
    x, y, w, h = (round(v) for v in faces.detect(color)[0].box)
    assert difference[y : y + h, x : x + w].mean() < 0.5  # the face itself too, not only on average


def test_the_face_model_changes_the_face_and_nothing_far_from_it(face_model_dir):
    source = encode(photo("astronaut", 256))
    params = {"mode": "precise", "scale": 2, "model": "realesr-animevideov3"}
    plain = upscale(source, UpscaleParams(**params), model_dir=face_model_dir)
    enhanced = upscale(source, UpscaleParams(**params, enhance_faces=True), model_dir=face_model_dir)
    assert plain.faces.requested is False
    report = enhanced.faces
    assert (report.enhanced, report.detected, report.restored, report.model, report.reason) == (
        True,
        1,
        1,
        FACE_MODEL,
        None,
    )
    before, after = pixels(plain), pixels(enhanced)
    changed = np.abs(after - before).sum(axis=2) > 0
    x, y, w, h = faces.detect(np.asarray(plain.image.convert("RGB")))[0].box
    # The face changes (the random restorer paints over it) ...
    face = changed[round(y) : round(y + h), round(x) : round(x + w)]
    assert face.mean() > 0.9
    # ... and nothing farther than the aligned head's extent from it: the template square
    # spans about 2.5 face widths around the face's centre.
    cx, cy, reach = x + w / 2, y + h / 2, 1.5 * max(w, h)
    rows, cols = np.nonzero(changed)
    assert (np.abs(cols - cx) <= reach).all() and (np.abs(rows - cy) <= reach).all()
    assert changed.mean() < 0.25  # the rest of the picture (background, suit) untouched
    far = np.ones_like(changed)
    far[max(0, round(cy - reach)) : round(cy + reach), max(0, round(cx - reach)) : round(cx + reach)] = False
    assert np.array_equal(after[far], before[far])  # exactly


@pytest.mark.parametrize("name", ["coffee", "chelsea"])
def test_a_picture_without_faces_is_identical_with_and_without_the_flag(face_model_dir, name):
    source = encode(photo(name, 160))
    params = {"mode": "precise", "scale": 2, "model": "realesr-animevideov3"}
    plain = upscale(source, UpscaleParams(**params), model_dir=face_model_dir)
    flagged = upscale(source, UpscaleParams(**params, enhance_faces=True), model_dir=face_model_dir)
    assert plain.image.tobytes() == flagged.image.tobytes()
    assert flagged.faces == faces.FaceReport(requested=True, model=FACE_MODEL, reason=faces.NO_FACES)


def test_without_a_face_model_the_upscale_is_unchanged_and_says_why(shared_models):
    source = encode(photo("camera", 128))  # a grey photograph with a face
    params = {"mode": "restore", "model": "realesr-animevideov3"}
    plain = upscale(source, UpscaleParams(**params), model_dir=shared_models)
    flagged = upscale(source, UpscaleParams(**params, enhance_faces=True), model_dir=shared_models)
    assert plain.image.tobytes() == flagged.image.tobytes()
    assert flagged.faces == faces.FaceReport(requested=True, reason=faces.NO_MODEL)
    assert "fetch_models GFPGANv1.4" in faces.NO_MODEL


def test_the_face_model_is_any_facesr_file_and_the_scan_lists_it_as_usable(face_model_dir, shared_models):
    from inference.catalog import describe_file

    assert faces.find_face_model(face_model_dir) == FACE_MODEL
    assert faces.find_face_model(shared_models) is None
    info = describe_file(face_model_dir / f"{FACE_MODEL}.safetensors")
    assert (info.architecture, info.purpose, info.scale, info.error) == ("GFPGAN", "FaceSR", 1, None)
    assert info.supports_half is False  # so it runs in bf16 or fp32 on CUDA, never fp16


def test_dynamic_and_restore_enhance_faces_too(face_model_dir):
    source = encode(photo("astronaut", 128))
    for params in ({"mode": "dynamic", "scale": 2}, {"mode": "restore"}):
        result = upscale(
            source, UpscaleParams(**params, model="realesr-animevideov3", enhance_faces=True), model_dir=face_model_dir
        )
        assert result.faces.enhanced and result.faces.restored == 1, (params, result.faces)
