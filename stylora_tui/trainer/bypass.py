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

Convolution modules (a few dozen) keep lycoris' own forward: each is already one
convolution op per direction.
"""

from __future__ import annotations

import torch


class LinearBypass(torch.autograd.Function):
    """W x + b + up(factor * down(x)) for x of any leading shape: the frozen Linear (W, b) and
    its adapter in one, so the sum is an in-place addmm and the input's gradient one more.

    The forward's rank-r middle is kept as (r, tokens), not (tokens, r): the products that
    make and reduce it then have r as their leading dimension, which a CPU's BLAS runs two to
    three times faster at small ranks (the gradient of `up` most of all: see `up_gradient`)."""

    @staticmethod
    def forward(ctx, x, weight, bias, down, up, factor):
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        out = flat.mm(weight.t()) if bias is None else torch.addmm(bias, flat, weight.t())
        # Under autocast the base matmul chose the dtype; the adapter's follows it (the
        # in-place addmm is not autocast). The factor scales the rank-r middle, the
        # smallest tensor on the way.
        if out.dtype != flat.dtype:
            flat = flat.to(out.dtype)
        if down.dtype != out.dtype:
            down, up = down.to(out.dtype), up.to(out.dtype)
        mid = down.mm(flat.t()).mul_(factor)  # (r, tokens)
        out.addmm_(mid.t(), up.t())
        ctx.save_for_backward(flat, weight, down, up, mid, factor)
        ctx.input_dtype = x.dtype
        return out.view(*shape[:-1], out.shape[-1])

    @staticmethod
    def backward(ctx, grad):
        flat, weight, down, up, mid, factor = ctx.saved_tensors
        dtype = mid.dtype  # the backward is never autocast: it runs in the forward's dtype
        g = grad.reshape(-1, grad.shape[-1])
        if g.dtype != dtype:
            g = g.to(dtype)
        g_mid = g.mm(up).mul_(factor)  # (tokens, r): the other layout would cost a copy of up
        grad_x = None
        if ctx.needs_input_grad[0]:
            w = weight if weight.dtype == dtype else weight.to(dtype)
            grad_x = g.mm(w).addmm_(g_mid, down)
            grad_x = grad_x.view(*grad.shape[:-1], flat.shape[-1])
            if grad_x.dtype != ctx.input_dtype:
                grad_x = grad_x.to(ctx.input_dtype)
        grad_down = g_mid.t().mm(flat)
        return grad_x, None, None, grad_down, up_gradient(mid, g, g.is_cuda), None


def up_gradient(mid: torch.Tensor, grad: torch.Tensor, in_up_layout: bool) -> torch.Tensor:
    """The gradient of `up` (out, r) from the middle (r, tokens) and the output's gradient
    (tokens, out). On a CPU the product with r leading is 3x faster at small ranks, but comes
    out transposed, and autograd copies it into `up`'s layout: one small copy per module. A
    GPU's BLAS runs both layouts alike (a transposition is a flag to it), so there the product
    is made in `up`'s layout directly, one launch fewer per module. The same numbers (a test)."""
    if in_up_layout:
        return grad.t().mm(mid.t())
    return mid.mm(grad).t()


def linear_forward(lora, factor: list):
    """A forward for the Linear that `lora` (a lycoris LoConModule in bypass mode) adapts:
    the base Linear and the bypass together, at `factor[0]` (the module's own cell, refreshed
    before each model's forward; a cell rather than an index into one list, so a compiled
    block is one graph for every instance instead of one per module)."""
    linear, down, up = lora.org_module[0], lora.lora_down, lora.lora_up

    def forward(x):
        dw, uw = down.weight, up.weight
        if dw.dtype != x.dtype:  # a bf16 base with the fp32 adapter: it meets the activation
            dw, uw = dw.to(x.dtype), uw.to(x.dtype)
        return LinearBypass.apply(x, linear.weight, linear.bias, dw, uw, factor[0])

    return forward
