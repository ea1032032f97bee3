"""Manual backpropagation through the network of makemore part 4 (chapter 5).

The network: emb = C[Xb]; hprebn = embcat @ W1 + b1; BatchNorm with the batch mean and the
Bessel-corrected batch variance; h = tanh(hpreact); logits = h @ W2 + b2; cross-entropy.

    net = BackpropMLP(vocab_size, n_hidden=64, generator=g)   # the lecture's init, all from g
    cache = net.forward(Xb, Yb)                                 # every tensor the backward needs
    grads = backward(Xb=Xb, Yb=Yb, **net.tensors(), **cache)    # [dC, dW1, db1, dW2, db2, dbngain, dbnbias]
    result = train_manual(net, Xtr, Ytr, steps, g)              # SGD without autograd

Each backward function is one vectorised formula (no Python loop over the batch).
`compare` checks a manual gradient against autograd's, shapes included.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .errors import GradientShapeError
from .layers import embed
from .models import TANH_GAIN
from .train import TrainResult, lr_schedule, train

PARAM_NAMES = ("C", "W1", "b1", "W2", "b2", "bngain", "bnbias")
BN_EPS = 1e-5


# ---------------------------------------------------------------------------------------------
# the network


class BackpropMLP:
    """The network of makemore part 4, initialised the lecture's way, every draw from `generator`.

    C ~ N(0,1); W1 ~ N(0,1) * (5/3)/sqrt(n_embd*block_size); b1, W2, b2 ~ N(0,1) * 0.1;
    bngain = 1 + 0.1 * N(0,1), bnbias = 0.1 * N(0,1), both (1, n_hidden). The small random
    biases are deliberate: a gradient that is zero by accident cannot hide a bug. (The lecture
    draws bngain and bnbias from the global generator; here they come from `generator` too.)

    Training mode normalises with the batch statistics; eval mode with `bnmean`, `bnvar`,
    which `calibrate` sets from a whole split (there are no running estimates, as in the lecture).
    """

    def __init__(self, vocab_size: int, block_size: int = 3, n_embd: int = 10, n_hidden: int = 64,
                 generator: torch.Generator | None = None):
        g = generator
        fan_in = n_embd * block_size
        self.C = torch.randn((vocab_size, n_embd), generator=g)
        self.W1 = torch.randn((fan_in, n_hidden), generator=g) * TANH_GAIN / (fan_in**0.5)
        self.b1 = torch.randn(n_hidden, generator=g) * 0.1  # useless before BatchNorm; kept to check its gradient
        self.W2 = torch.randn((n_hidden, vocab_size), generator=g) * 0.1
        self.b2 = torch.randn(vocab_size, generator=g) * 0.1
        self.bngain = torch.randn((1, n_hidden), generator=g) * 0.1 + 1.0
        self.bnbias = torch.randn((1, n_hidden), generator=g) * 0.1
        self.bnmean = torch.zeros((1, n_hidden))
        self.bnvar = torch.ones((1, n_hidden))
        self.training = True

    def tensors(self) -> dict[str, torch.Tensor]:
        """The parameters by their lecture names, in the lecture's order."""
        return {n: getattr(self, n) for n in PARAM_NAMES}

    def named_parameters(self):
        return list(self.tensors().items())

    def parameters(self):
        return list(self.tensors().values())

    def forward(self, Xb, Yb=None) -> dict:
        """Training-mode forward pass; see the module-level `forward`."""
        return forward(self.tensors(), Xb, Yb)

    def _hprebn(self, X):
        _, embcat = embed(self.C, X)                                      # (N, block_size * n_embd)
        return embcat @ self.W1 + self.b1                                 # (N, n_hidden)

    def __call__(self, X):
        if self.training:
            return self.forward(X)["logits"]
        hprebn = self._hprebn(X)                                          # (N, n_hidden)
        hpreact = self.bngain * (hprebn - self.bnmean) * (self.bnvar + BN_EPS)**-0.5 + self.bnbias
        return torch.tanh(hpreact) @ self.W2 + self.b2                    # (N, vocab_size)

    @torch.no_grad()
    def calibrate(self, X):
        """bnmean, bnvar <- mean and unbiased variance of the hidden pre-activation over all of X."""
        self.bnvar, self.bnmean = torch.var_mean(self._hprebn(X), 0, keepdim=True, correction=1)
        return self.bnmean, self.bnvar

    def train(self, mode: bool = True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)


