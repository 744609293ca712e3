"""The LoCon network: lycoris-lora modules on kohya's target sets, named the kohya way.

kohya's LoCon "full" on SDXL: 722 transformer Linear + 66 resnet/down/upsample modules
+ 72 TE1 + 192 TE2. lycoris's own "full" preset and its kohya wrapper do not give that
set on a diffusers UNet (FIELD-NOTES), so each model gets its own target preset by
module class. `LycorisNetwork.apply_preset` sets process-global class attributes; every
key is set on every call so one model's preset never leaks into the next.

Max-norm (`scale_weight_norms`) follows LyCORIS, which the practice ran through kohya_ss:
each module carries a `scalar` that multiplies its output (so a capped module also learns
more slowly, until it stops) and is folded into `lora_up` when saved. lycoris keeps that
scalar in a non-persistent buffer a checkpoint would lose; here all scalars live in one
persistent vector (`scalars`) that each module's buffer is a view of, and the norms of
all modules are computed together from r x r Gram products, with no host sync.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from stylora_tui.config.schema import NetworkConfig
from stylora_tui.model.kohya_names import text_encoder_key, unet_key
from stylora_tui.trainer.bypass import HalfCopies, linear_forward, store_up_transposed

TRANSFORMER = ["Transformer2DModel"]
CONV_BLOCKS = ["ResnetBlock2D", "Downsample2D", "Upsample2D"]
TEXT_BLOCKS = ["CLIPAttention", "CLIPMLP"]


def unet_targets(net: NetworkConfig) -> list[str]:
    # Standard LoRA (kohya's "Standard") never touches the convolution blocks.
    if net.preset == "full" and net.algo == "locon":
        return TRANSFORMER + CONV_BLOCKS
    return TRANSFORMER


@dataclass
class AdapterModule:
    """One trained module: its lycoris module and its kohya key prefix."""

    key: str
    lora: torch.nn.Module
    component: str  # unet, te1, te2


def _lycoris(model: torch.nn.Module, targets: list[str], net: NetworkConfig):
    import logging

    from lycoris import LycorisNetwork

    # lycoris logs every module at INFO to stdout, which would corrupt `plan --json`.
    logging.getLogger("LyCORIS").setLevel(logging.WARNING)

    LycorisNetwork.apply_preset(
        {
            "enable_conv": True,
            "target_module": targets,
            "target_name": [],
            "module_algo_map": {},
            "name_algo_map": {},
            "use_fnmatch": False,
            "exclude_name": [],
            "lora_prefix": "lycoris",
        }
    )
    return LycorisNetwork(
        model,
        multiplier=1.0,
        lora_dim=net.dim,
        conv_lora_dim=net.conv_dim if net.algo == "locon" else 0,
        alpha=net.alpha,
        conv_alpha=net.conv_alpha,
        network_module="locon",
        # Bypass: y = W x + up(down(x)) * scale, without materialising W + dW each step
        # (about half the FLOPs of the merged-weight forward on the full SDXL UNet).
        bypass_mode=True,
        warn_on_unmatched=False,
    )


class LoConNetwork(torch.nn.Module):
    """The adapter over the UNet and (optionally) both text encoders."""

    def __init__(self, unet, text_encoder, text_encoder_2, net: NetworkConfig) -> None:
        super().__init__()
        self.config = net
        self.parts = torch.nn.ModuleDict()
        self.modules_by_key: dict[str, AdapterModule] = {}
        components = [("unet", unet, unet_targets(net), None)]
        if net.trains_text_encoders:
            components += [("te1", text_encoder, TEXT_BLOCKS, 1), ("te2", text_encoder_2, TEXT_BLOCKS, 2)]
        # A plain dict, so the base models are not registered as this module's children.
        self.adapted = {component: model for component, model, _, _ in components}
        # Each module's cell [factor, half-precision copy or None], refreshed per forward.
        self.factors: list[list] = []
        self.factor_values: torch.Tensor | None = None  # what the cells' factors are views of
        self.half_copies: dict[str, HalfCopies] = {}
        for component, model, targets, te_index in components:
            network = _lycoris(model, targets, net)
            names = {id(module): name for name, module in model.named_modules()}
            for lora in network.loras:
                path = names[id(lora.org_module[0])]
                key = unet_key(path) if te_index is None else text_encoder_key(path, te_index)
                self.modules_by_key[key] = AdapterModule(key, lora, component)
            self.parts[component] = network
        for module in self.modules_by_key.values():
            module.lora.requires_grad_(True)
        # Modules of the same (up, down) shapes are contiguous, so their norms are one batch.
        self.order = sorted(self.modules_by_key, key=lambda k: (_shapes(self.modules_by_key[k].lora), k))
        self.register_buffer("scalars", torch.ones(len(self.order)))
        # Each module's alpha / rank times its multiplier (the preview strength; 1 in training).
        self.register_buffer(
            "scales", torch.tensor([float(self.modules_by_key[k].lora.scale) for k in self.order]), persistent=False
        )
        self.groups: list[list[AdapterModule]] = []
        for key in self.order:
            module = self.modules_by_key[key]
            if not self.groups or _shapes(self.groups[-1][0].lora) != _shapes(module.lora):
                self.groups.append([])
            self.groups[-1].append(module)
        self._bind_scalars()

    def _bind_scalars(self) -> None:
        """Each lycoris module's `scalar` buffer becomes a view into `scalars`, and max-norm's
        weights are listed once per shape group: gathered through the modules' attributes
        after every optimizer step, the lists alone cost more host time than the norms."""
        for index, key in enumerate(self.order):
            self.modules_by_key[key].lora._buffers["scalar"] = self.scalars[index]
        self.group_weights = [
            ([m.lora.lora_up.weight for m in group], [m.lora.lora_down.weight for m in group]) for group in self.groups
        ]

    def _apply(self, fn, recurse=True):
        # .to()/.cuda() replace every buffer: bind the views again afterwards.
        result = super()._apply(fn, recurse)
        self._bind_scalars()
        if self.factors:
            self.refresh_factors()
        return result

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        state = dict(state_dict)
        # Checkpoints from before max-norm scalars were kept: every scalar was 1.
        scalars = state.setdefault("scalars", torch.ones(len(self.order)))
        result = super().load_state_dict(state, strict=strict, assign=assign)
        # lycoris' load hook resets each module's scalar to 1 (writing through our views).
        self.scalars.copy_(scalars)
        return result

    def apply_to(self) -> None:
        for network in self.parts.values():
            network.apply_to()
        self.factors[:] = [[None, None] for _ in self.order]
        self.factor_values = None
        lean: dict[str, list] = {component: [] for component in self.parts}
        for cell, key in zip(self.factors, self.order):
            module = self.modules_by_key[key]
            lora, base = module.lora, module.lora.org_module[0]
            if isinstance(base, torch.nn.Linear) and not base.weight.requires_grad and not getattr(lora, "tucker", False):
                base.forward = linear_forward(lora, cell)
                store_up_transposed(lora.lora_up.weight)
                lean[module.component].append((lora, cell))
        self.half_copies = {component: HalfCopies(pairs) for component, pairs in lean.items()}
        for component, model in self.adapted.items():
            model.register_forward_pre_hook(functools.partial(self._before_forward, self.half_copies[component]))
        self.refresh_factors()

    def _before_forward(self, half_copies: HalfCopies, module, args) -> None:
        self.refresh_factors()
        half_copies.refresh()

    def refresh_factors(self) -> None:
        """Every module's factor in one multiplication, written in place into the vector whose
        elements the modules hold as views: before each model's forward, so every forward
        reads them as they are now (max-norm changes the scalars after each optimizer step,
        previews the scales), without making ~1,000 new views each time (2 ms a forward). The
        modules keep the factor for their backward without saving it: the refresh before the
        next model's forward writes the same values (none changes inside a step) and would
        trip autograd's check for tensors saved and then written."""
        values = self.factor_values
        if values is None or values.device != self.scalars.device or values.dtype != self.scalars.dtype:
            self.factor_values = values = self.scales * self.scalars
            for cell, factor in zip(self.factors, values.unbind()):
                cell[0] = factor
        else:
            torch.mul(self.scales, self.scalars, out=values)

    def param_groups(self, unet_lr: float, text_encoder_lr: float) -> list[dict]:
        groups = []
        for component in self.parts:
            params = [
                p
                for m in self.modules_by_key.values()
                if m.component == component
                for p in m.lora.parameters()
                if p.requires_grad
            ]
            if params:
                groups.append({"params": params, "lr": unet_lr if component == "unet" else text_encoder_lr, "name": component})
        return groups

    def kohya_state_dict(self, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
        """Only `lora_down.weight`, `lora_up.weight` and `alpha` per module, kohya names."""
        state = {}
        for key, module in sorted(self.modules_by_key.items()):
            lora = module.lora
            # The max-norm scalar is folded into lora_up, as lycoris saves it.
            for suffix, tensor in (
                ("lora_down.weight", lora.lora_down.weight),
                ("lora_up.weight", lora.lora_up.weight * lora.scalar),
                ("alpha", lora.alpha),
            ):
                # A copy: the weights are views into the optimizer's flat tensors.
                value = tensor.detach().to("cpu", dtype or tensor.dtype, copy=True)
                state[f"{key}.{suffix}"] = value.contiguous()
        return state

    @contextmanager
    def loaded_as_file(self, state: dict[str, torch.Tensor], strength: float) -> Iterator[None]:
        """The network doing what a saved adapter does when a WebUI loads it at `strength`:
        its tensors (kohya names, save precision, max-norm folded in) in place of the
        training weights, its alpha, every module's output times `strength` (A1111's and
        ComfyUI's W + strength * up @ down * alpha / rank, applied in bypass form). The
        training weights come back exactly afterwards."""
        kept = []
        with torch.no_grad():
            for key, module in self.modules_by_key.items():
                lora = module.lora
                down, up = lora.lora_down.weight, lora.lora_up.weight
                kept.append((lora, down.detach().clone(), up.detach().clone(), lora.scale, lora.multiplier))
                down.copy_(state[f"{key}.lora_down.weight"].to(down))
                up.copy_(state[f"{key}.lora_up.weight"].to(up))
                lora.scale = float(state[f"{key}.alpha"]) / lora.lora_dim
                lora.multiplier = strength
            scalars, scales = self.scalars.clone(), self.scales.clone()
            self.scalars.fill_(1.0)
            self.scales.copy_(torch.tensor([self.modules_by_key[k].lora.scale * strength for k in self.order]))
        try:
            yield
        finally:
            with torch.no_grad():
                for lora, down, up, scale, multiplier in kept:
                    lora.lora_down.weight.copy_(down)
                    lora.lora_up.weight.copy_(up)
                    lora.scale, lora.multiplier = scale, multiplier
                self.scalars.copy_(scalars)
                self.scales.copy_(scales)

    def trainable_parameters(self) -> int:
        return sum(p.numel() for m in self.modules_by_key.values() for p in m.lora.parameters() if p.requires_grad)

    @torch.no_grad()
    def apply_max_norm(self, max_norm: float) -> None:
        """LyCORIS' max-norm for every module at once: norm = ||up @ down|| * scale * scalar,
        floored at max_norm / 2; a module above max_norm has its scalar multiplied by
        max_norm / norm. ||up @ down||^2 = sum((up^T up) * (down down^T)): r x r products only."""
        squared = []
        for ups, downs in self.group_weights:
            up = torch.stack(ups).flatten(2).float()  # (modules, out, rank): a conv's 1x1 up flattened
            down = torch.stack(downs).flatten(2).float()  # (modules, rank, in x kernel)
            squared.append(((up.transpose(1, 2) @ up) * (down @ down.transpose(1, 2))).sum(dim=(1, 2)))
        norm = torch.cat(squared).clamp(min=0).sqrt() * self.scales * self.scalars
        norm = norm.clamp(min=max_norm / 2)
        self.scalars.mul_(norm.clamp(max=max_norm) / norm)


def _shapes(lora) -> tuple:
    return tuple(lora.lora_up.weight.shape), tuple(lora.lora_down.weight.shape)
