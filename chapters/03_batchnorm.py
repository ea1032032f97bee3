# %% [markdown]
# # Chapter 3: Batch normalization
#
# Chapter 2 brought the hidden pre-activations of the MLP into a healthy range by choosing
# the scale of `W1` by hand. That is one number to get right for one layer; in a deep
# network every layer's scale has to be right at once, and a small error compounds layer
# after layer. Batch normalization (Ioffe and Szegedy, 2015) takes the direct route: if we
# want the pre-activations to be roughly unit Gaussian, standardize them. Standardizing is
# differentiable, so it can sit inside the network and be trained through.
#
# This chapter builds it in the open on chapter 2's MLP, switches to the library's finished
# version and trains it, and then looks at what BatchNorm costs (the examples of a batch are
# coupled, and inference needs fixed statistics) and what it buys (activations and gradients
# that keep their size whatever the scale of the weights).

# %%
import warnings

import torch
import torch.nn.functional as F

from makemore_lib import chapter, layers, lecture, models, plots, report, settings, train

S, D, claims = chapter.begin()
decay_step = S.steps(100_000)
print(f"mode: {S.mode}; the BatchNorm MLP trains {S.max_steps:,} steps, "
      f"learning rate 0.1, then 0.01 from step {decay_step:,}")

print(f"Xtr {tuple(D.Xtr.shape)}, Xdev {tuple(D.Xdev.shape)}, vocabulary {D.vocab_size}")


# %% [markdown]
# ## Standardizing one minibatch by hand
#
# Take chapter 2's MLP with its *original* initialization, the one whose hidden layer was
# badly saturated, and one minibatch of 32 examples. For every hidden neuron $j$ we compute
# the mean and standard deviation of its pre-activation over the batch, and standardize:
#
# $$\mu_j = \frac{1}{m}\sum_{i=1}^{m} h_{ij}, \qquad
#   \sigma_j = \sqrt{\frac{1}{m-1}\sum_{i=1}^{m} (h_{ij}-\mu_j)^2}, \qquad
#   \hat h_{ij} = \frac{h_{ij}-\mu_j}{\sigma_j}$$
#
# with $m = 32$. The statistics are per neuron (per column), over the batch (dimension 0).
# The lecture uses `std`, the unbiased estimate ($m-1$) and no $\epsilon$; we keep its
# names: `bnmeani`, `bnstdi` are the batch's mean and standard deviation.

# %%
g = torch.Generator().manual_seed(settings.SEED)
mlp = models.MLP(D.vocab_size, init="original", generator=g)   # chapter 2's network, unfixed
C, W1, b1, W2, b2 = mlp.C, mlp.W1, mlp.b1, mlp.W2, mlp.b2
n_hidden = W1.shape[1]

ix = torch.randint(0, D.Xtr.shape[0], (32,), generator=g)
Xb, Yb = D.Xtr[ix], D.Ytr[ix]                   # (32, 3), (32,)
emb = C[Xb]                                     # (32, 3, 10)
embcat = emb.view(emb.shape[0], -1)             # (32, 30)
hpreact = embcat @ W1 + b1                      # (32, 200)
bnmeani = hpreact.mean(0, keepdim=True)         # (1, 200)
bnstdi = hpreact.std(0, keepdim=True)           # (1, 200)
hnorm = (hpreact - bnmeani) / bnstdi            # (32, 200)


def describe(t):
    """Per-neuron mean and std (range over the neurons) and the saturated fraction of tanh(t)."""
    m, s = t.mean(0), t.std(0)
    sat = (torch.tanh(t).abs() > 0.99).float().mean().item()
    return [f"{m.min():.2f} to {m.max():.2f}", f"{s.min():.2f} to {s.max():.2f}", f"{100 * sat:.1f}%"]


report.show_table(["", "per-neuron mean", "per-neuron std", "tanh saturated (|h| > 0.99)"],
                  [["hpreact", *describe(hpreact)], ["standardized", *describe(hnorm)]])

# %% [markdown]
# Before, the neurons' pre-activations sit at different offsets, with standard deviations
# of several units, so most of them land in the flat tails of tanh. After, every column
# has mean 0 and standard deviation 1 exactly (up to rounding), and under one percent of
# the values saturate. No careful choice of `W1` was needed.
#
# Forcing unit Gaussians at every step would also forbid the network from ever wanting
# anything else: some neurons may work better more saturated, or shifted. So BatchNorm adds
# a learnable scale and shift per neuron, the gain `bngain` ($\gamma$) and bias `bnbias`
# ($\beta$):
#
# $$y_{ij} = \gamma_j\, \hat h_{ij} + \beta_j$$
#
# Initialized to $\gamma = 1$, $\beta = 0$ they change nothing at the start, and
# backpropagation moves them wherever the loss prefers.