def forward(P: dict, Xb, Yb=None) -> dict:
    """The forward pass in training mode, keeping what the backward pass needs.

    bnmeani = mean(hprebn), bnvar = sum((hprebn - bnmeani)^2) / (n - 1) over the batch,
    bnraw = (hprebn - bnmeani) / sqrt(bnvar + 1e-5), hpreact = bngain * bnraw + bnbias.
    (bnmeani is the batch's mean, as the lecture names it; `BackpropMLP.bnmean` is the
    calibrated mean of a whole split.)
    With `Yb`, also the mean cross-entropy `loss`.
    """
    n = Xb.shape[0]
    emb, embcat = embed(P["C"], Xb)                             # (n, block_size, n_embd), (n, block_size * n_embd)
    hprebn = torch.addmm(P["b1"], embcat, P["W1"])              # (n, n_hidden) = embcat @ W1 + b1, one op
    bnmeani = hprebn.mean(0, keepdim=True)                      # (1, n_hidden)
    bndiff = hprebn - bnmeani                                   # (n, n_hidden)
    bnvar = (bndiff * bndiff).sum(0, keepdim=True) / (n - 1)    # (1, n_hidden) Bessel-corrected
    bnvar_inv = (bnvar + BN_EPS)**-0.5                          # (1, n_hidden)
    bnraw = bndiff * bnvar_inv                                  # (n, n_hidden)
    hpreact = torch.addcmul(P["bnbias"], P["bngain"], bnraw)    # (n, n_hidden) = bngain * bnraw + bnbias
    h = torch.tanh(hpreact)                                     # (n, n_hidden)
    logits = torch.addmm(P["b2"], h, P["W2"])                   # (n, vocab_size) = h @ W2 + b2
    cache = dict(n=n, emb=emb, embcat=embcat, hprebn=hprebn, bnmeani=bnmeani, bndiff=bndiff, bnvar=bnvar,
                 bnvar_inv=bnvar_inv, bnraw=bnraw, hpreact=hpreact, h=h, logits=logits)
    if Yb is not None:
        cache["loss"] = F.cross_entropy(logits, Yb)
    return cache


# ---------------------------------------------------------------------------------------------
# the backward pass, one layer at a time


def cross_entropy_backward(logits, Yb):
    """dloss/dlogits of loss = mean_i -log softmax(logits_i)[Yb_i]:

        dlogits = (softmax(logits) - onehot(Yb)) / n          # (n, vocab_size)
    """
    return (F.softmax(logits, 1) - F.one_hot(Yb, logits.shape[1])) / logits.shape[0]


def linear_backward(dout, x, W):
    """For out = x @ W + b:  dx = dout @ W^T,  dW = x^T @ dout,  db = sum_i dout_i.

    Returns (dx, dW, db) with the shapes of x, W and b (b is 1-D).
    """
    return dout @ W.T, x.T @ dout, dout.sum(0)


def tanh_backward(dh, h):
    """For h = tanh(hpreact):  dhpreact = dh * (1 - h^2), computed from the output h."""
    return torch.addcmul(dh, dh, h * h, value=-1.0)   # dh - dh * h^2, one fused op fewer


def batchnorm_backward(dhpreact, bnraw, bngain, bnvar_inv):
    """Backward through hpreact = bngain * bnraw + bnbias, bnraw = (hprebn - mean) * bnvar_inv,
    with the Bessel-corrected variance bnvar = sum((hprebn - mean)^2) / (n - 1):

        dbngain = sum_i dhpreact_i * bnraw_i                  # (1, n_hidden)
        dbnbias = sum_i dhpreact_i                            # (1, n_hidden)
        dhprebn = bngain * bnvar_inv / n * (n * dhpreact - sum_i dhpreact_i
                                            - n/(n-1) * bnraw * sum_i dhpreact_i * bnraw_i)

    computed as bngain * bnvar_inv * (dhpreact - dbnbias / n - bnraw * dbngain / (n-1)): the same
    formula with n divided in, so that the scalars multiply only (1, n_hidden) rows.
    Returns (dhprebn, dbngain, dbnbias).
    """
    n = dhpreact.shape[0]
    dbngain = (dhpreact * bnraw).sum(0, keepdim=True)                               # (1, n_hidden)
    dbnbias = dhpreact.sum(0, keepdim=True)                                         # (1, n_hidden)
    centred = torch.addcmul(dhpreact - dbnbias / n, bnraw, dbngain, value=-1.0 / (n - 1))
    return (bngain * bnvar_inv) * centred, dbngain, dbnbias


