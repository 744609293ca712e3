"""Max-norm (scale_weight_norms) as LyCORIS does it, which is what the practice ran."""

from __future__ import annotations

import pytest
import torch

from stylora_tui.config.build import build_config


def _network(seed: int):
    from diffusers import UNet2DConditionModel

    from stylora_tui.trainer.demo_model import DEMO_OVERRIDES
    from stylora_tui.trainer.network import LoConNetwork
    from stylora_tui.trainer.sdxl_layout import shipped_config

    torch.manual_seed(seed)
    unet = UNet2DConditionModel.from_config({**shipped_config("unet"), **DEMO_OVERRIDES["unet"]})
    unet.requires_grad_(False)
    net_config = build_config(
        {"network": {"dim": 4, "alpha": 4, "conv_dim": 4, "conv_alpha": 4, "train_text_encoders": False}}
    ).network
    torch.manual_seed(seed + 1)
    network = LoConNetwork(unet, None, None, net_config)
    network.apply_to()
    return unet, network


def _inputs(generator):
    latents = torch.randn(2, 4, 8, 8, generator=generator)
    hidden = torch.randn(2, 77, 96, generator=generator)
    added = {"text_embeds": torch.randn(2, 64, generator=generator), "time_ids": torch.rand(2, 6, generator=generator) * 64}
    return latents, torch.tensor([10, 700]), hidden, added


def _train(rule: str, steps: int, max_norm: float = 0.02):
    unet, network = _network(3)
    optimizer = torch.optim.AdamW(network.parameters(), lr=5e-3, weight_decay=0.01)
    generator = torch.Generator().manual_seed(5)
    scaled_steps = 0
    for _ in range(steps):
        latents, t, hidden, added = _inputs(generator)
        loss = unet(latents, t, hidden, added_cond_kwargs=added).sample.square().mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        before = network.scalars.clone()
        if rule == "ours":
            network.apply_max_norm(max_norm)
        elif rule == "lycoris":
            for module in network.modules_by_key.values():
                module.lora.apply_max_norm(max_norm, None)
        scaled_steps += int(bool((network.scalars != before).any()))
    return network, scaled_steps


def test_batched_max_norm_equals_lycoris_over_many_steps():
    ours, scaled = _train("ours", 12)
    reference, _ = _train("lycoris", 12)
    assert scaled >= 8, "the cap must bite on most steps, or the test proves nothing"
    assert (ours.scalars < 0.999).sum() > len(ours.order) // 2
    torch.testing.assert_close(ours.scalars, reference.scalars, rtol=1e-4, atol=1e-7)
    mine, theirs = ours.kohya_state_dict(), reference.kohya_state_dict()
    for key in mine:
        torch.testing.assert_close(mine[key], theirs[key], rtol=1e-4, atol=1e-5)


def test_lycoris_rule_differs_from_kohyas_plain_lora_rule():
    # kohya's LoRA rule scales up and down by sqrt(ratio) and leaves the learning speed alone;
    # under LyCORIS a capped module's scalar keeps shrinking its updates.
    ours, _ = _train("ours", 12)
    unrestricted, _ = _train("none", 12)

    def norm(net, k):
        state = net.kohya_state_dict()
        return (state[f"{k}.lora_up.weight"].flatten(1) @ state[f"{k}.lora_down.weight"].flatten(1)).norm()

    key = ours.order[0]
    assert norm(ours, key) * ours.modules_by_key[key].lora.scale <= 0.02 * (1 + 1e-4)
    assert norm(unrestricted, key) > norm(ours, key)


def test_max_norm_needs_no_host_sync(monkeypatch):
    _, network = _network(3)
    for param in network.parameters():
        param.data.normal_()
    calls = []
    original = torch.Tensor.item
    monkeypatch.setattr(torch.Tensor, "item", lambda self: calls.append(1) or original(self))
    monkeypatch.setattr(torch.Tensor, "__float__", lambda self: pytest.fail("max-norm converted a tensor to a float"))
    monkeypatch.setattr(torch.Tensor, "__bool__", lambda self: pytest.fail("max-norm branched on a tensor"))
    network.apply_max_norm(0.5)
    assert not calls


def test_scalars_survive_a_checkpoint_round_trip():
    network, _ = _train("ours", 3)
    state = {k: v.clone() for k, v in network.state_dict().items()}
    assert "scalars" in state and (state["scalars"] < 1).any()
    _, fresh = _network(3)
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh.scalars, network.scalars)
    first = fresh.order[0]
    assert fresh.modules_by_key[first].lora.scalar.data_ptr() == fresh.scalars[0].data_ptr(), "module scalars stay views"
    fresh.to(torch.float32)
    assert fresh.modules_by_key[first].lora.scalar.data_ptr() == fresh.scalars[0].data_ptr()


def test_max_norm_reads_the_weights_a_conversion_put_in_place(monkeypatch):
    """The weights max-norm reads are listed once; a `.to()` that replaces the parameters
    (torch's overwrite-on-conversion) must not leave it capping the old ones."""
    _, network = _network(3)
    monkeypatch.setattr(torch.__future__, "get_overwrite_module_params_on_conversion", lambda: True)
    network.to(torch.float64)
    first = network.modules_by_key[network.order[0]].lora
    assert network.group_weights[0][0][0] is first.lora_up.weight and first.lora_up.weight.dtype == torch.float64
    with torch.no_grad():
        first.lora_up.weight.fill_(1.0)
        first.lora_down.weight.fill_(1.0)
    network.apply_max_norm(0.5)
    assert network.scalars[0] < 0.5, "the module made large after the conversion is capped"
    assert (network.scalars[1:] == 1).all()
