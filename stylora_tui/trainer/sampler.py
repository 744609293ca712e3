"""Preview images with the adapter applied, so the user can pick the best epoch.

Prompts come from the config, or are built from the trigger and the family's quality
tags over a few subjects; seeds are fixed so epochs are comparable. The pipeline is the
base model's own modules (the adapter is active in them, in bypass mode) with prompt
embeddings from the trainer's own text conditioner, so captions longer than 77 tokens
are encoded the way they are trained. Sampling never touches the training RNG, and a
failure (out of memory included) is reported and training goes on.
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path

import torch

from stylora_tui.core import events as ev
from stylora_tui.core.config import Config

SUBJECTS = ("1girl, solo, upper body, looking at viewer", "scenery, landscape, sky, tree", "still life, flowers, vase, table")


def default_prompts(config: Config) -> list[str]:
    head = [t for t in (config.captions.trigger.strip(), *config.quality_tags) if t]
    return [", ".join((*head, subject)) for subject in SUBJECTS]


class Sampler:
    def __init__(self, owner, base, conditioner, device, weight_dtype, bucket: tuple[int, int]) -> None:
        self.owner, self.base, self.conditioner = owner, base, conditioner
        self.device, self.weight_dtype = device, weight_dtype
        samples = owner.config.samples
        self.size = (samples.width_px or bucket[0], samples.height_px or bucket[1])
        self.prompts = list(samples.prompts) or default_prompts(owner.config)
        self._pipeline = None

    def pipeline(self):
        if self._pipeline is None:
            from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline

            from stylora_tui.trainer.sdxl_layout import shipped_config

            scheduler = EulerDiscreteScheduler.from_config(shipped_config("scheduler"))
            self._pipeline = StableDiffusionXLPipeline(
                vae=self.base.vae, text_encoder=self.base.text_encoder, text_encoder_2=self.base.text_encoder_2,
                tokenizer=None, tokenizer_2=None, unet=self.base.unet, scheduler=scheduler,
            )
            self._pipeline.set_progress_bar_config(disable=True)
        return self._pipeline

    def render(self, label: str, epoch: int, step: int) -> Path | None:
        run = self.owner.run
        folder = run.samples / label
        unet = self.base.unet
        was_training = unet.training
        vae_dtype = torch.bfloat16 if self.weight_dtype == torch.bfloat16 else torch.float32
        try:
            self.base.vae.to(self.device, vae_dtype)
            unet.eval()
            folder.mkdir(parents=True, exist_ok=True)
            pipe = self.pipeline()
            seed = self.owner.config.samples.seed
            names = []
            with torch.no_grad():
                for index, prompt in enumerate(self.prompts):
                    hidden, pooled = self.conditioner.encode([prompt], self.device, self.weight_dtype)
                    image = pipe(
                        prompt_embeds=hidden, pooled_prompt_embeds=pooled,
                        negative_prompt_embeds=torch.zeros_like(hidden), negative_pooled_prompt_embeds=torch.zeros_like(pooled),
                        width=self.size[0], height=self.size[1], num_inference_steps=self.owner.config.samples.steps,
                        guidance_scale=self.owner.config.samples.guidance_scale,
                        generator=torch.Generator("cpu").manual_seed(seed + index),
                    ).images[0]
                    name = f"{index + 1:02d}.png"
                    image.save(folder / name)
                    names.append(name)
            (folder / "prompts.json").write_text(json.dumps(
                {"epoch": epoch, "step": step, "prompts": self.prompts, "seeds": [seed + i for i in range(len(self.prompts))],
                 "size": list(self.size), "images": names}, indent=2), encoding="utf-8")
            self.owner.events.emit(ev.SAMPLE_SAVED, epoch=epoch, step=step, path=str(folder.relative_to(run.path)), images=names)
            return folder
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            self.owner.events.emit(ev.LOG, message=f"samples at {label} ran out of GPU memory; training continues "
                                   "(lower samples.width_px/height_px or samples.steps)")
        except Exception as exc:  # a preview must never end the run
            traceback.print_exc()
            self.owner.events.emit(ev.LOG, message=f"samples at {label} failed ({type(exc).__name__}: {exc}); training continues")
        finally:
            self.base.vae.to("cpu")
            unet.train(was_training)
        return None