def embedding_backward(demb, Xb, C):
    """For emb = C[Xb]: each row of C collects the gradients of every position that looked it up,

        dC[k] = sum over (i, j) with Xb[i, j] == k of demb[i, j]

    as one index_add_ (no loop over the batch). `demb` is (n, block_size, n_embd) or flattened.
    """
    return torch.zeros_like(C).index_add_(0, Xb.reshape(-1), demb.reshape(-1, C.shape[1]))


def backward(*, Xb, Yb, C, W1, W2, bngain, embcat, bnraw, bnvar_inv, h, logits, **unused) -> list:
    """The whole backward pass from the forward's cache; returns the gradients in the order of
    PARAM_NAMES: [dC, dW1, db1, dW2, db2, dbngain, dbnbias]. Call it as
    `backward(Xb=Xb, Yb=Yb, **net.tensors(), **cache)`."""
    dlogits = cross_entropy_backward(logits, Yb)                                   # (n, vocab_size)
    dh, dW2, db2 = linear_backward(dlogits, h, W2)                                 # (n, n_hidden)
    dhpreact = tanh_backward(dh, h)                                                # (n, n_hidden)
    dhprebn, dbngain, dbnbias = batchnorm_backward(dhpreact, bnraw, bngain, bnvar_inv)
    dembcat, dW1, db1 = linear_backward(dhprebn, embcat, W1)                       # (n, block_size * n_embd)
    dC = embedding_backward(dembcat, Xb, C)                                        # (vocab_size, n_embd)
    return [dC, dW1, db1, dW2, db2, dbngain, dbnbias]


def autograd_gradients(P: dict, Xb, Yb) -> list:
    """The same gradients from autograd, for checking: detached copies of P, no .grad left behind."""
    with torch.enable_grad():
        leaves = {k: v.detach().requires_grad_() for k, v in P.items()}   # (detach shares the storage)
        loss = forward(leaves, Xb, Yb)["loss"]
        return list(torch.autograd.grad(loss, list(leaves.values())))


# ---------------------------------------------------------------------------------------------
# comparing with autograd

CHECK_HEADER = ["name", "exact", "approximate", "max difference", "tolerance"]
TOLERANCE_ULPS = 64   # the relative part of the tolerance, in units of the dtype's machine epsilon


def tolerance(grad: torch.Tensor) -> float:
    """How far a correct manual gradient may differ from autograd's, in its largest entry:

        tol = eps * (1 + 64 * max|grad|)

    eps is the dtype's machine epsilon (2^-23 for float32, 2^-52 for float64), the relative
    size of one rounding step. Two correct ways of computing the same gradient round in
    different places (a fused kernel, another summation order, another CPU's vector width),
    and each rounding is relative to the size of the numbers involved: so the tolerance grows
    with the gradient's largest entry (64 rounding steps of it), plus one rounding step of a
    loss of size 1 for gradients that are zero in exact arithmetic and left with rounding
    noise (b1's, in front of BatchNorm). A wrong formula, a missing term or a sign error
    moves an entry by about its own size, millions of rounding steps.
    """
    eps = torch.finfo(grad.dtype).eps
    return eps * (1 + TOLERANCE_ULPS * grad.abs().max().item()) if grad.numel() else eps


@dataclass
class GradCheck:
    """One manual gradient against autograd's. status: exact | approximate | wrong | shape | not yet."""
    name: str
    status: str
    maxdiff: float | None = None
    detail: str = ""
    tol: float | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("exact", "approximate")

    def row(self) -> list[str]:
        if self.status == "not yet":
            return [self.name, "not yet", "not yet", "", ""]
        if self.status == "shape":
            return [self.name, "no: " + self.detail, "no", "", ""]
        diff = "0" if self.maxdiff == 0 else f"{self.maxdiff:.1e}"
        return [self.name, "yes" if self.status == "exact" else "no",
                "yes" if self.ok else "no", diff, f"{self.tol:.1e}"]


