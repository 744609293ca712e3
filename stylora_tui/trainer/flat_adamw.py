"""AdamW over one flat tensor per parameter group.

The adapter is ~2,000 small tensors (a down and an up per module). torch's AdamW, fused or
foreach, and gradient clipping walk them one by one on the host: ~40 ms a step on a 2-core
CPU (clipping 19, AdamW 20, zero_grad 4), host time a GPU step waits on too. Here each
group's weights live in one flat tensor that the modules' parameters are views of; each
step the gradients are flattened into one tensor beside it, and clipping and AdamW see one
tensor per group. That gradient exists only from the gather to the next zero_grad, when
the backward's activations are gone: the step's peak memory does not grow. AdamW is
elementwise, so the update is the one per-tensor AdamW makes, bit for bit; the clipping
norm differs only by float rounding (a sum in another order).

What stays as one process with per-tensor AdamW has it:
- A parameter without a gradient is not stepped: no weight decay, no moment decay. The
  flat tensor holds only parameters that have a gradient and share one step count (on
  SDXL, CLIP-L's last layer never has one: the conditioning reads the penultimate layer).
  Which those are is decided at the first step and again whenever a member has no gradient
  at a step; the others stay tensors of their own in the group.
- Checkpoints hold the optimizer per tensor, as before: checkpoints written before this
  load, and a checkpoint does not depend on how the tensors were grouped.

Only AdamW: Adafactor factors each matrix and AdamW8bit quantizes per tensor, so their
state is not elementwise.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import accumulate

import torch
from torch._utils import _flatten_dense_tensors


@dataclass
class Flat:
    """One group's flat tensor: `param` (what AdamW steps), its members in order and where
    each starts in it."""

    param: torch.nn.Parameter
    members: list[torch.nn.Parameter]
    offsets: list[int]
    # Each member's dimensions in the order its storage runs (None: row-major), so a member
    # stored transposed (the linear modules' `up`, see bypass) keeps its layout in the flat
    # tensor, and its gradient, made in that layout, is kept by autograd without a copy.
    orders: list[tuple[int, ...] | None]


class FlatAdamW(torch.optim.AdamW):
    """torch's AdamW, stepping each group's parameters as one flat tensor. Call `gather`
    after the backward and before clipping and `step` (a `step` without it gathers first:
    the members' gradients are never silently left out)."""

    def __init__(self, params, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self.members = [list(group["params"]) for group in self.param_groups]
        self.flats: list[Flat | None] = [None] * len(self.param_groups)
        self.grouped = False  # whether the groups were formed since the last state load
        self.stepped: list[torch.Tensor] = [p for members in self.members for p in members]
        self.register_step_pre_hook(_gather_if_not_yet)

    @torch.no_grad()
    def gather(self) -> list[torch.Tensor]:
        """Each group's gradients into its flat gradient, grouping anew where a member has
        none. Returns the tensors the step updates (for clipping their gradients)."""
        regroup = [
            index
            for index, flat in enumerate(self.flats)
            if not self.grouped or (flat is not None and any(p.grad is None for p in flat.members))
        ]
        for index in regroup:
            self._unflatten(index)
            self._flatten(index)
        if regroup:
            self.stepped = [p for group in self.param_groups for p in group["params"]]
        self.grouped = True
        for flat in self.flats:
            if flat is not None:
                grads = [_in_storage_order(p.grad, order) for p, order in zip(flat.members, flat.orders)]
                flat.param.grad = _end_to_end(grads)
        return self.stepped

    def zero_grad(self, set_to_none: bool = True) -> None:
        # The flat gradients are made anew by each gather, never accumulated into.
        for flat in self.flats:
            if flat is not None:
                flat.param.grad = None
        for members in self.members:
            for p in members:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def state_dict(self) -> dict:
        """Per tensor, whatever the grouping: the layout checkpoints have always had."""
        if not any(self.flats):
            return super().state_dict()
        groups, state = self.param_groups, self.state
        self.param_groups = [{**group, "params": list(members)} for group, members in zip(groups, self.members)]
        flat_params = {id(flat.param) for flat in self.flats if flat is not None}
        self.state = defaultdict(dict, {p: s for p, s in state.items() if id(p) not in flat_params})
        for flat in self.flats:
            if flat is not None and flat.param in state:
                self.state.update(_split(state[flat.param], flat, clone=False))
        try:
            return super().state_dict()
        finally:
            self.param_groups, self.state = groups, state

    def load_state_dict(self, state_dict: dict) -> None:
        """A per-tensor state (every checkpoint's); the next `gather` groups it again."""
        for index in range(len(self.flats)):
            self._unflatten(index)
        self.grouped = False
        self.stepped = [p for members in self.members for p in members]
        super().load_state_dict(state_dict)

    def _flatten(self, index: int) -> None:
        group, members = self.param_groups[index], self.members[index]
        # An empty tensor has nothing to step (and torch's one-op concatenation refuses it).
        chosen = _one_step_count([p for p in members if p.grad is not None and p.numel() > 0], self.state)
        if len(chosen) < 2:
            return
        sizes = [p.numel() for p in chosen]
        offsets = [0, *accumulate(sizes[:-1])]
        orders = [_storage_order(p) for p in chosen]
        data = torch.cat([_in_storage_order(p.detach(), order).reshape(-1) for p, order in zip(chosen, orders)])
        param = torch.nn.Parameter(data)
        flat = Flat(param, chosen, offsets, orders)
        for p, piece in zip(chosen, _pieces(data, flat)):
            p.data = piece
        if chosen[0] in self.state:
            self.state[param] = _join([self.state.pop(p) for p in chosen], orders)
        taken = {id(p) for p in chosen}
        group["params"] = [param] + [p for p in members if id(p) not in taken]
        self.flats[index] = flat

    def _unflatten(self, index: int) -> None:
        flat = self.flats[index]
        if flat is None:
            return
        state = self.state.pop(flat.param, None)
        if state is not None:
            self.state.update(_split(state, flat, clone=True))
        for p in flat.members:
            p.data = p.data.clone()  # storage of its own again: the flat tensor is freed
        self.param_groups[index]["params"] = list(self.members[index])
        self.flats[index] = None


def _gather_if_not_yet(optimizer: FlatAdamW, args, kwargs) -> None:
    if not optimizer.grouped or any(flat is not None and flat.param.grad is None for flat in optimizer.flats):
        optimizer.gather()


def _one_step_count(candidates: list[torch.Tensor], state: dict) -> list[torch.Tensor]:
    """The candidates sharing the most common state scalars (the step count): every one of
    them, unless a resumed state or a parameter that gained a gradient late has a step count
    of its own. The counts are read to the host in one go: one sync, not one per tensor."""
    scalars = [None if not state.get(p) else sorted((k, v) for k, v in state[p].items() if not _is_moment(v)) for p in candidates]
    tensors = [v for items in scalars if items for _, v in items if isinstance(v, torch.Tensor)]
    read = iter(torch.stack([t.reshape(()).double() for t in tensors]).tolist() if tensors else [])
    signatures = [
        None if items is None else tuple((k, next(read) if isinstance(v, torch.Tensor) else v) for k, v in items)
        for items in scalars
    ]
    if not signatures:
        return []
    common, _ = Counter(signatures).most_common(1)[0]
    return [p for p, signature in zip(candidates, signatures) if signature == common]


def _is_moment(value) -> bool:
    """A per-element state tensor (exp_avg, exp_avg_sq), as opposed to a scalar (the step)."""
    return isinstance(value, torch.Tensor) and value.dim() > 0


def _end_to_end(tensors: list[torch.Tensor]) -> torch.Tensor:
    """`tensors` flattened into one 1-D tensor: in one operation where torch has it (2.4+,
    FSDP2's `_chunk_cat`), not a view per tensor and a concatenation."""
    if hasattr(torch, "_chunk_cat"):
        return torch._chunk_cat(tensors, 0, 1).view(-1)
    return _flatten_dense_tensors(tensors)


def _storage_order(tensor: torch.Tensor) -> tuple[int, ...] | None:
    """`tensor`'s dimensions from the slowest-moving in memory to the fastest; None when that
    is their own order (row-major)."""
    order = tuple(sorted(range(tensor.dim()), key=lambda d: -tensor.stride(d)))
    return None if order == tuple(range(tensor.dim())) else order


def _in_storage_order(tensor: torch.Tensor, order: tuple[int, ...] | None) -> torch.Tensor:
    if order is None:
        return tensor
    # The one case the adapter has (a transposed `up`), each step for ~1,000 gradients:
    # `t()` costs a quarter of what `permute` does on the host.
    return tensor.t() if order == (1, 0) else tensor.permute(order)


def _pieces(values: torch.Tensor, flat: Flat) -> list[torch.Tensor]:
    """A flat tensor (the weights or a moment) as views shaped and laid out as the members."""
    pieces = []
    for p, offset, order in zip(flat.members, flat.offsets, flat.orders):
        piece = values[offset : offset + p.numel()]
        if order is None:
            pieces.append(piece.view_as(p))
        else:
            pieces.append(piece.view([p.shape[d] for d in order]).permute([order.index(d) for d in range(p.dim())]))
    return pieces


def _join(states: list[dict], orders: list[tuple[int, ...] | None]) -> dict:
    """The members' states as the flat tensor's: their moments end to end, each in its
    member's storage order, one step count. Each moment is freed once joined, so a resumed
    run's first step holds one extra copy of one moment at a time, not of all of them."""
    joined = {}
    for key, value in list(states[0].items()):
        if _is_moment(value):
            joined[key] = torch.cat([_in_storage_order(s[key], order).reshape(-1) for s, order in zip(states, orders)])
            for state in states:
                del state[key]
        else:
            joined[key] = value.clone() if isinstance(value, torch.Tensor) else value
    return joined


def _split(state: dict, flat: Flat, clone: bool) -> dict:
    """The flat state as each member's: its slice of every moment, the step count its own
    copy (a step tensor shared by several parameters would be advanced once per parameter)."""
    result: dict = {p: {} for p in flat.members}
    for key, value in state.items():
        if _is_moment(value):
            for p, piece in zip(flat.members, _pieces(value, flat)):
                result[p][key] = piece.clone() if clone else piece
        else:
            for p in flat.members:
                result[p][key] = value.clone() if isinstance(value, torch.Tensor) else value
    return result
