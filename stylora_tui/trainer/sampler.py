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
import time
import traceback
from pathlib import Path

import torch

from stylora_tui.config.schema import Config
from stylora_tui.run import events as ev
from stylora_tui.run.layout import RunDir
from stylora_tui.trainer import faults

SUBJECTS = ("1girl, solo, upper body, looking at viewer", "scenery, landscape, sky, tree", "still life, flowers, vase, table")


def default_prompts(config: Config) -> list[str]:
    head = [t for t in (config.captions.trigger.strip(), *config.quality_tags) if t]
    return [", ".join((*head, subject)) for subject in SUBJECTS]


class Sampler:
    def __init__(
        self, run: RunDir, config: Config, reporter, base, conditioner, device, weight_dtype, bucket: tuple[int, int]
    ) -> None:
        self.run, self.config, self.reporter = run, config, reporter
        self.base, self.conditioner = base, conditioner
        self.device, self.weight_dtype = device, weight_dtype
        samples = config.samples
        self.size = (samples.width_px or bucket[0], samples.height_px or bucket[1])
        self.prompts = list(samples.prompts) or default_prompts(config)
        self._pipeline = None

    def pipeline(self):
        if self._pipeline is None:
            from diffusers import StableDiffusionXLPipeline

            from stylora_tui.trainer.loading import sampling_scheduler

            scheduler = sampling_scheduler(self.base.prediction)
            self._pipeline = StableDiffusionXLPipeline(
                vae=self.base.vae,
                text_encoder=self.base.text_encoder,
                text_encoder_2=self.base.text_encoder_2,
                tokenizer=None,
                tokenizer_2=None,
                unet=self.base.unet,
                scheduler=scheduler,
            )
            self._pipeline.set_progress_bar_config(disable=True)
        return self._pipeline

    def decode(self, pipe, latents: torch.Tensor):
        """Latents to a picture, outside autocast: the VAE keeps its own dtype (never fp16)."""
        vae = self.base.vae
        pixels = vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor).sample
        return pipe.image_processor.postprocess(pixels.float(), output_type="pil")[0]

    def render(self, label: str, epoch: int, step: int) -> Path | None:
        run = self.run
        folder = run.samples / label
        unet = self.base.unet
        was_training = unet.training
        try:
            self.base.vae.to(self.device)
            unet.eval()
            folder.mkdir(parents=True, exist_ok=True)
            pipe = self.pipeline()
            seed = self.config.samples.seed
            names = []
            steps = self.config.samples.steps
            progress = _Progress(self.reporter, label, epoch, step, total=len(self.prompts) * steps)
            with torch.no_grad():
                for index, prompt in enumerate(self.prompts):
                    # Autocast: the adapter is fp32 over a bf16/fp16 model (text encoders and
                    # UNet), and lycoris 3.x modules do not cast their inputs themselves.
                    with torch.autocast(self.device.type, dtype=self.weight_dtype, enabled=self.weight_dtype != torch.float32):
                        hidden, pooled = self.conditioner.encode([prompt], self.device, self.weight_dtype)
                        latents = pipe(
                            prompt_embeds=hidden,
                            pooled_prompt_embeds=pooled,
                            negative_prompt_embeds=torch.zeros_like(hidden),
                            negative_pooled_prompt_embeds=torch.zeros_like(pooled),
                            width=self.size[0],
                            height=self.size[1],
                            num_inference_steps=steps,
                            guidance_scale=self.config.samples.guidance_scale,
                            generator=torch.Generator("cpu").manual_seed(seed + index),
                            output_type="latent",
                            callback_on_step_end=progress.step,
                        ).images
                    image = self.decode(pipe, latents)
                    name = f"{index + 1:02d}.png"
                    image.save(folder / name)
                    names.append(name)
            (folder / "prompts.json").write_text(
                json.dumps(
                    {
                        "epoch": epoch,
                        "step": step,
                        "prompts": self.prompts,
                        "seeds": [seed + i for i in range(len(self.prompts))],
                        "size": list(self.size),
                        "images": names,
                    },
                    indent=2,
                ),
                encoding="utf-8",
            )
            self.reporter.emit(
                ev.SampleSaved(epoch=epoch, step=step, path=str(folder.relative_to(run.path)), images=tuple(names))
            )
            return folder
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            self.reporter.emit(
                ev.Log(
                    message=f"samples at {label} ran out of GPU memory; training continues "
                    "(lower samples.width_px/height_px or samples.steps)"
                )
            )
        except Exception as exc:  # a preview must never end the run
            traceback.print_exc()
            self.reporter.emit(ev.Log(message=f"samples at {label} failed ({type(exc).__name__}: {exc}); training continues"))
        finally:
            self.base.vae.to("cpu")
            unet.train(was_training)
        return None


class _Progress:
    """Denoising progress as `sample.progress` events, at most one a second, so viewers
    show sampling as work being done, not as a hang."""

    def __init__(self, reporter, label: str, epoch: int, step: int, total: int) -> None:
        self.reporter, self.label, self.epoch, self.train_step, self.total = reporter, label, epoch, step, total
        self.done = 0
        self.last = 0.0

    def step(self, _pipe, _index, _timestep, callback_kwargs):
        faults.point("sample.step")
        self.done += 1
        now = time.time()
        if self.done == self.total or now - self.last >= 1.0:
            self.reporter.emit(
                ev.SampleProgress(label=self.label, epoch=self.epoch, step=self.train_step, done=self.done, total=self.total)
            )
            self.last = now
        return callback_kwargs
