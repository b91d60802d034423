"""A tiny, randomly initialised x4 upscaler pipeline written to disk, for tests and timing.

Every component the real ``stabilityai/stable-diffusion-x4-upscaler`` has (UNet with the
noise-level class embedding, 4x VAE, CLIP text encoder and tokenizer, the two schedulers)
at a few channels each, saved with ``save_pretrained`` so it loads exactly as the real one
does. The tokenizer is built from a byte-level vocabulary written here: nothing is
downloaded. ``python -m inference.diffusion_tiny DIR`` writes one (the directory name the
registry expects is ``inference.registry.SMART_PIPELINE``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)

MAX_NOISE_LEVEL = 350
START, END = "<|startoftext|>", "<|endoftext|>"


def _byte_alphabet() -> list[str]:
    """GPT-2/CLIP's printable stand-in for each of the 256 bytes, in byte order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    extra = 0
    chars = []
    for byte in range(256):
        if byte in printable:
            chars.append(chr(byte))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def write_tokenizer(folder: Path) -> int:
    """A CLIP tokenizer that spells every word byte by byte; returns its vocabulary size."""
    folder.mkdir(parents=True, exist_ok=True)
    alphabet = _byte_alphabet()
    tokens = alphabet + [c + "</w>" for c in alphabet] + [START, END]
    vocab = {token: index for index, token in enumerate(tokens)}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "CLIPTokenizer",
                "model_max_length": 77,
                "bos_token": START,
                "eos_token": END,
                "unk_token": END,
                "pad_token": END,
            }
        ),
        encoding="utf-8",
    )
    return len(vocab)


def build_tiny_pipeline(folder: str | Path, seed: int = 0) -> Path:
    """Write a tiny x4 upscaler pipeline into ``folder`` (created); returns it."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        DDPMScheduler,
        StableDiffusionUpscalePipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = Path(folder)
    staging = folder / "_tokenizer"
    vocab_size = write_tokenizer(staging)
    tokenizer = CLIPTokenizer(
        vocab=str(staging / "vocab.json"),
        merges=str(staging / "merges.txt"),
        bos_token=START,
        eos_token=END,
        unk_token=END,
        pad_token=END,
        model_max_length=77,
    )

    torch.manual_seed(seed)
    width = 16
    unet = UNet2DConditionModel(
        sample_size=32,
        in_channels=7,  # 4 latent channels + the 3 of the low-resolution image
        out_channels=4,
        block_out_channels=(8, 8, 16),  # the middle block's attention runs at 1/4 resolution
        layers_per_block=1,
        norm_num_groups=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=width,
        attention_head_dim=4,
        only_cross_attention=True,  # no pixel-to-pixel attention: a CPU job stays at seconds
        num_class_embeds=MAX_NOISE_LEVEL + 1,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=(8, 8, 8),  # three blocks: latents at 1/4 of the output size
        layers_per_block=1,
        norm_num_groups=4,
        latent_channels=4,
        sample_size=64,
        scaling_factor=0.08333,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=vocab_size,
            hidden_size=width,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=77,
            projection_dim=width,
            bos_token_id=vocab_size - 2,
            eos_token_id=vocab_size - 1,
            pad_token_id=vocab_size - 1,
        )
    )
    pipeline = StableDiffusionUpscalePipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        low_res_scheduler=DDPMScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear"),
        scheduler=DDIMScheduler(
            num_train_timesteps=1000,
            beta_start=0.0001,
            beta_end=0.02,
            beta_schedule="scaled_linear",
            clip_sample=False,
            set_alpha_to_one=False,
        ),
        max_noise_level=MAX_NOISE_LEVEL,
    )
    pipeline.save_pretrained(str(folder), safe_serialization=True)  # type: ignore[attr-defined]  # a mixin's
    for path in staging.iterdir():
        path.unlink()
    staging.rmdir()
    log.info("wrote a tiny x4 upscaler pipeline to %s", folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.diffusion_tiny", description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="where to write the pipeline")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build_tiny_pipeline(args.directory, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
