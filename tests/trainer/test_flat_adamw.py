"""AdamW over flat tensors updates exactly as torch's AdamW over the tensors one by one."""

from __future__ import annotations

import copy
import io

import pytest
import torch

from stylora_tui.config.build import build_config
from stylora_tui.trainer.flat_adamw import FlatAdamW
from stylora_tui.trainer.optim import fused_devices

SHAPES = [(6, 32), (32, 6), (6, 32, 3, 3), (64, 6, 1, 1), (6, 64), (5,)]
KINDS = [{"fused": "cpu" in fused_devices(), "foreach": "cpu" not in fused_devices()}, {"foreach": True}, {"foreach": False}]


def _params(seed: int = 0) -> list[torch.nn.Parameter]:
    generator = torch.Generator().manual_seed(seed)
    params = [torch.nn.Parameter(torch.randn(shape, generator=generator)) for shape in SHAPES]
    # Stored transposed, as the linear modules' `up` is (bypass.store_up_transposed), and a
    # convolution's weight channels-last: members keep their layouts in the flat tensor.
    params[1].data = params[1].data.t().contiguous().t()
    params[2].data = params[2].data.contiguous(memory_format=torch.channels_last)
    return params


def _groups(params: list) -> list[dict]:
    return [{"params": params[:4], "lr": 1e-2}, {"params": params[4:], "lr": 3e-3}]


def _grads(params: list, step: int, skip: set[int]) -> None:
    generator = torch.Generator().manual_seed(100 + step)
    for index, p in enumerate(params):
        grad = torch.randn(p.shape, generator=generator)
        if index not in skip:
            # In the weight's layout, as autograd makes every gradient (torch's fused AdamW
            # reads a weight and its gradient element by element in memory order).
            p.grad = torch.empty_like(p).copy_(grad)


def _step(optimizer, params, step: int, skip: set[int] = frozenset(), gather: bool = True) -> None:
    _grads(params, step, skip)
    if isinstance(optimizer, FlatAdamW) and gather:
        optimizer.gather()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


@pytest.mark.parametrize("gather", [True, False], ids=["gathered", "step-alone"])
@pytest.mark.parametrize("kind", KINDS, ids=["fused-or-foreach", "foreach", "for-loop"])
def test_same_weights_and_state_bit_for_bit_as_per_tensor_adamw(kind, gather):
    # Parameter 3 has no gradient at the first steps (like CLIP-L's last layer): one process
    # leaves it alone, no weight decay; then it gets gradients and its own step count.
    flat_params, plain_params = _params(), _params()
    flat = FlatAdamW(_groups(flat_params), weight_decay=0.1, **kind)
    plain = torch.optim.AdamW(_groups(plain_params), weight_decay=0.1, **kind)
    untouched = flat_params[3].detach().clone()
    for step in range(6):
        skip = {3} if step < 3 else ({1} if step == 4 else set())
        _step(flat, flat_params, step, skip, gather)
        _step(plain, plain_params, step, skip)
        if step < 3:
            assert torch.equal(flat_params[3], untouched)
        for a, b in zip(flat_params, plain_params):
            assert torch.equal(a, b), step
    # Grouped while it ran: the weights of a group were views of one tensor, and between
    # steps no gradient is held (the flat one lives from the gather to zero_grad only).
    assert flat_params[0].untyped_storage().data_ptr() == flat_params[2].untyped_storage().data_ptr()
    assert flat_params[1].stride() == (1, 32), "a member stored transposed keeps its layout"
    assert flat_params[2].is_contiguous(memory_format=torch.channels_last)
    assert all(p.grad is None for group in flat.param_groups for p in group["params"])
    assert flat.state_dict()["state"].keys() == plain.state_dict()["state"].keys()
    for key, state in plain.state_dict()["state"].items():
        for name, value in state.items():
            assert torch.equal(flat.state_dict()["state"][key][name], value), (key, name)


def test_without_torchs_one_op_concatenation_the_same_weights(monkeypatch):
    # torch before 2.4 has no _chunk_cat: the gradients are flattened a tensor at a time.
    monkeypatch.delattr(torch, "_chunk_cat", raising=False)
    flat_params, plain_params = _params(), _params()
    flat, plain = FlatAdamW(_groups(flat_params), weight_decay=0.1), torch.optim.AdamW(_groups(plain_params), weight_decay=0.1)
    for step in range(3):
        _step(flat, flat_params, step)
        _step(plain, plain_params, step)
    assert flat.flats[0] is not None
    for a, b in zip(flat_params, plain_params):
        assert torch.equal(a, b)