# %%
bngain = torch.ones((1, n_hidden))              # (1, 200)
bnbias = torch.zeros((1, n_hidden))             # (1, 200)
hpreact_bn = bngain * hnorm + bnbias            # (32, 200)
plots.plot_hist({"hpreact": hpreact, "after BatchNorm": hpreact_bn},
                title="Hidden pre-activations of one minibatch, original init", xlabel="value")

# %% [markdown]
# ## Why the first layer's bias becomes redundant
#
# Adding a constant $b_j$ to every example's $h_{ij}$ adds $b_j$ to the batch mean
# $\mu_j$ and leaves $\sigma_j$ unchanged, so it cancels in $h_{ij} - \mu_j$. Whatever
# `b1` is, the output is the same. By the same token its gradient is zero:
# $\partial L/\partial b_j = \sum_i \partial L/\partial h_{ij}$, and the gradient that
# BatchNorm passes back has zero sum over the batch in every column (a shift of the whole
# column is exactly the direction BatchNorm ignores). A scale $c > 0$ on `W1` cancels in
# the same way, through $\sigma_j$. The checks below measure all three; `bnbias` takes over
# the role of `b1`.

# %%
def batchnorm(hpreact):
    """The lecture's formula, to test the claims above."""
    return bngain * (hpreact - hpreact.mean(0, keepdim=True)) / hpreact.std(0, keepdim=True) + bnbias


shift = 100 * torch.randn(n_hidden, generator=g)                     # (200,) a large arbitrary bias
base = batchnorm(embcat @ W1)                                        # (32, 200) no bias at all
rows = [["+ b1", (batchnorm(embcat @ W1 + b1) - base).abs().max().item()],
        ["+ 100 * randn bias", (batchnorm(embcat @ W1 + shift) - base).abs().max().item()],
        ["W1 scaled by 3", (batchnorm(embcat @ (3 * W1)) - base).abs().max().item()]]

b1_leaf = b1.clone().requires_grad_(True)
W1_leaf = W1.clone().requires_grad_(True)
logits = torch.tanh(batchnorm(embcat @ W1_leaf + b1_leaf)) @ W2 + b2  # (32, 27)
F.cross_entropy(logits, Yb).backward()
report.show_table(["change before BatchNorm", "max abs change of the output"],
                  [[r[0], f"{r[1]:.1e}"] for r in rows])
print(f"max |b1.grad| = {b1_leaf.grad.abs().max().item():.1e}   "
      f"(max |W1.grad| = {W1_leaf.grad.abs().max().item():.1e})")

# %% [markdown]
# The differences are float32 rounding (the shift of 100 costs a few digits), and the
# gradient of `b1` is zero up to rounding while `W1`'s is not. A bias in front of a
# BatchNorm is a wasted parameter, so the lecture deletes `b1`; `b2`, after the hidden
# layer, stays.
#
# ## The finished version
#
# The library's `models.MLP(..., batchnorm=True)` is this network with the BatchNorm built
# in: no `b1`, `bngain` and `bnbias` among the parameters, and two buffers
# `bnmean_running`, `bnstd_running` that are not trained by gradient descent. Its forward
# pass:

# %%
report.show_source(models.MLP.__call__)

# %% [markdown]
# Two things are new. The statistics are kept with shape `(n_hidden,)` (no `keepdim`):
# broadcasting against `(N, n_hidden)` works the same, and the running buffers keep their
# shape. And in training mode each call updates an exponential moving average of the batch
# statistics, under `no_grad` because it is bookkeeping, not part of the graph:
#
# $$\bar\mu \leftarrow (1-\alpha)\,\bar\mu + \alpha\,\mu_B, \qquad
#   \bar\sigma \leftarrow (1-\alpha)\,\bar\sigma + \alpha\,\sigma_B, \qquad \alpha = 0.001$$
#
# At inference there may be a single example and no batch to take statistics from, so
# eval mode uses $\bar\mu$, $\bar\sigma$ instead. With $\alpha = 0.001$ the average
# remembers roughly the last $1/\alpha = 1000$ steps: smooth enough to ignore one batch's
# noise, recent enough to follow the weights as they move.

# %%
g = torch.Generator().manual_seed(settings.SEED)
model = models.MLP(D.vocab_size, batchnorm=True, generator=g)
print(f"parameters: {sum(p.nelement() for p in model.parameters()):,} "
      f"({', '.join(f'{n} {tuple(p.shape)}' for n, p in model.named_parameters())})")

