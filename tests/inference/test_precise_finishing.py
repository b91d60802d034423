"""precise's finishing steps (the Ximilar surface's mode, model_type and tune_colors) on
pixels: the classic path runs the faithful network (DAT-light), "clean" removes compression
artefacts and noise, "smooth" flattens texture and edges, and colour matching holds the
input's palette."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from inference.api import UpscaleParams, upscale
from inference.errors import ModelNotInstalledError
from inference.finishing import lab_statistics
from tests.inference.synthetic import encode, photo

CLEAN = photo(32, 32, seed=3, noise=0.0)


def upscaled(image, model_dir=None, fmt: str = "PNG", **params):
    params.setdefault("scale", 2)
    data = encode(image, fmt, **({"quality": 30, "subsampling": 0} if fmt == "JPEG" else {}))
    return upscale(data, UpscaleParams("precise", **params), model_dir=model_dir)


def pixels(result) -> np.ndarray:
    return np.asarray(result.image).astype(float)


def fine_detail(output: np.ndarray) -> float:
    """Mean absolute Laplacian: the energy of the finest detail."""
    lap = 4 * output[1:-1, 1:-1] - output[:-2, 1:-1] - output[2:, 1:-1]
    lap -= output[1:-1, :-2] + output[1:-1, 2:]
    return float(np.abs(lap).mean())


def error_to(output: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(output - reference).mean())


def delta_e(output: Image.Image, reference: np.ndarray) -> float:
    """CIE76 distance between the mean CIELAB colour of the output, box-downscaled to the
    input's size, and the input's."""
    shrunk = np.asarray(output.convert("RGB").resize((reference.shape[1], reference.shape[0]), Image.Resampling.BOX))
    mean_out, _ = lab_statistics(shrunk)
    mean_in, _ = lab_statistics(reference)
    return float(((mean_out - mean_in) ** 2).sum().sqrt())


def lanczos(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS)).astype(float)


@pytest.mark.parametrize(("scale", "network"), [(2, "DAT_light_x2"), (4, "DAT_light_x4"), (8, "DAT_light_x4")])
def test_classic_runs_the_faithful_network_never_a_resampler(shared_models, scale, network):
    result = upscaled(CLEAN, shared_models, classic=True, scale=scale)
    assert result.engine == f"precise/{network}"
    assert result.image.size == (32 * scale, 32 * scale)
    # Different from any resampler, and faithful: shrunk back it is the input within a few levels.
    assert error_to(pixels(result), lanczos(CLEAN, result.image.size)) > 1
    shrunk = np.asarray(result.image.resize((32, 32), Image.Resampling.BOX)).astype(float)
    assert error_to(shrunk, CLEAN.astype(float)) < 3


def test_classic_without_its_network_is_an_error_not_a_resampler(tmp_path):
    with pytest.raises(ModelNotInstalledError, match="DAT_light_x4"):
        upscaled(CLEAN, tmp_path, classic=True, scale=4)


def test_clean_removes_jpeg_artefacts_and_noise_that_high_fidelity_keeps():
    reference = lanczos(CLEAN, (64, 64))
    noisy = np.clip(CLEAN + np.random.default_rng(0).normal(0, 8, CLEAN.shape), 0, 255).astype(np.uint8)
    for image, fmt in ((CLEAN, "JPEG"), (noisy, "PNG")):
        kept = pixels(upscaled(image, fmt=fmt, classic=True, finish="none"))
        cleaned = pixels(upscaled(image, fmt=fmt, classic=True, finish="clean"))
        assert not np.array_equal(kept, cleaned)
        # Closer to the upscale of the clean original, with less spurious fine detail.
        assert error_to(cleaned, reference) < 0.93 * error_to(kept, reference), fmt
        assert fine_detail(cleaned) < 0.8 * fine_detail(kept), fmt


def test_smooth_is_smoother_than_clean_which_is_smoother_than_high_fidelity(tiny_models, shared_models):
    for params in ({"classic": True}, {"classic": False}):
        folder = shared_models if params["classic"] else tiny_models
        energy = [
            fine_detail(pixels(upscaled(CLEAN, folder, finish=finish, **params)))
            for finish in ("none", "clean", "smooth")
        ]
        assert energy[0] > energy[1] > energy[2], (params, energy)
        assert energy[2] < 0.5 * energy[0], (params, energy)


@pytest.mark.slow
def test_high_fidelity_is_the_networks_output_untouched(shared_models):
    plain = upscaled(CLEAN, shared_models)
    high_fidelity = upscaled(CLEAN, shared_models, finish="none")
    artifact_removal = upscaled(CLEAN, shared_models, finish="clean")
    assert plain.engine == high_fidelity.engine == "precise/RealESRGAN_x4plus"
    assert np.array_equal(np.asarray(plain.image), np.asarray(high_fidelity.image))
    assert fine_detail(pixels(artifact_removal)) < fine_detail(pixels(high_fidelity))


@pytest.mark.slow
def test_matching_colours_holds_the_inputs_palette_where_the_network_drifts(shared_models):
    rng = np.random.default_rng(1)
    # Saturated single-pixel dots the network cannot resolve: it averages them into other colours.
    dots = (rng.integers(0, 2, (24, 24, 3)) * 255).astype(np.uint8)
    noisy = photo(24, 24, seed=5, noise=0.15)
    for image in (dots, noisy):
        drifted = delta_e(upscaled(image, shared_models, match_colors=False).image, image)
        tuned = delta_e(upscaled(image, shared_models, match_colors=True).image, image)
        assert drifted > 2.3, drifted  # a visible difference (2.3 is the "just noticeable" one)
        assert tuned < 1.0 and tuned < drifted / 3, (tuned, drifted)


def test_matching_colours_changes_little_on_the_classic_path_which_keeps_colours():
    plain = upscaled(CLEAN, classic=True, match_colors=False).image
    tuned = upscaled(CLEAN, classic=True, match_colors=True).image
    assert delta_e(tuned, CLEAN) <= delta_e(plain, CLEAN) + 0.1
    assert np.abs(np.asarray(tuned).astype(float) - np.asarray(plain)).mean() < 2


def test_8x_is_two_network_passes_to_the_exact_size_and_alpha_survives(tiny_models, shared_models):
    rgba = np.dstack([photo(12, 10, seed=2), np.tile(np.linspace(0, 255, 10, dtype=np.uint8), (12, 1))])
    for classic in (False, True):
        folder = shared_models if classic else tiny_models
        result = upscaled(rgba, folder, scale=8, classic=classic, finish="clean", match_colors=True)
        assert result.image.size == (80, 96) and result.image.mode == "RGBA"
        alpha = np.asarray(result.image)[..., 3].astype(float)
        assert alpha[:, :8].mean() < 40 and alpha[:, -8:].mean() > 215


def test_it_refuses_unknown_looks_and_finishing_outside_precise(tiny_models):
    with pytest.raises(ValueError, match="finish must be one of none, clean, smooth"):
        upscaled(CLEAN, tiny_models, finish="shiny")
    with pytest.raises(ValueError, match="precise only"):
        upscale(encode(CLEAN), UpscaleParams("dynamic", scale=2, match_colors=True), model_dir=tiny_models)


@pytest.mark.slow
@pytest.mark.parametrize("scale", [2, 4])
def test_ximilars_default_and_high_fidelity_beat_lanczos_clearly_on_a_real_photo(shared_models, scale):
    # A photo the quality benchmark does not use (scikit-image's rocket), bicubic-downscaled.
    from skimage import data
    from skimage.metrics import peak_signal_noise_ratio

    truth = np.ascontiguousarray(data.rocket()[150:278, 260:388])  # the rocket, the gantry, the sky
    small = Image.fromarray(truth).resize((128 // scale, 128 // scale), Image.Resampling.BICUBIC)
    lanczos_psnr = peak_signal_noise_ratio(truth, lanczos(np.asarray(small), (128, 128)).astype(np.uint8))
    # Measured: +2.6 / +2.8 dB at 2x, +1.1 / +1.3 dB at 4x (default / high_fidelity).
    margin = {2: 1.5, 4: 0.75}[scale]
    for looks in ({"finish": "clean", "match_colors": True}, {"finish": "none"}):  # default, high_fidelity
        result = upscaled(np.asarray(small), shared_models, classic=True, scale=scale, **looks)
        psnr = peak_signal_noise_ratio(truth, np.asarray(result.image))
        assert psnr > lanczos_psnr + margin, (looks, psnr, lanczos_psnr)


def test_the_faithful_network_never_runs_in_half_precision(shared_models, monkeypatch):
    import torch

    from inference import device
    from inference.loader import read_model
    from inference.registry import model_path

    descriptor = read_model(model_path("DAT_light_x4", shared_models))
    assert descriptor.supports_half is False and descriptor.supports_bfloat16 is True  # spandrel says so
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert device.compute_dtype(cuda, descriptor.supports_half, descriptor.supports_bfloat16) == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert device.compute_dtype(cuda, descriptor.supports_half, descriptor.supports_bfloat16) == torch.float32
