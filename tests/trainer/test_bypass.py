"""The written-out linear bypass against lycoris' own: same outputs and gradients, fewer
dispatched operations (the host work a GPU step waits on)."""

from __future__ import annotations

import collections

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from stylora_tui.config.build import build_config


class Counting(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.count = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def _models(dtype):
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from stylora_tui.trainer.demo_model import DEMO_OVERRIDES
    from stylora_tui.trainer.sdxl_layout import shipped_config

    torch.manual_seed(0)
    unet = UNet2DConditionModel.from_config({**shipped_config("unet"), **DEMO_OVERRIDES["unet"]})
    keep = lambda c: {k: v for k, v in c.items() if not k.startswith("_") and k != "architectures"}  # noqa: E731
    te1 = CLIPTextModel(CLIPTextConfig(**keep({**shipped_config("text_encoder"), **DEMO_OVERRIDES["text_encoder"]})))
    te2 = CLIPTextModelWithProjection(
        CLIPTextConfig(**keep({**shipped_config("text_encoder_2"), **DEMO_OVERRIDES["text_encoder_2"]}))
    )
    for model in (unet, te1, te2):
        model.requires_grad_(False)
        model.to(dtype)
    return unet, te1, te2


def _network(lean: bool, dtype=torch.float32, checkpointing: bool = False, device: str = "cpu"):
    from stylora_tui.trainer.network import LoConNetwork

    unet, te1, te2 = _models(dtype)
    config = build_config({"network": {"dim": 4, "alpha": 2, "conv_dim": 4, "conv_alpha": 2}}).network
    torch.manual_seed(1)
    network = LoConNetwork(unet, te1, te2, config)
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for module in network.modules_by_key.values():  # lycoris starts up at zero: no gradient to see
            module.lora.lora_up.weight.copy_(torch.randn(module.lora.lora_up.weight.shape, generator=generator) * 0.05)
        network.scalars.copy_(torch.rand(len(network.order), generator=generator) * 0.5 + 0.5)  # max-norm at work
    for model in (unet, te1, te2, network):
        model.to(device)
    if lean:
        network.apply_to()
    else:
        for part in network.parts.values():
            part.apply_to()
    if checkpointing:
        unet.enable_gradient_checkpointing()
        for encoder in (te1, te2):
            encoder.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    for model in (unet, te1, te2):
        model.train()
    return (unet, te1, te2), network


def _step(models, network, autocast: bool):
    out = _forward_backward(models, network, autocast)
    return out, _gradients(network)


def _forward_backward(models, network, autocast: bool) -> torch.Tensor:
    unet, te1, te2 = models
    device = unet.device
    generator = torch.Generator().manual_seed(3)
    ids = torch.randint(0, 1000, (1, 77), generator=generator).to(device)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
        hidden = torch.cat(
            [te1(ids, output_hidden_states=True).hidden_states[-2], te2(ids, output_hidden_states=True).hidden_states[-2]], -1
        )
        pooled = te2(ids).text_embeds
        latents = torch.randn(1, 4, 16, 24, generator=generator).to(device, unet.dtype)
        added = {"text_embeds": pooled, "time_ids": torch.tensor([[192.0, 128, 0, 0, 192, 128]], device=device)}
        out = unet(latents, torch.tensor([500], device=device), hidden.to(unet.dtype), added_cond_kwargs=added).sample
    loss = out.float().square().mean()
    loss.backward()
    return out.detach().float().cpu()


def _gradients(network) -> dict[str, torch.Tensor]:
    # te1's last layer feeds nothing the UNet reads (its penultimate states are): no gradient.
    grads = {
        k: torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in m.lora.parameters()])
        for k, m in network.modules_by_key.items()
    }
    return {key: grad.cpu() for key, grad in grads.items()}


