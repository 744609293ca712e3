"""The linear LoCon module's forward and backward, written out.

lycoris' bypass forward for a linear module, `W x + up(down(x * ...)) * scale * scalar`,
leaves autograd to record each step: three linears on a 3-D input (a transpose, a matmul
and two reshapes each, both ways), two scalings, a sum, and their backward mirror: about 40
dispatched operations per module per step with its base Linear, on ~1000 modules, each a
trip through Python and the dispatcher that the GPU waits on when the step is host-bound.
Written as one autograd Function with the base Linear it is about half: the input
flattened once, one scaling by a factor (scale x multiplier x the max-norm scalar) computed
for all modules at once before each model's forward, the sum an in-place addmm, and the
backward as the matmuls it is. Same numbers up to float rounding (a test).

Under mixed precision the fp32 adapter is read in half precision. Cast in each module's
forward, that is two casts per module (two more each time gradient checkpointing
recomputes a block), each a kernel launch and an autograd node: ~2,000 per practice step,
~3,500 with checkpointing. Instead each model's adapter is cast in one multi-tensor copy
before that model's forward (`HalfCopies`), the modules read their copy, and their
gradients come back to the fp32 weights through autograd's own dtype conversion, as the
per-module casts' did.

Convolution modules (a few dozen) keep lycoris' own forward: each is already one
convolution op per direction.
"""

from __future__ import annotations

import torch


class LinearBypass(torch.autograd.Function):
    """W x + b + up(factor * down(x)) for x of any leading shape: the frozen Linear (W, b) and
    its adapter in one, so the sum is an in-place addmm and the input's gradient one more.

    The rank-r middles, the forward's and its gradient, are kept as (r, tokens), not (tokens,
    r), and `up` (out, r) is stored transposed, as r rows of `out` (`store_up_transposed`):
    every product with the middle then has r as its leading dimension and reads `up` along
    its rows, which a CPU's BLAS runs two to three times faster at small ranks (the middle's
    gradient from a 512-wide output: 204 -> 64 us), and the gradient of `up` comes out in
    `up`'s own layout, so autograd keeps it without a copy. A GPU's BLAS runs every layout
    alike (a transposition is a flag to it): there it is the same launches."""

    @staticmethod
    def forward(ctx, x, weight, bias, down, up, factor, half):
        """`half`: (down, up) already cast to the model's autocast dtype, or None."""
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        out = flat.mm(weight.t()) if bias is None else torch.addmm(bias, flat, weight.t())
        # Under autocast the base matmul chose the dtype; the adapter's follows it (the
        # in-place addmm is not autocast). The factor scales the rank-r middle, the
        # smallest tensor on the way.
        if out.dtype != flat.dtype:
            flat = flat.to(out.dtype)
        if down.dtype != out.dtype:
            down, up = half if half is not None and half[0].dtype == out.dtype else (down.to(out.dtype), up.to(out.dtype))
        mid = down.mm(flat.t()).mul_(factor)  # (r, tokens)
        up_rows = up.t()  # (r, out): contiguous where `up` is stored transposed
        out.addmm_(mid.t(), up_rows)
        ctx.save_for_backward(flat, weight, down, up_rows, mid)
        # Not saved: the network writes the factors in place before each model's forward
        # (network.refresh_factors), the same values within a step.
        ctx.factor, ctx.input_dtype = factor, x.dtype
        return out.view(*shape[:-1], out.shape[-1])

    @staticmethod
    def backward(ctx, grad):
        flat, weight, down, up_rows, mid = ctx.saved_tensors
        factor = ctx.factor
        dtype = mid.dtype  # the backward is never autocast: it runs in the forward's dtype
        g = grad.reshape(-1, grad.shape[-1])
        if g.dtype != dtype:
            g = g.to(dtype)
        g_mid = up_rows.mm(g.t()).mul_(factor)  # (r, tokens)
        grad_x = None
        if ctx.needs_input_grad[0]:
            w = weight if weight.dtype == dtype else weight.to(dtype)
            grad_x = g.mm(w).addmm_(g_mid.t(), down)
            grad_x = grad_x.view(*grad.shape[:-1], flat.shape[-1])
            if grad_x.dtype != ctx.input_dtype:
                grad_x = grad_x.to(ctx.input_dtype)
        grad_down = g_mid.mm(flat)
        # (r, out) transposed: `up`'s stored layout. In the compute dtype: autograd converts
        # each gradient to its fp32 weight's dtype, keeping the layout.
        grad_up = mid.mm(g).t()
        return grad_x, None, None, grad_down, grad_up, None, None


def store_up_transposed(up: torch.nn.Parameter) -> None:
    """`up` (out, r) stored as r rows of `out`, the layout LinearBypass reads it in and makes
    its gradient in (see there). The same values and shape; every other reader is layout-blind
    (saving copies to contiguous)."""
    up.data = up.data.t().contiguous().t()


def linear_forward(lora, cell: list):
    """A forward for the Linear that `lora` (a lycoris LoConModule in bypass mode) adapts:
    the base Linear and the bypass together, at the factor `cell[0]` and with the half
    precision copy `cell[1]` (both refreshed before each model's forward; a cell rather than
    an index into one list, so a compiled block is one graph for every instance instead of
    one per module)."""
    linear, down, up = lora.org_module[0], lora.lora_down, lora.lora_up

    def forward(x):
        return LinearBypass.apply(x, linear.weight, linear.bias, down.weight, up.weight, cell[0], cell[1])

    return forward


class HalfCopies:
    """One model's linear adapter weights cast to the autocast dtype in one multi-tensor copy
    (a handful of launches on CUDA instead of two per module), before each forward of that
    model. Fresh tensors each time, never written in place: a graph still holding the last
    copies (a model called twice before backward, a checkpointed block recomputed) keeps
    them intact, and every forward reads the weights as they are now, however they changed
    (optimizer, checkpoint load, a preview's strength)."""

    def __init__(self, loras_and_cells: list) -> None:
        self.cells = [cell for _, cell in loras_and_cells]
        self.weights = [w for lora, _ in loras_and_cells for w in (lora.lora_down.weight, lora.lora_up.weight)]
        self.made = False  # whether the cells hold copies (only then is there anything to clear)

    def refresh(self) -> None:
        dtype = autocast_dtype(self.weights[0].device) if self.weights else None
        if dtype is None or dtype == self.weights[0].dtype:
            if self.made:  # a forward without autocast after one with: full precision again
                for cell in self.cells:
                    cell[1] = None
                self.made = False
            return
        with torch.no_grad():
            copies = [torch.empty_like(w, dtype=dtype) for w in self.weights]
            if hasattr(torch, "_foreach_copy_"):
                torch._foreach_copy_(copies, self.weights)
            else:  # torch < 2.1
                for copy, weight in zip(copies, self.weights):
                    copy.copy_(weight)
        for index, cell in enumerate(self.cells):
            cell[1] = (copies[2 * index], copies[2 * index + 1])
        self.made = True


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The dtype autocast computes in on `device` now, None when it is off. torch before 2.4
    cannot say per device: None, and each module casts for itself."""
    try:
        if not torch.is_autocast_enabled(device.type):
            return None
        return torch.get_autocast_dtype(device.type)
    except (TypeError, AttributeError):
        return None
