"""Fit, evaluate and sample: the lecture's minibatch SGD loop, made lean.

A model here is anything with `model(X) -> logits`, `parameters()`, `named_parameters()`
and `train()` / `eval()`: the lecture's `MLP` and a `Sequential` of layers both qualify.

Three things keep a step's time in arithmetic rather than per-op overhead, none of them
changing a single bit of the result:
- every minibatch index is drawn up front with one `torch.randint(0, N, (steps, 32),
  generator=g)`, which yields exactly the numbers of the lecture's per-step
  `torch.randint(0, N, (32,), generator=g)`;
- the parameters (and their gradients) are made views into one flat buffer, so zeroing the
  gradients is one op and the update `p.data += -lr * p.grad` is two ops for all of them;
- the update-to-data ratios `ud` cost a few ops per parameter, so they are recorded only
  every `ud_every` steps.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .errors import TrainingDiverged
from .layers import eval_mode
from .settings import in_notebook


@dataclass
class TrainResult:
    steps: int
    lossi: list[float]                     # log10 of every minibatch loss
    ud_steps: list[int] = field(default_factory=list)
    ud: list[list[float]] = field(default_factory=list)   # per recorded step, log10(std(lr*grad)/std(data)) per parameter
    ud_names: list[str] = field(default_factory=list)
    seconds: float = 0.0
    diverged_at: int | None = None         # the step whose loss blew up, when the run may diverge
    diverged_loss: float | None = None     # that loss (NaN, inf, or above MAX_LOSS)

    @property
    def final_loss(self) -> float:
        return 10 ** self.lossi[-1]


def lr_schedule(lr: float = 0.1, lr_after: float = 0.01, decay_step: int | None = None):
    """The lecture's step decay: `lr` before `decay_step`, `lr_after` from it on."""
    return lambda i: lr if decay_step is None or i < decay_step else lr_after


def progress(total: int, desc: str):
    """A tqdm bar on an interactive terminal only: none under pytest, in a page, or in a pipe."""
    if not sys.stderr.isatty() or in_notebook():
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="step", mininterval=0.5, leave=False)


def train(model, Xtr, Ytr, steps: int, generator: torch.Generator, lr=lr_schedule(),
          batch_size: int = 32, ud_every: int | None = 1, log_every: int | None = None,
          desc: str = "training", step=None, result: TrainResult | None = None,
          hint: str = "lower the learning rate or check the initialisation",
          may_diverge: bool = False, pause_at=(), on_pause=None) -> TrainResult:
    """Minibatch SGD with cross-entropy; returns the loss log and update-to-data ratios.

    `lr` is a function of the step index (see `lr_schedule`). `ud_every=None` records no
    ratios. Stops with TrainingDiverged, naming the step and `hint`, if a loss is NaN,
    infinite or above MAX_LOSS.

    `step(i, Xb, Yb, grad) -> loss` is the backward step: it computes the minibatch's loss and
    writes the gradient of every parameter, flattened in `model.parameters()` order, into the
    flat buffer `grad`; returning None ends training. The default is autograd
    (`autograd_step`); chapter 5 plugs in its manual backward pass (backprop.train_manual).
    Every step then updates all parameters at once: p.data += -lr(i) * p.grad.
    `on_pause(t, model, result)` is called after step t (counting from 1) for every t in
    `pause_at`: a look at the run as it goes, e.g. the frames of a figure over the training step.
    """
    params = model.parameters()
    flat, flat_grad = flatten_parameters(params)
    step = step or autograd_step(model)
    model.train()
    result = result or TrainResult(steps=steps, lossi=[])
    result.ud_names = [n for n, _ in model.named_parameters()]
    start = time.perf_counter()
    for i, Xb, Yb in minibatches(Xtr, Ytr, steps, batch_size, generator, desc):
        loss = step(i, Xb, Yb, flat_grad)
        if loss is None:
            break
        lossv = loss.item()
        if may_diverge and not (math.isfinite(lossv) and lossv <= MAX_LOSS):
            result.diverged_at, result.diverged_loss = i, lossv
            break
        finite_loss(lossv, i, steps, desc, hint)
        lri = lr(i)
        with torch.no_grad():
            flat += -lri * flat_grad                  # p.data += -lr * p.grad, for every p at once
            if ud_every and i % ud_every == 0:
                result.ud_steps.append(i)
                result.ud.append(update_to_data(params, [p.grad for p in params], lri))
        result.lossi.append(math.log10(lossv))
        if i + 1 in pause_at:
            on_pause(i + 1, model, result)
        if log_every and (i % log_every == 0 or i == steps - 1):
            print(f"{i:7d}/{steps:7d}: {lossv:.4f}")
    result.seconds = time.perf_counter() - start
    return result