def _scaled_step(optimizer, params, scaler, step: int, overflow: bool, clip: bool) -> None:
    """One fp16 step in the order the trainer's accelerator runs it on a GPU: the scaled
    loss's backward, the gather, `clip_grad_norm_` (which unscales first; without clipping
    the scaler's step unscales, or hands the scale to the fused kernel), and the scaler's
    step and update. The loss is linear in the weights, so each gradient is known exactly."""
    generator = torch.Generator().manual_seed(200 + step)
    targets = [torch.randn(p.shape, generator=generator) for p in params]
    if overflow:
        targets[4][0, 0] = float("inf")  # an fp16 overflow in one module's gradient
    loss = sum((p * target).sum() for p, target in zip(params, targets))
    scaler.scale(loss).backward()
    stepped = optimizer.gather() if isinstance(optimizer, FlatAdamW) else params
    if clip:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(stepped, max_norm=5.0)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)


@pytest.mark.parametrize("clip", [True, False], ids=["clipped", "unclipped"])
@pytest.mark.parametrize("kind", KINDS[:2], ids=["fused-or-foreach", "foreach"])
def test_fp16_loss_scaling_unscales_the_flat_gradients_and_skips_an_overflowing_step(kind, clip):
    # fp16 runs (GPUs without bf16) step through torch's GradScaler: it must unscale the
    # flat gradients the gather made (not the members' it replaced), and an overflow must
    # leave every weight and moment as it was, in the fused kernel (which is handed the
    # overflow flag) as in the foreach path (which the scaler skips).
    flat_params, plain_params = _params(), _params()
    flat = FlatAdamW(_groups(flat_params), weight_decay=0.1, **kind)
    plain = torch.optim.AdamW(_groups(plain_params), weight_decay=0.1, **kind)
    flat_scaler, plain_scaler = (torch.amp.GradScaler("cpu", init_scale=2.0**12) for _ in range(2))
    for step in range(5):
        before = [p.detach().clone() for p in flat_params]
        _scaled_step(flat, flat_params, flat_scaler, step, overflow=step == 2, clip=clip)
        _scaled_step(plain, plain_params, plain_scaler, step, overflow=step == 2, clip=clip)
        if step == 2:
            assert all(torch.equal(a, b) for a, b in zip(flat_params, before)), "an overflowing step changed weights"
            assert flat_scaler.get_scale() == 2.0**11
        else:
            assert not torch.equal(flat_params[0], before[0])
        for a, b in zip(flat_params, plain_params):
            # Unscaled, the update is per-tensor AdamW's: only the clip norm is summed in
            # another order.
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-6), step
    assert flat_scaler.get_scale() == plain_scaler.get_scale()
    steps = {float(state["step"]) for state in flat.state_dict()["state"].values()}
    assert steps == {4.0}, "the skipped step is not counted"


def test_a_checkpoint_holds_the_state_per_tensor_and_resumes_exactly():
    params = _params()
    optimizer = FlatAdamW(_groups(params), weight_decay=0.05)
    for step in range(3):
        _step(optimizer, params, step, skip={5})
    buffer = io.BytesIO()
    torch.save(optimizer.state_dict(), buffer)
    weights = [p.detach().clone() for p in params]

    # What a per-tensor AdamW (a checkpoint from before flat tensors) reads, and the reverse.
    saved = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    assert [len(group["params"]) for group in saved["param_groups"]] == [4, 2]
    assert sorted(saved["state"]) == [0, 1, 2, 3, 4]  # the one never stepped has no state
    for index, p in enumerate(params[:5]):
        assert saved["state"][index]["exp_avg"].shape == p.shape

    resumed_params = [torch.nn.Parameter(w.clone()) for w in weights]
    resumed = FlatAdamW(_groups(resumed_params), weight_decay=0.05)
    resumed.load_state_dict(saved)
    per_tensor_params = [torch.nn.Parameter(w.clone()) for w in weights]
    per_tensor = torch.optim.AdamW(_groups(per_tensor_params), weight_decay=0.05)
    per_tensor.load_state_dict(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))
    for step in range(3, 6):
        _step(optimizer, params, step, skip={5})
        _step(resumed, resumed_params, step, skip={5})
        _step(per_tensor, per_tensor_params, step, skip={5})
    for a, b, c in zip(params, resumed_params, per_tensor_params):
        assert torch.equal(a, b) and torch.equal(a, c)