def compare_grad(name: str, dt, grad: torch.Tensor) -> GradCheck:
    """The lecture's cmp, with a verdict that means the same on every CPU.

    exact: bit for bit equal (torch.equal). approximate: max |dt - grad| <= tolerance(grad),
    float rounding and nothing else. wrong: anything larger. A shape that differs fails even
    where broadcasting would hide it (a (64,) gradient for a (1, 64) tensor: nn-zero-to-hero
    issue #59). An unfilled gradient (`...`) is reported as "not yet".
    """
    if dt is Ellipsis:
        return GradCheck(name, "not yet")
    if not isinstance(dt, torch.Tensor):
        return GradCheck(name, "shape", detail=f"a {type(dt).__name__}, not a tensor")
    if dt.shape != grad.shape:
        return GradCheck(name, "shape", detail=f"shape {tuple(dt.shape)}, expected {tuple(grad.shape)}")
    tol = tolerance(grad)
    if torch.equal(dt, grad):
        return GradCheck(name, "exact", 0.0, tol=tol)
    maxdiff = (dt.to(grad.dtype) - grad).abs().max().item()
    return GradCheck(name, "approximate" if maxdiff <= tol else "wrong", maxdiff, tol=tol)


def compare(name: str, dt, t: torch.Tensor) -> GradCheck:
    """compare_grad against t.grad, as in the lecture's `cmp(name, dt, t)`."""
    if t.grad is None:
        raise ValueError(f"{name} has no .grad: call retain_grad() on it before loss.backward()")
    return compare_grad(name, dt, t.grad)


def summary(checks: list[GradCheck]) -> str:
    """One line: how many gradients are exact, approximate, wrong, not yet written."""
    count = lambda *s: sum(c.status in s for c in checks)
    return (f"{len(checks)} gradient{'s' * (len(checks) != 1)}: {count('exact')} exact, {count('approximate')} approximate, "
            f"{count('wrong', 'shape')} wrong, {count('not yet')} not yet written")


# ---------------------------------------------------------------------------------------------
# training without autograd


@dataclass
class ManualTrainResult(TrainResult):
    waiting_for: list[str] = field(default_factory=list)      # parameters whose gradient is still `...`
    checks: list[list[GradCheck]] = field(default_factory=list)  # per checked step, one per parameter

    @property
    def trained(self) -> bool:
        return not self.waiting_for


def unfilled(grads) -> list[str]:
    """Names of the parameters whose gradient is not a tensor yet (a workbook's `...`)."""
    return [n for n, g in zip(PARAM_NAMES, grads) if not isinstance(g, torch.Tensor)]


def train_manual(net: BackpropMLP, Xtr, Ytr, steps: int, generator: torch.Generator, lr=lr_schedule(),
                 batch_size: int = 32, backward=backward, check_steps: int = 0,
                 desc: str = "manual backprop") -> ManualTrainResult:
    """train.train with `backward` as its backward step in place of loss.backward().

    The same minibatches (all drawn up front from `generator`) and the same update
    p += -lr(i) * grad. `backward` is called as `backward(Xb=Xb, Yb=Yb, **net.tensors(), **cache)`
    and returns the gradients in PARAM_NAMES order. On the first `check_steps` steps its
    gradients are also compared with autograd's (result.checks). If any gradient is still `...`,
    nothing is trained and result.waiting_for names them.
    """
    result = ManualTrainResult(steps=steps, lossi=[])
    return train(net, Xtr, Ytr, steps, generator, lr=lr, batch_size=batch_size, ud_every=None, desc=desc,
                 step=manual_step(net, backward, check_steps, result), result=result,
                 hint="check the manual gradients against autograd")


def manual_step(net: BackpropMLP, backward, check_steps: int, result: ManualTrainResult):
    """The backward step of train.train, by hand: forward, `backward`, no graph recorded."""
    P = net.tensors()
    params = list(P.values())

    @torch.no_grad()
    def step(i, Xb, Yb, grad):
        cache = forward(P, Xb, Yb)
        grads = backward(Xb=Xb, Yb=Yb, **P, **cache)
        if i == 0:
            result.waiting_for = unfilled(grads)
            if result.waiting_for:
                result.steps = 0
                return None
            _check_shapes(grads, params)
        if i < check_steps:
            expected = autograd_gradients(P, Xb, Yb)
            result.checks.append([compare_grad(n, g, e) for n, g, e in zip(PARAM_NAMES, grads, expected)])
        torch.cat([d.reshape(-1) for d in grads], out=grad)
        return cache["loss"]
    return step


def _check_shapes(grads, params) -> None:
    for name, g, p in zip(PARAM_NAMES, grads, params):
        if g.shape != p.shape:
            raise GradientShapeError(f"d{name} has shape {tuple(g.shape)} but {name} has shape "
                                     f"{tuple(p.shape)}; a gradient must have its parameter's shape")
