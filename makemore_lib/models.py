"""The two networks of makemore part 3, with the lecture's initialisations.

`MLP` is the network of chapters 2 and 3, written with bare tensors and the lecture's
names (C, W1, b1, W2, b2, bngain, bnbias); `deep_mlp` assembles chapter 4's network from
the layer classes. Both draw their parameters from the caller's generator in the
lecture's order, so the same seed gives the lecture's initial numbers.
"""
from __future__ import annotations

import torch

from .errors import BatchTooSmall
from .layers import BatchNorm1d, Embedding, Flatten, LayerNorm, Linear, Sequential, Tanh, embed, fold_affine

TANH_GAIN = 5 / 3  # Kaiming gain for tanh: keeps the activations' std near 1 through a layer

# The stages of chapter 2's loss log: how each parameter is scaled right after its draw.
INITS = {
    "original":      dict(W1=1.0, b1=1.0, W2=1.0, b2=1.0),
    "softmax_fixed": dict(W1=1.0, b1=1.0, W2=0.01, b2=0.0),
    "tanh_fixed":    dict(W1=0.2, b1=0.01, W2=0.01, b2=0.0),
    "kaiming":       dict(W1="kaiming", b1=0.01, W2=0.01, b2=0.0),
}


class MLP:
    """emb = C[X]; h = tanh(emb.view(N, -1) @ W1 + b1); logits = h @ W2 + b2.

    With `batchnorm=True` (chapter 3) the hidden pre-activation is batch-normalised the
    lecture's way and b1 is dropped (the BatchNorm mean subtraction would cancel it):

        hpreact = bngain * (hpreact - bnmeani) / bnstdi + bnbias

    where bnmeani, bnstdi are the batch mean and (unbiased) standard deviation in training
    mode, and bnmean_running, bnstd_running (momentum 0.001) in eval mode.
    """

    def __init__(self, vocab_size: int, block_size: int = 3, n_embd: int = 10, n_hidden: int = 200,
                 init: str = "kaiming", batchnorm: bool = False, generator: torch.Generator | None = None,
                 w1_scale: float | None = None):
        if init not in INITS:
            raise ValueError(f"init must be one of {sorted(INITS)}, not {init!r}")
        scale = INITS[init] if w1_scale is None else {**INITS[init], "W1": w1_scale}
        g = generator
        fan_in = n_embd * block_size
        self.batchnorm = batchnorm
        self.training = True
        self.momentum = 0.001
        self.C = torch.randn((vocab_size, n_embd), generator=g)
        # the products are written exactly as in the lecture so that the same draws round the same way
        if scale["W1"] == "kaiming":
            self.W1 = torch.randn((fan_in, n_hidden), generator=g) * TANH_GAIN / (fan_in**0.5)
        else:
            self.W1 = torch.randn((fan_in, n_hidden), generator=g) * scale["W1"]
        self.b1 = None if batchnorm else torch.randn(n_hidden, generator=g) * scale["b1"]
        self.W2 = torch.randn((n_hidden, vocab_size), generator=g) * scale["W2"]
        self.b2 = torch.randn(vocab_size, generator=g) * scale["b2"]
        if batchnorm:
            self.bngain = torch.ones(n_hidden)
            self.bnbias = torch.zeros(n_hidden)
            self.bnmean_running = torch.zeros(n_hidden)
            self.bnstd_running = torch.ones(n_hidden)

    def named_parameters(self):
        names = ["C", "W1", "b1", "W2", "b2"] if not self.batchnorm else ["C", "W1", "W2", "b2", "bngain", "bnbias"]
        return [(n, getattr(self, n)) for n in names]

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def hidden_preact(self, X):
        """hpreact before BatchNorm (or the hidden pre-activation without it): embcat @ W1 (+ b1)."""
        _, embcat = embed(self.C, X)                   # (N, block_size * n_embd)
        if self.batchnorm:
            return embcat @ self.W1                    # (N, n_hidden)
        return embcat @ self.W1 + self.b1              # (N, n_hidden)

    def __call__(self, X):
        hpreact = self.hidden_preact(X)                # (N, n_hidden)
        if self.batchnorm:
            if self.training:
                if hpreact.shape[0] < 2:  # the std of one example is NaN, which would poison the running std
                    raise BatchTooSmall("MLP with BatchNorm in training mode needs a batch of at least 2; "
                                        "call model.eval() to run on a single example")
                bnmeani = hpreact.mean(0)              # (n_hidden,)
                bnstdi = hpreact.std(0)                # (n_hidden,) unbiased, as in the lecture
                with torch.no_grad():
                    m = self.momentum
                    self.bnmean_running = (1 - m) * self.bnmean_running + m * bnmeani
                    self.bnstd_running = (1 - m) * self.bnstd_running + m * bnstdi
            else:
                bnmeani, bnstdi = self.bnmean_running, self.bnstd_running
            hpreact = self.bngain * (hpreact - bnmeani) / bnstdi + self.bnbias
        h = torch.tanh(hpreact)                        # (N, n_hidden)
        self.hpreact, self.h = hpreact, h              # kept for the saturation plots
        return h @ self.W2 + self.b2                   # (N, vocab_size)

    @torch.no_grad()
    def calibrate(self, X) -> tuple[torch.Tensor, torch.Tensor]:
        """Set the BatchNorm statistics to the mean and std of the hidden pre-activation over X."""
        hpreact = self.hidden_preact(X)
        self.bnmean_running, self.bnstd_running = hpreact.mean(0), hpreact.std(0)
        return self.bnmean_running, self.bnstd_running

    @torch.no_grad()
    def folded(self) -> "MLP":
        """The eval-mode network without BatchNorm (exercise E02): the running statistics,
        bngain and bnbias folded into W1 and a new b1 (layers.fold_affine),

            embcat @ W1' + b1' = bngain * (embcat @ W1 - bnmean_running) / bnstd_running + bnbias

        C, W2 and b2 are shared with this model, not copied."""
        if not self.batchnorm:
            raise ValueError("folded() needs an MLP with batchnorm=True: there is nothing to fold")
        plain = object.__new__(MLP)
        plain.batchnorm, plain.training, plain.momentum = False, False, self.momentum
        plain.C, plain.W2, plain.b2 = self.C, self.W2, self.b2
        plain.W1, plain.b1 = fold_affine(self.W1, None, self.bnmean_running, self.bnstd_running,
                                         self.bngain, self.bnbias)
        return plain

    def train(self, mode: bool = True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)