@pytest.mark.parametrize("checkpointing", [False, True])
def test_the_lean_bypass_computes_what_lycoris_does_in_fp32(checkpointing):
    out, grads = _step(*_network(lean=True, checkpointing=checkpointing), autocast=False)
    ref_out, ref_grads = _step(*_network(lean=False), autocast=False)
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-6)
    assert grads.keys() == ref_grads.keys()
    learning = [key for key in grads if grads[key].abs().sum() > 0]
    assert len(learning) > 0.9 * len(grads)
    for key in grads:
        torch.testing.assert_close(grads[key], ref_grads[key], rtol=1e-4, atol=1e-7)


def test_the_lean_bypass_under_bf16_autocast_with_a_bf16_base():
    out, grads = _step(*_network(lean=True, dtype=torch.bfloat16), autocast=True)
    ref_out, ref_grads = _step(*_network(lean=False, dtype=torch.bfloat16), autocast=True)
    torch.testing.assert_close(out, ref_out, rtol=0.05, atol=0.02)
    flat, ref = torch.cat(list(grads.values())), torch.cat(list(ref_grads.values()))
    assert all(g.dtype == torch.float32 for g in grads.values()), "the fp32 adapter gets fp32 gradients"
    cosine = torch.nn.functional.cosine_similarity(flat, ref, dim=0)
    assert cosine > 0.999, cosine


def test_the_lean_bypass_dispatches_far_fewer_operations():
    counts = {}
    for lean in (True, False):
        models, network = _network(lean=lean)
        counting = Counting()
        with counting:
            _forward_backward(models, network, autocast=False)
        counts[lean] = sum(counting.count.values())
    linear = sum(isinstance(m.lora.org_module[0], torch.nn.Linear) for m in network.modules_by_key.values())
    assert counts[False] - counts[True] >= 15 * linear, (counts, linear)


def test_max_norm_scalars_changed_between_steps_reach_the_next_forward_and_backward():
    models, network = _network(lean=True)
    _step(models, network, autocast=False)
    network.zero_grad(set_to_none=True)
    ref_models, reference = _network(lean=False)
    for net in (network, reference):
        with torch.no_grad():
            net.scalars[::3] *= 0.5  # what max-norm does after an optimizer step, in place
    out, grads = _step(models, network, autocast=False)
    ref_out, ref_grads = _step(ref_models, reference, autocast=False)
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-6)
    for key in grads:
        torch.testing.assert_close(grads[key], ref_grads[key], rtol=1e-4, atol=1e-7)


def test_previews_at_a_strength_scale_the_lean_modules():
    """loaded_as_file's strength reaches the lean modules: at strength 0 the base alone."""
    models, network = _network(lean=True)
    unet, te1, _ = models
    ids = torch.randint(0, 1000, (1, 77), generator=torch.Generator().manual_seed(4))
    state = network.kohya_state_dict()
    with torch.no_grad():
        adapted = te1(ids).last_hidden_state
        with network.loaded_as_file(state, 0.0):
            at_zero = te1(ids).last_hidden_state
        again = te1(ids).last_hidden_state
        for part in network.parts.values():
            part.restore()
        base = te1(ids).last_hidden_state
    torch.testing.assert_close(at_zero, base)
    torch.testing.assert_close(again, adapted)
    assert not torch.allclose(adapted, base)


def test_each_up_is_stored_transposed_and_its_gradient_is_kept_without_a_copy():
    # The layout the skinny products run fastest in (bypass.LinearBypass); a gradient made in
    # another layout than its weight's would be copied by autograd, one copy per module.
    models, network = _network(lean=True)
    linear = [m.lora for m in network.modules_by_key.values() if isinstance(m.lora.org_module[0], torch.nn.Linear)]
    counting = Counting()
    with counting:
        _forward_backward(models, network, autocast=False)
    for lora in linear:
        up = lora.lora_up.weight
        assert up.stride() == (1, up.shape[0]), "stored as r rows of out"
        assert up.grad is None or up.grad.stride() == up.stride()
    assert counting.count["new_empty_strided"] < len(linear) / 10, (counting.count["new_empty_strided"], len(linear))
    # Saved in the row-major layout every reader of a .safetensors file expects.
    assert all(t.is_contiguous() for t in network.kohya_state_dict().values())


