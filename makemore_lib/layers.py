"""Layers written from scratch with a PyTorch-like API (makemore part 3).

Every layer is called like a function, lists its tensors in `parameters()`, and keeps its
last output in `.out` for the diagnostics of chapter 4. Weights are drawn from the
caller's generator, so building the layers in the lecture's order draws the lecture's
numbers.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch

from .errors import BatchTooSmall


def embed(C, X):
    """emb = C[X] (N, block_size, n_embd) and embcat (N, block_size * n_embd): each row's
    context embeddings concatenated, the input of the first linear layer."""
    emb = C[X]                                     # (N, block_size, n_embd)
    return emb, emb.view(emb.shape[0], -1)         # (N, block_size * n_embd)


class Linear:
    """y = x @ W + b, with W (fan_in, fan_out) ~ N(0, 1) / sqrt(fan_in) and b = 0."""

    def __init__(self, fan_in: int, fan_out: int, bias: bool = True, generator: torch.Generator | None = None):
        self.weight = torch.randn((fan_in, fan_out), generator=generator) / fan_in**0.5
        self.bias = torch.zeros(fan_out) if bias else None

    def __call__(self, x):
        self.out = x @ self.weight
        if self.bias is not None:
            self.out += self.bias
        return self.out

    def parameters(self):
        return [self.weight] + ([] if self.bias is None else [self.bias])


class BatchNorm1d:
    """y = gamma * (x - mean) / sqrt(var + eps) + beta, per feature, over the batch.

    Training mode normalises with the batch's *biased* variance (1/n), as the paper and
    torch.nn.BatchNorm1d do, and folds the *unbiased* variance (1/(n-1)) into
    `running_var`, which estimates the population variance used at inference:

        running_mean <- (1 - momentum) * running_mean + momentum * mean
        running_var  <- (1 - momentum) * running_var  + momentum * var * n / (n - 1)

    The lecture's class uses the unbiased variance for both (nn-zero-to-hero issue #44);
    that makes training-mode outputs differ from torch's by a factor sqrt((n-1)/n) and the
    train/eval behaviour differ slightly. Ours matches torch in both modes, so it can be
    swapped for torch.nn.BatchNorm1d and tested against it.

    The running statistics keep the shape (dim,). (Updating them with a keepdim batch mean
    turns them into (1, dim); that alone changes no number, as chapter 3 shows. The NaN
    learners meet comes from a training-mode call on a batch of one, whose unbiased
    variance is 0/0: this layer refuses it.) Eval mode uses only the running statistics,
    so it works on a batch of one; `fold` absorbs them into the preceding Linear.
    """

    def __init__(self, dim: int, eps: float = 1e-5, momentum: float = 0.1):
        self.eps = eps
        self.momentum = momentum
        self.training = True
        self.gamma = torch.ones(dim)
        self.beta = torch.zeros(dim)
        self.running_mean = torch.zeros(dim)
        self.running_var = torch.ones(dim)

    def __call__(self, x):
        if self.training:
            n = x.shape[0]
            if n < 2:
                raise BatchTooSmall("BatchNorm1d in training mode needs a batch of at least 2; "
                                    "call model.eval() to run on a single example")
            xmean = x.mean(0)                        # (dim,)
            xdiff = x - xmean                        # (N, dim)
            xvar = (xdiff * xdiff).mean(0)           # (dim,) biased: 1/n
            xhat = xdiff * torch.rsqrt(xvar + self.eps)
            with torch.no_grad():                    # lerp(a, b, m) = (1 - m) * a + m * b
                self.running_mean = torch.lerp(self.running_mean, xmean, self.momentum)
                self.running_var = torch.lerp(self.running_var, xvar * (n / (n - 1)), self.momentum)
        else:
            xhat = (x - self.running_mean) * torch.rsqrt(self.running_var + self.eps)
        self.out = self.gamma * xhat + self.beta
        return self.out

    def calibrate(self, x) -> None:
        """Replace the running statistics by those of `x` (N, dim) exactly: its mean and unbiased variance."""
        with torch.no_grad():
            self.running_var, self.running_mean = torch.var_mean(x, 0, correction=1)

    def parameters(self):
        return [self.gamma, self.beta]


def fold_affine(weight, bias, mean, std, gamma, beta):
    """W' = W * s and b' = (b - mean) * s + beta, with s = gamma / std (per output column):

        x @ W' + b' = gamma * (x @ W + b - mean) / std + beta

    so a linear map followed by a normalisation with fixed statistics (BatchNorm in eval
    mode) is one linear map. `bias` may be None (no bias: b = 0)."""
    s = gamma / std                                  # (fan_out,)
    b = 0.0 if bias is None else bias
    return weight * s, (b - mean) * s + beta         # (fan_in, fan_out), (fan_out,)


@torch.no_grad()
def fold(linear: "Linear", batchnorm: "BatchNorm1d") -> "Linear":
    """One Linear equal to `linear` followed by `batchnorm` in eval mode (std = sqrt(running_var + eps))."""
    fan_in, fan_out = linear.weight.shape
    folded = Linear(fan_in, fan_out, bias=True, generator=torch.Generator())  # weights replaced below
    folded.weight, folded.bias = fold_affine(linear.weight, linear.bias, batchnorm.running_mean,
                                             torch.sqrt(batchnorm.running_var + batchnorm.eps),
                                             batchnorm.gamma, batchnorm.beta)
    return folded


class Activation:
    """An elementwise nonlinearity y = f(x), without parameters; a subclass defines `f`."""

    def __call__(self, x):
        self.out = self.f(x)
        return self.out

    def parameters(self):
        return []


class Tanh(Activation):
    """y = tanh(x)"""

    def f(self, x):
        return torch.tanh(x)


class LayerNorm:
    """y = gamma * (x - mean) / sqrt(var + eps) + beta, per example, over the features.

    mean and the biased variance (1/dim) are taken over the last dimension of each row, so
    an example is normalised by its own numbers only: no batch statistics, hence no running
    statistics, no train/eval difference, and the same output at batch size 1 as inside any
    batch. Matches torch.nn.LayerNorm(dim).
    """

    def __init__(self, dim: int, eps: float = 1e-5):
        self.eps = eps
        self.gamma = torch.ones(dim)
        self.beta = torch.zeros(dim)

    def __call__(self, x):
        xmean = x.mean(-1, keepdim=True)             # (N, 1)
        xdiff = x - xmean                            # (N, dim)
        xvar = (xdiff * xdiff).mean(-1, keepdim=True)  # (N, 1) biased: 1/dim
        self.out = self.gamma * xdiff * torch.rsqrt(xvar + self.eps) + self.beta
        return self.out

    def parameters(self):
        return [self.gamma, self.beta]


class ReLU(Activation):
    """y = max(0, x)"""

    def f(self, x):
        return torch.relu(x)


class LeakyReLU(Activation):
    """y = x if x > 0 else negative_slope * x: a unit that never fires still passes a gradient."""

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = negative_slope

    def f(self, x):
        return torch.nn.functional.leaky_relu(x, self.negative_slope)


class Sigmoid(Activation):
    """y = 1 / (1 + exp(-x)); its slope y (1 - y) is at most 1/4, and near 0 at both ends."""

    def f(self, x):
        return torch.sigmoid(x)


class ELU(Activation):
    """y = x if x > 0 else alpha * (exp(x) - 1): smooth, and its slope alpha * exp(x) never reaches 0."""

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def f(self, x):
        return torch.nn.functional.elu(x, self.alpha)


class Identity(Activation):
    """y = x: no nonlinearity, for a stack of Linear layers that is one linear map."""

    def f(self, x):
        return x


class Embedding:
    """A lookup table C (num_embeddings, embedding_dim) ~ N(0, 1): y = C[x]."""

    def __init__(self, num_embeddings: int, embedding_dim: int, generator: torch.Generator | None = None):
        self.weight = torch.randn((num_embeddings, embedding_dim), generator=generator)

    def __call__(self, ix):
        self.out = self.weight[ix]
        return self.out

    def parameters(self):
        return [self.weight]


class Flatten:
    """(N, block_size, n_embd) -> (N, block_size * n_embd): concatenate the embeddings."""

    def __call__(self, x):
        self.out = x.view(x.shape[0], -1)
        return self.out

    def parameters(self):
        return []


class Sequential:
    """Calls its layers in order. `retain_grads = True` keeps every layer's output gradient."""

    def __init__(self, layers):
        self.layers = list(layers)
        self.retain_grads = False

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
            if self.retain_grads and x.requires_grad:
                x.retain_grad()
        self.out = x
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def named_parameters(self):
        """(name, tensor) pairs such as ('2.Linear.weight', W)."""
        names = []
        for i, layer in enumerate(self.layers):
            kind = type(layer).__name__
            for attr in ("weight", "bias", "gamma", "beta"):
                p = getattr(layer, attr, None)
                if p is not None:
                    names.append((f"{i}.{kind}.{attr}", p))
        return names

    @property
    def training(self) -> bool:
        return all(getattr(l, "training", True) for l in self.layers)

    def train(self, mode: bool = True):
        for layer in self.layers:
            if hasattr(layer, "training"):
                layer.training = mode
        return self

    def eval(self):
        return self.train(False)

    @torch.no_grad()
    def folded(self) -> "Sequential":
        """The eval-mode network without its BatchNorms (exercise E02): every Linear followed by a
        BatchNorm1d becomes one Linear (`fold`); every other layer is shared with this network."""
        out, i = [], 0
        while i < len(self.layers):
            layer = self.layers[i]
            following = self.layers[i + 1] if i + 1 < len(self.layers) else None
            if isinstance(layer, Linear) and isinstance(following, BatchNorm1d):
                out.append(fold(layer, following))
                i += 2
            else:
                out.append(layer)
                i += 1
        return Sequential(out).eval()

    @torch.no_grad()
    def calibrate(self, X) -> None:
        """Set every BatchNorm's statistics to those of its input over all of X, layer by layer.

        X passes through in eval mode, so each layer after a calibrated BatchNorm sees the
        input that inference will give it."""
        with eval_mode(self):
            x = X
            for layer in self.layers:
                if hasattr(layer, "calibrate"):
                    layer.calibrate(x)
                x = layer(x)


@contextmanager
def eval_mode(model):
    """Run the body with `model` in eval mode, then give it back the mode it had, also on error."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