def deep_mlp(vocab_size: int, block_size: int = 3, n_embd: int = 10, n_hidden: int = 100,
             n_layers: int = 5, batchnorm: bool = True, gain: float = TANH_GAIN,
             generator: torch.Generator | None = None, norm: str | None = "batch",
             activation=Tanh) -> Sequential:
    """Chapter 4's network: n_layers x (Linear -> [norm] -> activation), then Linear -> [norm].

    `norm` is "batch" (BatchNorm1d), "layer" (LayerNorm) or None; `batchnorm=False` is the
    same as norm=None. `activation` is a layer class (Tanh, ReLU, LeakyReLU, ...).
    Init as in the lecture: with a norm the Linear layers have no bias and the last norm's
    gamma is scaled by 0.1 (a less confident output at init); without one, the last Linear's
    weight by 0.1 and every other Linear's weight by `gain` (5/3 compensates tanh's squashing).
    The draws do not depend on `norm` or `activation`: the same seed gives the same weights.
    """
    norms = {"batch": BatchNorm1d, "layer": LayerNorm, None: None}
    if norm not in norms:
        raise ValueError(f'norm must be "batch", "layer" or None, not {norm!r}')
    Norm = norms[norm] if batchnorm else None
    g = generator
    layers = [Embedding(vocab_size, n_embd, generator=g), Flatten()]
    fan_in = n_embd * block_size
    for _ in range(n_layers):
        layers.append(Linear(fan_in, n_hidden, bias=Norm is None, generator=g))
        if Norm is not None:
            layers.append(Norm(n_hidden))
        layers.append(activation())
        fan_in = n_hidden
    layers.append(Linear(fan_in, vocab_size, bias=Norm is None, generator=g))
    if Norm is not None:
        layers.append(Norm(vocab_size))
    with torch.no_grad():
        if Norm is not None:
            layers[-1].gamma *= 0.1
        else:
            layers[-1].weight *= 0.1
            for layer in layers[:-1]:
                if isinstance(layer, Linear):
                    layer.weight *= gain
    return Sequential(layers)