def test_a_state_loaded_mid_run_replaces_the_flat_state():
    params = _params()
    optimizer = FlatAdamW(_groups(params), weight_decay=0.05)
    _step(optimizer, params, 0)
    early = copy.deepcopy(optimizer.state_dict())  # torch's state_dict is live, not a copy
    early_weights = [p.detach().clone() for p in params]
    _step(optimizer, params, 1)
    _step(optimizer, params, 2)
    with torch.no_grad():
        for p, w in zip(params, early_weights):
            p.copy_(w)
    optimizer.load_state_dict(early)
    _step(optimizer, params, 1)

    again = _params()
    reference = torch.optim.AdamW(_groups(again), weight_decay=0.05)
    _step(reference, again, 0)
    _step(reference, again, 1)
    for a, b in zip(params, again):
        assert torch.equal(a, b)


def test_clipping_sees_every_gradient_the_step_uses():
    params = _params()
    optimizer = FlatAdamW(_groups(params), weight_decay=0.0)
    _grads(params, 0, skip={5})
    expected = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params if p.grad is not None]))
    stepped = optimizer.gather()
    assert len(stepped) < len(params)  # grouped: fewer, larger tensors
    norm = torch.nn.utils.clip_grad_norm_(stepped, max_norm=1.0)
    assert torch.allclose(norm, expected, rtol=1e-6)
    optimizer.step()
    # Clipped before the step: the same update as clipping the tensors one by one.
    reference_params = _params()
    reference = torch.optim.AdamW(_groups(reference_params), weight_decay=0.0)
    _grads(reference_params, 0, skip={5})
    torch.nn.utils.clip_grad_norm_(reference_params, max_norm=1.0)
    reference.step()
    for a, b in zip(params, reference_params):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-7)


def test_the_trainers_adamw_on_the_sdxl_adapter_equals_per_tensor_adamw_and_leaves_te1s_last_layer():
    from stylora_tui.trainer.optim import build_optimizer
    from tests.trainer.test_bypass import _network, _step

    config = build_config({"optimizer": {"weight_decay": 0.1, "max_grad_norm": 1.0}})
    trained = {}
    for flat in (True, False):
        models, network = _network(lean=True)
        groups = network.param_groups(1e-3, 5e-4)
        if flat:
            optimizer = build_optimizer(config, groups, torch.device("cpu"))
            assert isinstance(optimizer, FlatAdamW)
        else:
            optimizer = torch.optim.AdamW(groups, weight_decay=0.1)
        initial = {k: [p.detach().clone() for p in m.lora.parameters()] for k, m in network.modules_by_key.items()}
        for _ in range(3):
            _step(models, network, autocast=False)
            stepped = optimizer.gather() if flat else [p for g in groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(stepped, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            network.apply_max_norm(0.5)
        trained[flat] = {k: [p.detach().clone() for p in m.lora.parameters()] for k, m in network.modules_by_key.items()}
    last = [k for k in trained[True] if k.startswith("lora_te1_text_model_encoder_layers_1_")]
    assert last, "te1's last layer is adapted (kohya's set)"
    for key, weights in trained[True].items():
        for ours, theirs, before in zip(weights, trained[False][key], initial[key]):
            # Equal but for the clipping norm's summation order (Adam's update magnifies it).
            torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-6)
            if key in last:
                assert torch.equal(ours, before), f"{key} has no gradient: not decayed, not moved"


def test_grouping_a_resumed_state_reads_the_step_counts_in_one_go(monkeypatch):
    # On a GPU each read of a device value stalls the host: one for ~2,000 step counts.
    params = _params()
    optimizer = FlatAdamW(_groups(params), weight_decay=0.05)
    _step(optimizer, params, 0)
    saved = copy.deepcopy(optimizer.state_dict())
    resumed = FlatAdamW(_groups(params), weight_decay=0.05)
    resumed.load_state_dict(saved)
    reads = []
    for name in ("item", "tolist", "__float__", "__bool__", "__int__"):
        original = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda self, *a, _o=original, _n=name, **k: reads.append(_n) or _o(self, *a, **k))
    _grads(params, 1, skip=set())
    resumed.gather()
    monkeypatch.undo()
    assert len(resumed.param_groups[0]["params"]) == 1, "the resumed per-tensor state was grouped"
    assert len(reads) <= len(resumed.param_groups), reads