def autograd_step(model):
    """The backward step of `train`: cross-entropy of model(Xb), gradients by loss.backward()."""
    def step(i, Xb, Yb, grad):
        loss = F.cross_entropy(model(Xb), Yb)
        grad.zero_()
        loss.backward()                               # accumulates into the views of grad (flatten_parameters)
        return loss
    return step


def minibatches(Xtr, Ytr, steps: int, batch_size: int, generator: torch.Generator, desc: str):
    """Yield (i, Xb, Yb) for every step: the lecture's minibatches, with a progress bar on a terminal.

    All indices are drawn up front; row i is exactly what the lecture's per-step
    `torch.randint(0, N, (batch_size,), generator=g)` draws at step i.
    """
    ix_all = torch.randint(0, Xtr.shape[0], (steps, batch_size), generator=generator)  # (steps, batch_size)
    bar = progress(steps, desc)
    try:
        for i in range(steps):
            ix = ix_all[i]
            yield i, Xtr[ix], Ytr[ix]                 # (batch_size, block_size), (batch_size,)
            if bar is not None and i % 200 == 0:
                bar.update(min(200, steps - i))
    finally:
        if bar is not None:
            bar.close()


# A minibatch loss above this counts as diverged. A sensible init starts near ln(27) = 3.3;
# the largest losses of the chapters' runs are 28 (chapter 2's "original" init at step 0) and
# 22 to 32 (chapter 4's lr 1.0 run without BatchNorm, whose rough path depends on the CPU's
# kernels), so 1,000 is 30x above anything legitimate, while a run that blows up (lr 1e6)
# passes 10^6 at its second step.
MAX_LOSS = 1_000.0


def finite_loss(lossv: float, step: int, steps: int, desc: str, hint: str) -> float:
    """`lossv`; TrainingDiverged naming the step if it is NaN, infinite or above MAX_LOSS."""
    if not math.isfinite(lossv):
        raise TrainingDiverged(f"{desc}: loss is {lossv} at step {step} of {steps}; {hint}")
    if lossv > MAX_LOSS:
        raise TrainingDiverged(f"{desc}: loss is {lossv:.4g} at step {step} of {steps}, above "
                               f"{MAX_LOSS:,.0f} (train.MAX_LOSS); {hint}")
    return lossv


def flatten_parameters(params) -> tuple[torch.Tensor, torch.Tensor]:
    """Re-seat every parameter, and its gradient, as a view into one flat buffer.

    The tensors stay the same Python objects (the model is untouched); autograd then
    accumulates each gradient in place into its view, and one op updates them all.
    """
    numel = sum(p.numel() for p in params)
    flat = torch.empty(numel, dtype=params[0].dtype)
    flat_grad = torch.zeros(numel, dtype=params[0].dtype)
    offset = 0
    with torch.no_grad():
        for p in params:
            n = p.numel()
            flat[offset:offset + n].copy_(p.view(-1))
            p.data = flat[offset:offset + n].view_as(p)
            p.requires_grad_(True)
            p.grad = flat_grad[offset:offset + n].view_as(p)
            offset += n
    return flat, flat_grad


def update_to_data(params, grads, lr: float) -> list[float]:
    """log10( std(lr * grad) / std(data) ) for every parameter: the size of one step
    relative to the parameter itself. About -3 is healthy (the lecture's rule of thumb)."""
    ratios = torch.stack([(lr * g).std() / p.std() for p, g in zip(params, grads)])
    return ratios.log10().tolist()


@torch.no_grad()
def split_loss(model, X, Y, chunk: int = 8192) -> float:
    """Mean cross-entropy of the whole split, in eval mode; the model's mode is restored.

    Evaluated `chunk` examples at a time (eval mode treats examples independently, so this
    is the same mean): a chunk's activations stay in cache, about 2.5x faster on the
    training set than one pass, and the result differs only by summation order (~1e-7).
    """
    with eval_mode(model):
        total = sum(F.cross_entropy(model(X[i:i + chunk]), Y[i:i + chunk], reduction="sum").item()
                    for i in range(0, X.shape[0], chunk))
    return total / X.shape[0]


@torch.no_grad()
def sample(model, itos: dict[int, str], block_size: int, n: int = 20,
           generator: torch.Generator | None = None, max_len: int = 50) -> list[str]:
    """Draw `n` words one character at a time, in eval mode (BatchNorm on a batch of one).

    Each word starts from block_size boundary tokens and ends at the first '.'.
    The model's mode is restored, and no running statistic is touched.
    """
    with eval_mode(model):
        words = []
        for _ in range(n):
            out, context = [], [0] * block_size
            for _ in range(max_len):
                logits = model(torch.tensor([context]))          # (1, vocab_size)
                probs = F.softmax(logits, dim=1)
                ix = torch.multinomial(probs, num_samples=1, generator=generator).item()
                if ix == 0:
                    break
                context = context[1:] + [ix]
                out.append(itos[ix])
            words.append("".join(out))
    return words
