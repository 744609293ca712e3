"""Previews that look like what the user will generate, so the best epoch can be picked.

Each save's previews are rendered from the adapter file just written, applied the way
A1111 and ComfyUI apply it (its saved tensors at a stated strength, `LoConNetwork.
loaded_as_file`), with the family's card settings (config.sampling: prefix, negative
prompt, CFG, sampler; trailing timesteps and guidance rescale under zero terminal SNR).
Every PNG carries an A1111 `parameters` text chunk, so PNG Info in A1111/Forge (and
ComfyUI's loader) reproduces it. Prompt embeddings come from the trainer's own text
conditioner, so captions longer than 77 tokens are encoded the way they train. Seeds are
fixed, so epochs compare; sampling never touches the training RNG, and a failure (out of
memory included) is reported and training goes on.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from pathlib import Path

import torch

from stylora_tui import __version__
from stylora_tui.config.sampling import SAMPLER_NAMES, Sampling, sampling_for
from stylora_tui.config.schema import Config
from stylora_tui.run import events as ev
from stylora_tui.run.layout import RunDir
from stylora_tui.trainer import faults
from stylora_tui.trainer.output import DTYPES

PARAMETERS_KEY = "parameters"  # the PNG text chunk A1111's PNG Info reads


class Sampler:
    def __init__(
        self,
        run: RunDir,
        config: Config,
        reporter,
        base,
        conditioner,
        adapter,
        device,
        weight_dtype,
        bucket: tuple[int, int],
        tag_frequency: dict,
        base_hash: str,
    ) -> None:
        self.run, self.config, self.reporter = run, config, reporter
        self.base, self.conditioner, self.adapter = base, conditioner, adapter
        self.device, self.weight_dtype = device, weight_dtype
        samples = config.samples
        self.size = (samples.width_px or bucket[0], samples.height_px or bucket[1])
        prediction = base.prediction
        self.settings: Sampling = sampling_for(config, prediction.type, prediction.zero_terminal_snr, tag_frequency)
        self.prompts = list(self.settings.prompts)
        self.base_hash = base_hash
        self._pipeline = None

    def pipeline(self):
        if self._pipeline is None:
            from diffusers import StableDiffusionXLPipeline

            from stylora_tui.trainer.loading import sampling_scheduler

            self._pipeline = StableDiffusionXLPipeline(
                vae=self.base.vae,
                text_encoder=self.base.text_encoder,
                text_encoder_2=self.base.text_encoder_2,
                tokenizer=None,
                tokenizer_2=None,
                unet=self.base.unet,
                scheduler=sampling_scheduler(self.base.prediction, self.settings.sampler),
            )
            self._pipeline.set_progress_bar_config(disable=True)
        return self._pipeline

    def decode(self, pipe, latents: torch.Tensor) -> list:
        """Latents to pictures, outside autocast: the VAE keeps its own dtype (never fp16)."""
        vae = self.base.vae
        pictures = []
        for one in latents:  # one at a time: a batch of 1024x1536 decodes would need gigabytes
            pixels = vae.decode(one[None].to(vae.dtype) / vae.config.scaling_factor).sample
            pictures += pipe.image_processor.postprocess(pixels.float(), output_type="pil")
        return pictures

    def render(
        self, label: str, epoch: int, step: int, adapter_file: Path | None = None, strength: float | None = None
    ) -> Path | None:
        """Previews into samples/<label>/: from `adapter_file` when the save wrote one, else
        from the weights of now, saved the way a file would be (its precision)."""
        run = self.run
        folder = run.samples / label
        unet = self.base.unet
        was_training = unet.training
        strength = self.settings.strength if strength is None else strength
        try:
            state, name, file_hash = self.adapter_state(adapter_file, label)
            self.base.vae.to(self.device)
            unet.eval()
            folder.mkdir(parents=True, exist_ok=True)
            with self.adapter.loaded_as_file(state, strength):
                names = self.render_all(folder, label, epoch, step, name, file_hash, strength)
            self.write_record(folder, epoch, step, names, name, strength)
            self.reporter.emit(
                ev.SampleSaved(epoch=epoch, step=step, path=str(folder.relative_to(run.path)), images=tuple(names))
            )
            return folder
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            self.reporter.emit(
                ev.Log(
                    message=f"samples at {label} ran out of GPU memory; training continues "
                    "(lower samples.batch_size, samples.width_px/height_px or samples.steps)"
                )
            )
        except Exception as exc:  # a preview must never end the run
            traceback.print_exc()
            self.reporter.emit(ev.Log(message=f"samples at {label} failed ({type(exc).__name__}: {exc}); training continues"))
        finally:
            self.base.vae.to("cpu")
            unet.train(was_training)
        return None

    def adapter_state(self, adapter_file: Path | None, label: str) -> tuple[dict, str, str]:
        """(tensors, the adapter's name in prompts, its hash as A1111 shows it)."""
        if adapter_file is not None:
            from safetensors.torch import load_file

            data = adapter_file.read_bytes()
            return load_file(str(adapter_file)), adapter_file.stem, hashlib.sha256(data).hexdigest()[:12]
        state = self.adapter.kohya_state_dict(DTYPES[self.config.saving.precision])
        return state, f"{self.run.name}-{label}", ""

    def render_all(
        self, folder: Path, label: str, epoch: int, step: int, name: str, file_hash: str, strength: float
    ) -> list[str]:
        settings, pipe = self.settings, self.pipeline()
        seed = self.config.samples.seed
        batch = self.config.samples.batch_size
        progress = _Progress(self.reporter, label, epoch, step, total=-(-len(self.prompts) // batch) * settings.steps)
        names = []
        with torch.no_grad():
            for start in range(0, len(self.prompts), batch):
                prompts = self.prompts[start : start + batch]
                seeds = [seed + start + i for i in range(len(prompts))]
                for offset, picture in enumerate(self.render_batch(pipe, prompts, seeds, progress)):
                    index = start + offset
                    file = f"{index + 1:02d}.png"
                    infotext = a1111_parameters(
                        self.prompts[index],
                        settings,
                        seeds[offset],
                        self.size,
                        name,
                        strength,
                        self.base_hash,
                        file_hash,
                        Path(str(self.config.model.path)).stem,
                    )
                    save_png(picture, folder / file, infotext)
                    names.append(file)
        return names

    def render_batch(self, pipe, prompts: list[str], seeds: list[int], progress) -> list:
        settings = self.settings
        # Autocast: the adapter is fp32 over a bf16/fp16 model (text encoders and UNet), and
        # lycoris 3.x modules do not cast their inputs themselves.
        with torch.autocast(self.device.type, dtype=self.weight_dtype, enabled=self.weight_dtype != torch.float32):
            hidden, pooled = self.conditioner.encode(prompts, self.device, self.weight_dtype)
            negative_hidden, negative_pooled = self.conditioner.encode(
                [settings.negative] * len(prompts), self.device, self.weight_dtype
            )
            latents = pipe(
                prompt_embeds=hidden,
                pooled_prompt_embeds=pooled,
                negative_prompt_embeds=negative_hidden,
                negative_pooled_prompt_embeds=negative_pooled,
                width=self.size[0],
                height=self.size[1],
                num_inference_steps=settings.steps,
                guidance_scale=settings.guidance_scale,
                guidance_rescale=settings.guidance_rescale,
                generator=[torch.Generator("cpu").manual_seed(s) for s in seeds],
                output_type="latent",
                callback_on_step_end=progress.step,
            ).images
        return self.decode(pipe, latents)

    def write_record(self, folder: Path, epoch: int, step: int, names: list[str], adapter: str, strength: float) -> None:
        settings, seed = self.settings, self.config.samples.seed
        record = {
            "epoch": epoch,
            "step": step,
            "prompts": self.prompts,
            "kinds": list(settings.kinds),
            "negative_prompt": settings.negative,
            "seeds": [seed + i for i in range(len(self.prompts))],
            "size": list(self.size),
            "steps": settings.steps,
            "sampler": SAMPLER_NAMES[settings.sampler],
            "guidance_scale": settings.guidance_scale,
            "guidance_rescale": settings.guidance_rescale,
            "adapter": adapter,
            "strength": strength,
            "source": settings.source,
            "images": names,
        }
        (folder / "prompts.json").write_text(json.dumps(record, indent=2), encoding="utf-8")


def a1111_parameters(
    prompt: str,
    settings: Sampling,
    seed: int,
    size: tuple[int, int],
    adapter: str,
    strength: float,
    base_hash: str,
    adapter_hash: str,
    model_name: str,
) -> str:
    """The `parameters` text A1111/Forge write into a PNG and read back with PNG Info."""
    fields = [
        f"Steps: {settings.steps}",
        f"Sampler: {SAMPLER_NAMES[settings.sampler]}",
        f"CFG scale: {settings.guidance_scale:g}",
        f"Seed: {seed}",
        f"Size: {size[0]}x{size[1]}",
    ]
    if base_hash and len(base_hash) >= 10:
        fields.append(f"Model hash: {base_hash[:10]}")  # A1111's short hash of the checkpoint
    fields.append(f"Model: {model_name}")
    if settings.guidance_rescale:
        fields.append(f"CFG Rescale phi: {settings.guidance_rescale:g}")
    if adapter_hash:
        fields.append(f'Lora hashes: "{adapter}: {adapter_hash}"')
    fields.append(f"Version: stylora-tui {__version__}")
    lines = [f"{prompt}, <lora:{adapter}:{strength:g}>"]
    if settings.negative:
        lines.append(f"Negative prompt: {settings.negative}")
    lines.append(", ".join(fields))
    return "\n".join(lines)


def save_png(picture, path: Path, parameters: str) -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(PARAMETERS_KEY, parameters)
    picture.save(path, pnginfo=info)


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