# %% [markdown]
# ## Training
#
# The lecture's optimization: minibatches of 32, learning rate 0.1, then 0.01 for the
# second half.

# %%
result = train.train(model, D.Xtr, D.Ytr, S.max_steps, g, lr=train.lr_schedule(0.1, 0.01, decay_step),
                     ud_every=None, log_every=S.max_steps // 10, desc="MLP + BatchNorm")
print(f"{result.steps:,} steps in {result.seconds:.1f} s ({1e6 * result.seconds / result.steps:.0f} us per step)")
plots.plot_loss({"MLP + BatchNorm": result.lossi}, title="Training loss, MLP with BatchNorm",
                window=S.steps(1_000), ylabel=f"log10(loss), mean of {S.steps(1_000):,} steps")

# %% [markdown]
# ## Running estimates against a calibration
#
# The running averages are a by-product of training. The alternative is to calibrate after
# training: push the whole training set through the first layer once and take the exact
# mean and standard deviation of every hidden pre-activation
# (`model.calibrate`; every model with BatchNorm in the library answers it). Both ways
# should give nearly the same numbers; the running average is noisier, because it mixes
# batches of 32, and it lags, because it mixes weights from earlier steps.

# %%
report.show_source(models.MLP.calibrate)

# %%
bnmean_running, bnstd_running = model.bnmean_running.clone(), model.bnstd_running.clone()  # (200,), (200,)
train_running = train.split_loss(model, D.Xtr, D.Ytr)
val_running = train.split_loss(model, D.Xdev, D.Ydev)

model.calibrate(D.Xtr)
bnmean, bnstd = model.bnmean_running.clone(), model.bnstd_running.clone()                  # (200,), (200,)
train_calibrated = train.split_loss(model, D.Xtr, D.Ytr)
val_calibrated = train.split_loss(model, D.Xdev, D.Ydev)

report.show_table(["statistics used in eval mode", "train loss", "val loss"],
                  [["running estimates (momentum 0.001)", train_running, val_running],
                   ["calibrated on the whole training set", train_calibrated, val_calibrated]])
report.show_table(["", "max abs difference", "mean abs difference", "largest relative difference"],
                  [["mean", f"{(bnmean_running - bnmean).abs().max():.4f}",
                    f"{(bnmean_running - bnmean).abs().mean():.4f}",
                    f"{((bnmean_running - bnmean).abs() / bnstd).max():.1%} of that neuron's std"],
                   ["std", f"{(bnstd_running - bnstd).abs().max():.4f}",
                    f"{(bnstd_running - bnstd).abs().mean():.4f}",
                    f"{((bnstd_running - bnstd).abs() / bnstd).max():.1%}"]])
report.publish("batchnorm/val_calibrated", val_calibrated, fmt=".4f")
plots.plot_scatter({"mean": (bnmean, bnmean_running), "std": (bnstd, bnstd_running)},
                   title="BatchNorm statistics of the 200 hidden neurons",
                   xlabel="calibrated on the training set", ylabel="running estimate")
print(f"weight the running average still gives its initial values (mean 0, std 1) after "
      f"{S.max_steps:,} steps: (1 - {model.momentum})^{S.max_steps:,} = {(1 - model.momentum) ** S.max_steps:.2g}")

# %% [markdown]
# Each dot is one neuron; on the diagonal the two estimates agree. The last line explains
# most of any systematic gap: the average starts from mean 0 and std 1, and after $T$
# steps those starting values still carry weight $(1-\alpha)^T$. After the lecture's
# 200,000 steps that is nothing; after a quick run of 2,000 steps it is about 14%, and
# the dots lean towards 0 and 1. What is left after a long run is the noise of batches of
# 32, the lag behind the moving weights, and one small bias: the running std averages
# batch standard deviations, and the square root of an unbiased variance estimate is
# itself biased low, by about $1/(4m) \approx 0.8\%$ for $m = 32$ (Jensen's inequality),
# so its dots sit slightly below the diagonal. All of this is small against each neuron's
# spread, and the losses above say how much it matters. The running average costs nothing after training,
# which is why it is the usual choice. We report the run as the lecture does, evaluated
# with the running estimates, and restore them before sampling.

# %%
model.bnmean_running, model.bnstd_running = bnmean_running, bnstd_running
report.record_run("MLP with BatchNorm", S.max_steps, train_running, val_running, key="mlp/batchnorm")
for key in ("mlp/kaiming", "mlp/batchnorm"):
    label, lecture_train, lecture_val = lecture.RESULTS[key]
    print(f"lecture, {label}: train {lecture_train:.4f}, val {lecture_val:.4f}")
names = train.sample(model, D.itos, D.block_size, 20, generator=torch.Generator().manual_seed(settings.SAMPLE_SEED))
print(" ".join(names))

# %% [markdown]
# On the lecture's dataset BatchNorm roughly ties with chapter 2's Kaiming-initialized MLP
# (its numbers are printed above; the results page lists our runs of both, on our 2017 list): a network with one hidden
# layer and a carefully chosen scale had no trouble to begin with. What BatchNorm removes
# is the care; its benefit grows with depth (chapter 4).
#
# ## Inference on one example
#
# In eval mode the model uses the stored statistics, so each example's output depends on
# that example alone: one context gives the same logits alone or inside a batch of 1000.
# In training mode the output of an example depends on the other 31 in its batch (this
# jitter acts as a mild regularizer), and a batch of one has no spread to divide by.

# %%
model.eval()
logits1 = model(D.Xdev[:1])                     # (1, 27)
logits_batch = model(D.Xdev[:1000])             # (1000, 27)
model.train()
context = "".join(D.itos[i] for i in D.Xdev[0].tolist())
probs = F.softmax(logits1, dim=1)[0]            # (27,)
top = probs.topk(5)
print(f"context {context!r} -> next character: "
      + ", ".join(f"{D.itos[i]} {p:.2f}" for p, i in zip(top.values.tolist(), top.indices.tolist())))
print(f"alone vs inside a batch of 1000: max abs difference {(logits1 - logits_batch[:1]).abs().max().item():.1e}")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")             # torch warns that one example has no degrees of freedom
    print(f"the lecture's formula on a batch of one: std = {hpreact[:1].std(0)[:4].tolist()} ...")
try:
    layers.BatchNorm1d(n_hidden)(hpreact[:1])
except ValueError as e:
    print(f"layers.BatchNorm1d in training mode: {e}")

# %% [markdown]
# The unbiased standard deviation of a single number is $0/0$, so the lecture's formula
# silently produces NaN, which would also poison the running averages. The library's
# `BatchNorm1d` layer (next section) refuses with a message that says what to do.
#
# ## The library's `BatchNorm1d` against `torch.nn.BatchNorm1d`
#
# Chapter 4 needs BatchNorm as a layer it can stack. `layers.BatchNorm1d` follows PyTorch
# rather than the MLP above in two ways: it adds $\epsilon = 10^{-5}$ under the square
# root, and it normalizes with the *biased* variance (divide by $m$), as the paper and
# `torch.nn.BatchNorm1d` do, while storing the unbiased one (divide by $m-1$) in its
# running average, which estimates the variance of the whole population. Its momentum is
# PyTorch's 0.1, which suits the short runs of chapter 4.

# %%
report.show_source(layers.BatchNorm1d.__call__)

# %% [markdown]
# Same inputs to both, five training batches (features with different offsets and
# scales), then one batch in eval mode, and the gradient with respect to the input:

# %%
gx = torch.Generator().manual_seed(settings.SEED)
ours, theirs = layers.BatchNorm1d(100), torch.nn.BatchNorm1d(100)   # eps 1e-5, momentum 0.1 in both
offset = 5 * torch.randn(100, generator=gx)                        # (100,)
scale = torch.rand(100, generator=gx) * 3 + 0.1                     # (100,)
batches = [torch.randn(32, 100, generator=gx) * scale + offset for _ in range(6)]  # 6 x (32, 100)

diff = lambda a, b: (a - b).abs().max().item()
rows = []
for x in batches[:5]:
    y_ours, y_theirs = ours(x), theirs(x)
rows.append(["train", "output (last batch)", diff(y_ours, y_theirs)])
rows.append(["train", "running_mean after 5 batches", diff(ours.running_mean, theirs.running_mean)])
rows.append(["train", "running_var after 5 batches", diff(ours.running_var, theirs.running_var)])

x = batches[4].clone().requires_grad_(True)
w = torch.randn(32, 100, generator=gx)                              # (32, 100) weights of a test loss
(ours(x) * w).sum().backward()
grad_ours, x.grad = x.grad, None
(theirs(x) * w).sum().backward()
rows.append(["train", "gradient w.r.t. the input", diff(grad_ours, x.grad)])

ours.training = False
theirs.eval()
rows.append(["eval", "output", diff(ours(batches[5]), theirs(batches[5]))])
lecture_way = (batches[4] - batches[4].mean(0)) / batches[4].std(0)  # unbiased std, no eps
rows.append(["train", "the lecture's formula against torch", diff(lecture_way, y_theirs)])
report.show_table(["mode", "compared", "max abs difference"], [[m, c, f"{d:.1e}"] for m, c, d in rows])

# %% [markdown]
# The layer agrees with PyTorch to float32 rounding in both modes, in its running
# statistics and in its gradient. The last row is the price of the unbiased standard
# deviation in training mode: outputs smaller by a factor $\sqrt{(m-1)/m} \approx 0.984$
# for $m = 32$, a difference of a few hundredths; harmless for training, but it means
# the lecture's formula is not a drop-in replacement for PyTorch's layer.
#
# ## What BatchNorm does to activations and gradients in a deep stack
#
# Chapter 2 showed that a linear layer with weights of standard deviation $s/\sqrt{n_{in}}$
# multiplies the standard deviation of its input by $s$:
#
# $$\mathrm{Var}(y_j) = \sum_{i=1}^{n_{in}} \mathrm{Var}(W_{ij})\,\mathrm{Var}(x_i) = s^2\,\mathrm{Var}(x).$$
#
# The backward pass is a multiplication by $W^\top$, so the gradient with respect to the
# input is multiplied by $s$ too (here $n_{in} = n_{out}$). Stack $L$ layers and the
# forward signal and the backward gradient both scale like $s^L$: they explode for $s > 1$
# and vanish for $s < 1$. After a BatchNorm the output has standard deviation $\gamma = 1$
# whatever $s$ is, and on the way back BatchNorm divides the gradient by the $\sigma_B$ it
# divided by on the way forward, which is $s$ times the input's; the two factors of $s$
# cancel. Below: $x$ of shape (1000, 100), eight layers of 100 without bias, the same
# weights rescaled by $s$, with and without a BatchNorm after each layer, and a test loss
# $\sum y \odot r$ with a fixed random $r$ so that the gradient arriving at the top has
# standard deviation 1.

# %%
def deep_stack(s: float, batchnorm: bool, depth: int = 8):
    """Forward and backward through `depth` x (Linear(100, 100) [-> BatchNorm1d]); per-layer stds."""
    gs = torch.Generator().manual_seed(settings.SEED)
    x = torch.randn(1000, 100, generator=gs).requires_grad_(True)   # (1000, 100)
    r = torch.randn(1000, 100, generator=gs)                        # (1000, 100)
    blocks = []
    for _ in range(depth):
        lin = layers.Linear(100, 100, bias=False, generator=gs)
        lin.weight *= s
        blocks.append([lin] + ([layers.BatchNorm1d(100)] if batchnorm else []))
    net = layers.Sequential([layer for block in blocks for layer in block])
    net.retain_grads = True
    for p in net.parameters():
        p.requires_grad_(True)
    (net(x) * r).sum().backward()
    inputs = [x] + [block[-1].out for block in blocks[:-1]]         # what enters each Linear
    return {"out": [b[-1].out.std().item() for b in blocks],
            "grad": [t.grad.std().item() for t in inputs],
            "wgrad": [b[0].weight.grad.std().item() for b in blocks]}


runs = {f"{'Linear + BatchNorm' if bn else 'Linear'}, s = {s}": deep_stack(s, bn)
        for bn in (False, True) for s in (0.5, 1.0, 2.0)}
log10 = lambda v: torch.tensor(v).log10().tolist()
plots.plot_layer_stats({"log10 std of the output": {k: log10(v["out"]) for k, v in runs.items()},
                        "log10 std of the input gradient": {k: log10(v["grad"]) for k, v in runs.items()},
                        "log10 std of the weight gradient": {k: log10(v["wgrad"]) for k, v in runs.items()}},
                       title="Eight stacked layers, weights N(0, 1) * s / sqrt(100)")
fmt = lambda v: " ".join(f"{t:.3g}" for t in v)
report.show_table(["stack", "output std, layers 1 to 8", "input-gradient std, layers 1 to 8"],
                  [[k, fmt(v["out"]), fmt(v["grad"])] for k, v in runs.items()])

# %% [markdown]
# Without BatchNorm only $s = 1$ keeps both signals at size 1; a factor of 2 either way
# becomes $2^8 = 256$ after eight layers, forwards and backwards, which is why deep networks
# needed exact initializations. With BatchNorm all three scales give outputs of standard
# deviation 1 and input gradients that stay the same size at every depth: the stack no
# longer cares about the scale of its weights.
#
# The third panel shows what remains of $s$: with BatchNorm the gradient of a weight
# matrix shrinks as $1/s$ when the weights grow by $s$, because the output does not depend
# on the weights' scale. The relative step $\mathrm{lr}\cdot|\nabla W| / |W|$ therefore
# falls as $1/s^2$: weights that grow large learn more slowly. Chapter 4 watches exactly
# this ratio, the update-to-data ratio, during training.
