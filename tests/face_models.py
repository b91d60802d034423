"""A face restoration model for tests: spandrel's GFPGAN architecture with random weights.

No face-restoration weights are reachable from these machines (../shared/models/MODELS.md);
a GFPGAN-architecture file built from spandrel's own class, with the arguments its loader
uses, is detected as GFPGAN (purpose FaceSR, 512x512) like GFPGANv1.4.pth. Its output is
noise-like, which is what the tests need: a restorer that visibly changes the face.
Stored as fp16 safetensors (175 MB); built once per test session.
"""

from __future__ import annotations

from pathlib import Path

from tests.env_defaults import SHARED_MODELS

FACE_MODEL = "GFPGAN_random"  # not a registered name: found by its purpose, as any FaceSR file


def write_random_gfpgan(path: Path, seed: int = 0) -> Path:
    import torch
    from safetensors.torch import save_file
    from spandrel.architectures.GFPGAN import GFPGAN

    torch.manual_seed(seed)
    network = GFPGAN(
        out_size=512,
        num_style_feat=512,
        channel_multiplier=2,
        decoder_load_path=None,
        fix_decoder=False,
        num_mlp=8,
        input_is_latent=True,
        different_w=True,
        narrow=1,
        sft_half=True,
    )
    state = {key: value.detach().to(torch.float16).contiguous() for key, value in network.state_dict().items()}
    save_file(state, str(path))
    return path


def model_dir_with_faces(folder: Path, face_file: Path | None) -> Path:
    """``folder`` holding links to the shared weights and, if given, the face model."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in SHARED_MODELS.iterdir():
        if path.suffix == ".safetensors":
            (folder / path.name).symlink_to(path)
    if face_file is not None:
        (folder / f"{FACE_MODEL}.safetensors").symlink_to(face_file)
    return folder