def test_a_conversion_after_apply_to_keeps_each_up_transposed(device: str = "cpu", dtype=torch.float64):
    # The session applies the adapter, then moves it to the GPU (`.to(device, float32)`): a
    # conversion that made `up` row-major again would bring back a copy of every gradient.
    # On a CPU a dtype conversion stands in for the move (the same copy); test_cuda moves it.
    _, network = _network(lean=True)
    network.to(device, dtype)
    ups = [m.lora.lora_up.weight for m in network.modules_by_key.values() if isinstance(m.lora.org_module[0], torch.nn.Linear)]
    assert ups and all(up.dtype == dtype and up.device.type == device for up in ups)
    assert all(up.stride() == (1, up.shape[0]) for up in ups)


def _two_steps(half_copies: bool, checkpointing: bool, monkeypatch, device: str = "cpu"):
    """Two bf16 steps with an optimizer step between them, the adapter read through its
    half-precision copies or cast per module (the copies switched off)."""
    from stylora_tui.trainer import bypass

    with monkeypatch.context() as patch:
        if not half_copies:
            patch.setattr(bypass, "autocast_dtype", lambda device: None)
        models, network = _network(lean=True, dtype=torch.bfloat16, checkpointing=checkpointing, device=device)
        optimizer = torch.optim.SGD(network.parameters(), lr=0.5)
        counting = Counting()
        with counting:
            first, _ = _step(models, network, autocast=True)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        second, grads = _step(models, network, autocast=True)
    return first, second, grads, counting.count, network


@pytest.mark.parametrize("checkpointing", [False, True])
def test_half_precision_copies_train_exactly_what_per_module_casts_do(checkpointing, monkeypatch):
    first, second, grads, casts, network = _two_steps(True, checkpointing, monkeypatch)
    ref_first, ref_second, ref_grads, ref_casts, _ = _two_steps(False, checkpointing, monkeypatch)
    # The second step reads the weights the optimizer changed, not the first step's copies.
    assert not torch.equal(first, second)
    assert torch.equal(first, ref_first) and torch.equal(second, ref_second)
    for key in grads:
        assert grads[key].dtype == torch.float32
        assert torch.equal(grads[key], ref_grads[key]), key
    linear = sum(isinstance(m.lora.org_module[0], torch.nn.Linear) for m in network.modules_by_key.values())
    # Two casts fewer per linear module and forward (te2 runs twice here), more where
    # checkpointing recomputes blocks; and the copies themselves are one operation a model.
    assert ref_casts["_to_copy"] - casts["_to_copy"] >= 2 * linear, (ref_casts["_to_copy"], casts["_to_copy"], linear)
    assert casts["_foreach_copy_"] == 4  # te1, te2 twice, the UNet


@pytest.mark.parametrize("autocast", [False, True])
def test_copies_are_made_only_under_autocast(autocast):
    models, network = _network(lean=True, dtype=torch.bfloat16 if autocast else torch.float32)
    _step(models, network, autocast=autocast)
    copies = [cell[1] for cell in network.factors if cell[1] is not None]
    if autocast:
        linear = sum(isinstance(m.lora.org_module[0], torch.nn.Linear) for m in network.modules_by_key.values())
        assert len(copies) == linear and all(c.dtype == torch.bfloat16 for pair in copies for c in pair)
    else:
        assert copies == []
    if autocast:  # the same encoder without autocast afterwards: no copy left behind to read
        with torch.no_grad():
            models[1](torch.randint(0, 1000, (1, 77)))
        assert all(cell[1] is None for cell in network.half_copies["te1"].cells)
        assert all(cell[1] is not None for cell in network.half_copies["te2"].cells)
