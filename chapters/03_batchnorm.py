# %% [markdown]
# # Chapter 3: Batch normalization
#
# Chapter 2 brought the hidden pre-activations of the MLP into a healthy range by choosing
# the scale of `W1` by hand. That is one number to get right for one layer; in a deep
# network every layer's scale has to be right at once, and an error compounds layer
# after layer. Batch normalization (Ioffe and Szegedy, 2015) takes the direct route: if we
# want the pre-activations to be roughly unit Gaussian, standardize them. Standardizing is
# differentiable, so it can sit inside the network and be trained through.
#
# This chapter builds it in the open on chapter 2's MLP, switches to the library's finished
# version and trains it, and then looks at what BatchNorm costs (the examples of a batch are
# coupled, and inference needs fixed statistics), whether that coupling regularizes the
# network, how those fixed statistics let it be folded into the layer before it (the
# lecture's exercise E02), and what it buys (activations and gradients that keep their size
# whatever the scale of the weights).

# %% tags=["parameters"]
# This chapter's knobs at the book's values; a run of your own:
# python chapters/03_batchnorm.py --set n_hidden=100 lr=0.05   (papermill: -p n_hidden 100)
n_hidden = 200          # neurons in the hidden layer
lr = 0.1                # learning rate (a tenth of it for the second half)

# %%
import math
import time
import warnings

import torch
import torch.nn.functional as F

from makemore_lib import chapter, layers, lecture, models, plots, report, settings, train

S, D, claims = chapter.begin(globals())
decay_step = S.steps(100_000)
print(f"mode: {S.mode}; the BatchNorm MLP trains {S.max_steps:,} steps, "
      f"learning rate {lr:g}, then {lr / 10:g} from step {decay_step:,}")

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
mlp = models.MLP(D.vocab_size, n_hidden=n_hidden, init="original", generator=g)   # chapter 2's network, unfixed
C, W1, b1, W2, b2 = mlp.C, mlp.W1, mlp.b1, mlp.W2, mlp.b2

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


report.show_table(["", "per-neuron mean", "per-neuron std", "tanh saturated (|tanh| > 0.99)"],
                  [["hpreact", *describe(hpreact)], ["standardized", *describe(hnorm)]])
sat_pre, sat_norm = [(torch.tanh(t).abs() > 0.99).float().mean().item() for t in (hpreact, hnorm)]
off_unit = max(hnorm.mean(0).abs().max().item(), (hnorm.std(0) - 1).abs().max().item())
pre_means, pre_stds = hpreact.mean(0), hpreact.std(0)  # (200,), (200,)
report.publish("batchnorm/pre_mean_lo", pre_means.min().item(), ".1f")
report.publish("batchnorm/pre_mean_hi", pre_means.max().item(), ".1f")
report.publish("batchnorm/pre_std_lo", pre_stds.min().item(), ".1f")
report.publish("batchnorm/pre_std_hi", pre_stds.max().item(), ".1f")
report.publish("batchnorm/sat_pre", sat_pre, ".0%")
report.publish("batchnorm/sat_norm", sat_norm, ".1%")
report.publish("batchnorm/off_unit", off_unit, ".1e")

# %% [markdown]
# Before, the neurons' pre-activations sit at different offsets (means from
# {{ value batchnorm/pre_mean_lo }} to {{ value batchnorm/pre_mean_hi }}), with standard
# deviations of {{ value batchnorm/pre_std_lo }} to {{ value batchnorm/pre_std_hi }}, so
# {{ value batchnorm/sat_pre }} of the values land in the flat tails of tanh. After, every
# column has mean 0 and standard deviation 1 to within {{ value batchnorm/off_unit }}
# (rounding), and only {{ value batchnorm/sat_norm }} of the values saturate. No careful
# choice of `W1` was needed.

# %% tags=["remove-cell"]
claims.check("sit at different offsets", pre_means.max() - pre_means.min() > pre_stds.median(),
             f"means {pre_means.min():.2f} to {pre_means.max():.2f}, median std {pre_stds.median():.2f}")
claims.check("land in the flat tails of tanh", sat_pre > 0.5, f"saturated {sat_pre:.1%}")
claims.check("mean 0 and standard deviation 1 to within {{ value batchnorm/off_unit }} (rounding)",
             off_unit < 1e-5, f"largest deviation from mean 0 / std 1: {off_unit:.1e}")
claims.check("only {{ value batchnorm/sat_norm }} of the values saturate", sat_norm < 0.05,
             f"saturated {sat_pre:.1%} -> {sat_norm:.1%}")

# %% [markdown]
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
report.publish("batchnorm/hpre_min", hpreact.min().item(), ".1f")
report.publish("batchnorm/hpre_max", hpreact.max().item(), ".1f")
report.publish("batchnorm/hbn_absmax", math.ceil(10 * hpreact_bn.abs().max().item()) / 10, ".1f")

# %% [markdown]
# What to see: the raw pre-activations spread from {{ value batchnorm/hpre_min }} to
# {{ value batchnorm/hpre_max }}, far beyond tanh's working range of about $\pm 2$ on either
# side; after BatchNorm (still $\gamma = 1$, $\beta = 0$) they are one narrow unit Gaussian,
# none beyond {{ value batchnorm/hbn_absmax }}.

# %% tags=["remove-cell"]
claims.check("far beyond tanh's working range of about $\\pm 2$ on either side",
             hpreact.min() < -10 and hpreact.max() > 10, f"hpreact {hpreact.min():.1f} to {hpreact.max():.1f}")
claims.check("one narrow unit Gaussian", hpreact_bn.abs().max() < 5 and abs(hpreact_bn.std() - 1) < 0.02,
             f"after BatchNorm: max |value| {hpreact_bn.abs().max():.2f}, std {hpreact_bn.std():.4f}")

# %% [markdown]
# ## Why the first layer's bias becomes redundant
#
# Adding a constant $b_j$ to every example's $h_{ij}$ adds $b_j$ to the batch mean
# $\mu_j$ and leaves $\sigma_j$ unchanged, so it cancels in $h_{ij} - \mu_j$. Whatever
# `b1` is, the output is the same. By the same token its gradient is zero:
# $\partial L/\partial b_j = \sum_i \partial L/\partial h_{ij}$, and the gradient that
# BatchNorm passes back has zero sum over the batch in every column (a shift of the whole
# column is exactly the direction BatchNorm ignores). A scale $c > 0$ on `W1` cancels in
# the same way, through $\sigma_j$. The table below measures all three; the gradient is
# printed under it.

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
b1_grad, W1_grad = b1_leaf.grad.abs().max().item(), W1_leaf.grad.abs().max().item()
largest_change = max(r[1] for r in rows)
report.publish("batchnorm/bias_change", largest_change, ".1e")
report.publish("batchnorm/b1_grad", b1_grad, ".1e")
report.publish("batchnorm/W1_grad", W1_grad, ".2f")

# %% [markdown]
# No output moves by more than {{ value batchnorm/bias_change }}: float32 rounding, and the
# shift of 100 costs the most digits. The gradient of `b1` is at most
# {{ value batchnorm/b1_grad }}, zero up to rounding, while `W1`'s reaches
# {{ value batchnorm/W1_grad }}. A bias in front of a BatchNorm is a wasted parameter, so
# the lecture deletes `b1`; `b2`, after the hidden layer, stays.

# %% tags=["remove-cell"]
claims.check("No output moves by more than {{ value batchnorm/bias_change }}: float32 rounding",
             largest_change < 1e-4, f"changes {[f'{r[1]:.1e}' for r in rows]}")
claims.check("the shift of 100 costs the most digits", rows[1][1] == largest_change,
             f"changes {[f'{r[1]:.1e}' for r in rows]}")
claims.check("zero up to rounding, while `W1`'s reaches", b1_grad < 1e-4 * W1_grad,
             f"max |b1.grad| {b1_grad:.1e}, max |W1.grad| {W1_grad:.1e}")

# %% [markdown]
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
# remembers roughly the last $1/\alpha = 1000$ steps, a compromise between averaging out
# one batch's noise and following the weights as they move; a section below measures how
# close it gets.

# %%
g = torch.Generator().manual_seed(settings.SEED)
model = models.MLP(D.vocab_size, n_hidden=n_hidden, batchnorm=True, generator=g)
print(f"parameters: {sum(p.nelement() for p in model.parameters()):,} "
      f"({', '.join(f'{n} {tuple(p.shape)}' for n, p in model.named_parameters())})")

# %% [markdown]
# ## Training
#
# The lecture's optimization: minibatches of 32, learning rate 0.1, then 0.01 for the
# second half.

# %%
result = train.train(model, D.Xtr, D.Ytr, S.max_steps, g, lr=train.lr_schedule(lr, lr / 10, decay_step),
                     ud_every=None, log_every=S.max_steps // 10, desc="MLP + BatchNorm")
print(f"{result.steps:,} steps in {result.seconds:.1f} s ({1e6 * result.seconds / result.steps:.0f} us per step)")
plots.plot_loss({"MLP + BatchNorm": result.lossi}, title="Training loss, MLP with BatchNorm",
                window=S.steps(1_000), ylabel=f"log10(loss), mean of {S.steps(1_000):,} steps")
window = S.steps(5_000)                                 # 2.5% of training on either side of the drop
first, before, after_drop = (sum(result.lossi[a:a + window]) / window
                             for a in (0, decay_step - window, decay_step))
loss0, ln_vocab = 10 ** result.lossi[0], math.log(D.vocab_size)
report.publish("batchnorm/loss0", loss0, ".2f")
report.publish("batchnorm/ln_vocab", ln_vocab, ".2f")
report.publish("batchnorm/window", window, ",")
report.publish("batchnorm/decay_step", decay_step, ",")
report.publish("batchnorm/log_loss_first", first, ".3f")
report.publish("batchnorm/log_loss_before", before, ".3f")
report.publish("batchnorm/log_loss_after", after_drop, ".3f")

# %% [markdown]
# What to see: no hockey stick. The first minibatch's loss is {{ value batchnorm/loss0 }},
# already at $\ln V$ = {{ value batchnorm/ln_vocab }}, the loss of a network that knows
# nothing (BatchNorm fixes the hidden layer's scale, and `W2` starts small as in chapter 2).
# Averaged over {{ value batchnorm/window }} steps, the log10 loss falls from
# {{ value batchnorm/log_loss_first }} at the start to {{ value batchnorm/log_loss_before }}
# just before the learning rate drops at step {{ value batchnorm/decay_step }}.
# Just after the drop the average is {{ value batchnorm/log_loss_after }}: the lower
# learning rate shows as a step down in the curve.

# %% tags=["remove-cell"]
claims.check("already at $\\ln V$", abs(loss0 - ln_vocab) < 0.1, f"first loss {loss0:.4f}, ln V {ln_vocab:.4f}")
# first - before, native/avx2/default x 3 seeds: quick 0.083 to 0.087, full 0.044 to 0.046 (longer window)
claims.check("the log10 loss falls from", first - before > 0.02, f"mean log10 loss {first:.4f} -> {before:.4f}")
# full mode, native/avx2/default x seeds (the lecture's, 0, 1): step down 0.0105 to 0.0109 (quick: -0.001 to 0.010)
claims.check("the lower learning rate shows as a step down in the curve", before - after_drop > 0.005,
             f"mean log10 loss {before:.4f} before the drop, {after_drop:.4f} after", full_training=True)

# %% [markdown]
# ## Running estimates against a calibration
#
# The running averages are a by-product of training. The alternative is to calibrate after
# training: push the whole training set through the first layer once and take the exact
# mean and standard deviation of every hidden pre-activation
# (`model.calibrate`; every model with BatchNorm in the library answers it). Both estimate
# the same numbers; the running average is noisier, because it mixes batches of 32, and it
# lags, because it mixes weights from earlier steps.

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
start_weight = (1 - model.momentum) ** S.max_steps
report.publish("batchnorm/start_weight", start_weight, ".2g")
report.publish("batchnorm/steps", S.max_steps, ",")

# %% [markdown]
# Each dot is one neuron; on the diagonal the two estimates agree. The average starts from
# mean 0 and std 1, and after $T$ steps those starting values still carry weight
# $(1-\alpha)^T$, here {{ value batchnorm/start_weight }} after {{ value batchnorm/steps }}
# steps ($0.999^{200000} \approx e^{-200}$ after the lecture's 200,000 steps,
# $0.999^{2000} \approx e^{-2} \approx 0.14$ after a quick preview's 2,000).
# What is left after a long run is the noise of batches of 32, the lag behind the moving
# weights, and one small bias: the running std averages batch standard deviations, and the
# square root of an unbiased variance estimate is itself biased low, for Gaussian data by
# about $1/(4m) \approx 0.8\%$ for $m = 32$ (Jensen's inequality). The running average
# needs no extra pass over the data after training; it is what PyTorch's BatchNorm layers
# keep.

# %%
std_ratio = (bnstd_running / bnstd).median().item()
std_below = (bnstd_running < bnstd).float().mean().item()
mean_off = (bnmean_running - bnmean).abs().mean().item()
mean_typical = bnmean.abs().median().item()
val_gap = val_running - val_calibrated
report.publish("batchnorm/std_ratio", std_ratio, ".3f")
report.publish("batchnorm/std_below", std_below, ".0%")
report.publish("batchnorm/mean_off", mean_off, ".3f")
report.publish("batchnorm/mean_typical", mean_typical, ".2f")
report.publish("batchnorm/val_gap", abs(val_gap), ".4f")
report.publish("batchnorm/val_direction", "above" if val_gap > 0 else "below")

# %% [markdown]
# In this run the running std is below the calibrated one for {{ value batchnorm/std_below }}
# of the neurons, with a median ratio of {{ value batchnorm/std_ratio }}; after a long run the
# ratio sits just below 1, near the $1 - 1/(4m) \approx 0.992$ that the Jensen bias
# predicts. The running
# means are off by {{ value batchnorm/mean_off }} on average, a small part of a typical
# |mean| of {{ value batchnorm/mean_typical }}. Evaluated with the running estimates, the
# dev loss is {{ value batchnorm/val_gap }} {{ value batchnorm/val_direction }} the
# calibrated one: nearly the same.

# %% tags=["remove-cell"]
# full mode, native/avx2/default x seeds (the lecture's, 0, 1): median ratio 0.9896 to 0.9910
claims.check("after a long run the ratio sits just below 1, near the $1 - 1/(4m) \\approx 0.992$",
             std_ratio < 1 and abs((1 - std_ratio) - 1 / (4 * 32)) < 0.005,
             f"median ratio {std_ratio:.4f}, Jensen 1 - 1/(4m) = {1 - 1 / 128:.4f}, start weight {start_weight:.2g}",
             full_training=True)
# mean_off / mean_typical, native/avx2/default x 3 seeds: quick 0.17 to 0.19, full 0.011 to 0.021
claims.check("a small part of a typical", mean_off < mean_typical / 3,
             f"mean |running - calibrated| {mean_off:.4f}, median |mean| {mean_typical:.4f}")
# |val_gap|, native/avx2/default x 3 seeds: quick 0.0004 to 0.0022, full 0.00004 to 0.0004
claims.check("nearly the same", abs(val_gap) < 0.01, f"val running {val_running:.4f}, calibrated {val_calibrated:.4f}")

# %% [markdown]
# We report the run as the lecture does, evaluated with the running estimates, and
# restore them before sampling.

# %%
model.bnmean_running, model.bnstd_running = bnmean_running, bnstd_running
report.record_run("MLP with BatchNorm", S.max_steps, train_running, val_running, key="mlp/batchnorm")
report.publish("batchnorm/lecture_kaiming_val", lecture.RESULTS["mlp/kaiming"][2], ".4f")
names = train.sample(model, D.itos, D.block_size, 20, generator=torch.Generator().manual_seed(settings.SAMPLE_SEED))
print(" ".join(names))

# %% [markdown]
# In the lecture, on its own word list, the BatchNorm MLP reached val
# {{ value mlp/batchnorm.lecture_val }}, against {{ value batchnorm/lecture_kaiming_val }}
# for chapter 2's Kaiming-initialized MLP; the results page lists our runs of both. What
# BatchNorm removes is the care of choosing the scale: the first section standardized a
# badly initialized layer without touching `W1`.
#
# ## Inference on one example
#
# In eval mode the model uses the stored statistics, so each example's output depends on
# that example alone. In training mode the output of an example depends on the other 31
# in its batch, and a batch of one has no spread to divide by. All three, on the trained
# model:

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
alone_diff = (logits1 - logits_batch[:1]).abs().max().item()

with torch.no_grad():                           # training mode: the same context in two batches of 32
    saved = model.bnmean_running, model.bnstd_running
    in_a = model(D.Xdev[:32])[0]                                   # (27,)
    in_b = model(torch.cat([D.Xdev[:1], D.Xdev[32:63]]))[0]        # (27,)
    model.bnmean_running, model.bnstd_running = saved             # undo the two running updates
batch_diff = (in_a - in_b).abs().max().item()
report.publish("batchnorm/alone_diff", alone_diff, ".1e")
report.publish("batchnorm/batch_diff", batch_diff, ".2f")

with torch.no_grad():
    hpreact_one = model.hidden_preact(D.Xdev[:1])                 # (1, 200)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")             # torch warns that one example has no degrees of freedom
    std_of_one = hpreact_one.std(0)             # (200,)
print(f"the lecture's formula on a batch of one: std = {std_of_one[:4].tolist()} ...")
refused = False
try:
    layers.BatchNorm1d(n_hidden)(hpreact_one)
except ValueError as e:
    refused = True
    print(f"layers.BatchNorm1d in training mode: {e}")

# %% [markdown]
# In eval mode one context gives the same logits alone or inside a batch of 1000 (they
# differ by at most {{ value batchnorm/alone_diff }}, rounding). In training mode the same
# example, in two batches of 32 whose other 31 examples differ, gets logits that differ by
# up to {{ value batchnorm/batch_diff }}.
#
# The unbiased standard deviation of a single number is $0/0$, so the lecture's formula
# silently produces NaN. The library's `BatchNorm1d` layer (the section after next)
# refuses with a message that says what to do.

# %% tags=["remove-cell"]
claims.check("one context gives the same logits alone or inside a batch of 1000", alone_diff < 1e-4,
             f"max abs difference {alone_diff:.1e}")
claims.check("gets logits that differ by up to", batch_diff > 0.01, f"max abs difference {batch_diff:.3f}")
claims.check("the lecture's formula silently produces NaN", bool(std_of_one.isnan().all()),
             f"{std_of_one.isnan().sum().item()} of {n_hidden} stds are NaN")
claims.check("refuses with a message", refused, "layers.BatchNorm1d on a batch of one")

# %% [markdown]
# Learners who write the running update themselves often meet NaN in their running
# statistics and blame the shape: `bnmeani` taken with `keepdim=True` has shape
# `(1, n_hidden)`, and `running = 0.999 * running + 0.001 * bnmeani` silently turns a
# `(n_hidden,)` buffer into `(1, n_hidden)`. Both suspects, on this trained model: ten
# updates from training batches with each shape, then one update from a batch of one, and
# one more from a training batch after it.

# %%
def eval_logits(hpre, mean, std):
    """The model's eval-mode forward pass from its first layer's output, with given statistics."""
    bngain, bnbias, W2, b2 = (t.to(hpre.dtype) for t in (model.bngain, model.bnbias, model.W2, model.b2))
    return torch.tanh(bngain * (hpre - mean) / std + bnbias) @ W2 + b2  # (N, 27)


with torch.no_grad():
    hpre = model.hidden_preact(D.Xtr[:352])                     # (352, 200)
    flat = [model.bnmean_running.clone(), model.bnstd_running.clone()]   # 2 x (200,)
    keep = [t.clone() for t in flat]
    for batch in hpre[:320].split(32):                          # 10 x (32, 200)
        flat = [0.999 * r + 0.001 * b for r, b in zip(flat, (batch.mean(0), batch.std(0)))]
        keep = [0.999 * r + 0.001 * b for r, b in zip(keep, (batch.mean(0, keepdim=True),
                                                             batch.std(0, keepdim=True)))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                         # the degrees-of-freedom warning again
        one = [0.999 * r + 0.001 * b for r, b in zip(flat, (hpre[:1].mean(0), hpre[:1].std(0)))]
    later = [0.999 * r + 0.001 * b for r, b in zip(one, (hpre[320:].mean(0), hpre[320:].std(0)))]
    shape_diff = (eval_logits(hpre, *flat) - eval_logits(hpre, *keep)).abs().max().item()
    nan_share = eval_logits(hpre, *one).isnan().float().mean().item()
    nan_share_later = eval_logits(hpre, *later).isnan().float().mean().item()
nan_stds = one[1].isnan().sum().item()
report.publish("batchnorm/keepdim_shape", str(tuple(keep[0].shape)))
report.publish("batchnorm/flat_shape", str(tuple(flat[0].shape)))
report.publish("batchnorm/shape_diff", "exactly 0" if shape_diff == 0 else f"{shape_diff:.1e}")
report.publish("batchnorm/nan_stds", nan_stds)
report.publish("batchnorm/n_hidden", n_hidden)
report.publish("batchnorm/nan_share", nan_share, ".0%")

# %% [markdown]
# After the keepdim updates the buffers have shape {{ value batchnorm/keepdim_shape }}
# instead of {{ value batchnorm/flat_shape }}, and the eval-mode logits differ from the right
# ones by {{ value batchnorm/shape_diff }}: broadcasting makes the shape harmless. After one
# update from a batch of one, {{ value batchnorm/nan_stds }} of the
# {{ value batchnorm/n_hidden }} running stds are NaN and so are
# {{ value batchnorm/nan_share }} of the eval-mode logits, for good: the next update mixes
# the NaN back in. The NaN comes from the batch of one (a training-mode forward pass while
# sampling, for example), not from the shape.

# %% tags=["remove-cell"]
claims.check("broadcasting makes the shape harmless", tuple(keep[0].shape) == (1, n_hidden) and shape_diff < 1e-5,
             f"shape {tuple(keep[0].shape)}, logit difference {shape_diff:.1e}")
claims.check("for good: the next update mixes the NaN back in", nan_share == 1.0 and nan_share_later == 1.0,
             f"NaN share after the batch of one {nan_share:.0%}, after the next update {nan_share_later:.0%}")

# %% [markdown]
# ## Does the batch jitter regularize?
#
# The lecture, like Ioffe and Szegedy's paper, credits the jitter measured above with a
# side effect: an example's hidden values move a little with the other 31 examples of its
# batch, a noise (a kind of data augmentation) that makes the training examples harder to
# fit exactly, so BatchNorm acts as a mild regularizer. A regularizer shows as a higher
# training loss and a smaller gap between the dev loss and the training loss; whether it
# helps shows in the dev loss. Measuring it takes the same network trained with everything
# BatchNorm does except the jitter.
#
# Fixed statistics, recalibrated on many examples every $K$ steps, would remove the jitter
# but also the gradient through $\mu_B$ and $\sigma_B$: between two calibrations the
# normalization would be a fixed scale and shift, no longer blind to a shift or a scale of
# each pre-activation (the section on `b1`), and it would lag behind the moving weights.
# Statistics of a larger batch, taken afresh at every step with the gradient flowing
# through them, keep both and cut only the noise. At every step the 32 examples of the
# minibatch and 992 more drawn at random from the training set, 1,024 in all, are
# standardized together, and the loss is still the mean over the 32; the standard error of
# the statistics shrinks by $\sqrt{1024/32} \approx 5.7$. The two runs of a pair share
# their seed, hence their initial weights and their minibatches, and their learning rates:
# they differ only in how many examples $\mu_B$ and $\sigma_B$ are taken over.
#
# The statistics do not need the $1024 \times 200$ pre-activations: `hpreact = embcat @ W1`
# is linear in `embcat`, so its batch mean is $\bar e\, W_1$ and its batch variances are the
# diagonal of $W_1^\top \Sigma\, W_1$, where $\bar e$ and $\Sigma$ are the mean and the
# $30 \times 30$ covariance of `embcat` over the batch. Both kinds of run use the same step:

# %%
def batch_stats(model, embcat):
    """hpreact.mean(0), hpreact.std(0) of hpreact = embcat @ W1, from embcat's mean and covariance."""
    emean = embcat.mean(0)                                                   # (30,)
    ecov = (embcat - emean).T @ (embcat - emean) / (embcat.shape[0] - 1)     # (30, 30) unbiased, as std
    return emean @ model.W1, ((ecov @ model.W1) * model.W1).sum(0).sqrt()    # (200,), (200,)


def stats_step(model, n_stats, generator):
    """The backward step of train.train for the BatchNorm MLP: the loss of the minibatch, normalized
    with the statistics of the minibatch and n_stats - 32 more examples drawn from `generator`."""
    def step(i, Xb, Yb, grad):
        extra = torch.randint(0, D.Xtr.shape[0], (n_stats - Xb.shape[0],), generator=generator)
        _, embcat = layers.embed(model.C, torch.cat([Xb, D.Xtr[extra]]))    # (n_stats, 30)
        bnmeani, bnstdi = batch_stats(model, embcat)                        # (200,), (200,)
        hpreact = embcat[:Xb.shape[0]] @ model.W1                           # (32, 200)
        h = torch.tanh(model.bngain * (hpreact - bnmeani) / bnstdi + model.bnbias)  # (32, 200)
        loss = F.cross_entropy(h @ model.W2 + model.b2, Yb)
        grad.zero_()
        loss.backward()
        return loss
    return step


# the identity, on 1,024 training examples and the trained model
with torch.no_grad():
    _, embcat_1024 = layers.embed(model.C, D.Xtr[:1024])                    # (1024, 30)
    hpre_1024 = embcat_1024 @ model.W1                                      # (1024, 200)
    stats_cov = batch_stats(model, embcat_1024)                              # (200,), (200,)
    stats_direct = hpre_1024.mean(0), hpre_1024.std(0)                       # (200,), (200,)
    stats_diff = max(((a - b).abs() / hpre_1024.std(0)).max().item() for a, b in zip(stats_cov, stats_direct))
report.publish("batchnorm/stats_diff", stats_diff, ".1e")

# %% [markdown]
# On 1,024 training examples the two ways of computing the statistics agree to
# {{ value batchnorm/stats_diff }} of each neuron's standard deviation, float32 rounding.
#
# To keep the chapter affordable, this experiment has its own, shorter budget: 15% of a
# full run in either mode, {{ value batchnorm/reg_steps }} steps here
# ({{ value batchnorm/reg_epochs }} passes over the training set), with the learning rate
# dropping to 0.01 halfway, for two seeds. Each run is evaluated in eval mode with
# statistics calibrated on the whole training set, so that running averages of batches of
# different sizes play no part.

# %% tags=["remove-cell"]
claims.check("agree to {{ value batchnorm/stats_diff }} of each neuron's standard deviation, float32 rounding",
             stats_diff < 1e-4, f"largest difference {stats_diff:.1e} of the neuron's std")

# %%
reg_steps = S.steps(30_000)
REG_SEEDS = (settings.SEED, 0)
reg_runs, reg_states = {}, {}          # (seed, n_stats) -> (train loss, dev loss), generator state
for seed in REG_SEEDS:
    for n_stats in (32, 1024):
        g_reg = torch.Generator().manual_seed(seed)
        net = models.MLP(D.vocab_size, n_hidden=n_hidden, batchnorm=True, generator=g_reg)
        g_extra = torch.Generator().manual_seed(seed + 1)
        train.train(net, D.Xtr, D.Ytr, reg_steps, g_reg, lr=train.lr_schedule(lr, lr / 10, reg_steps // 2),
                    ud_every=None, step=stats_step(net, n_stats, g_extra),
                    desc=f"statistics over {n_stats:,}")
        reg_states[seed, n_stats] = g_reg.get_state()
        net.calibrate(D.Xtr)                    # eval-mode statistics of the whole training set
        reg_runs[seed, n_stats] = train.split_loss(net, D.Xtr, D.Ytr), train.split_loss(net, D.Xdev, D.Ydev)

rows = []
for (seed, n_stats), (tr, va) in reg_runs.items():
    report.record_run(f"BatchNorm statistics over {n_stats:,} examples, seed {seed}", reg_steps, tr, va)
    over = "the minibatch's 32" if n_stats == 32 else f"{n_stats:,} (the 32 and {n_stats - 32:,} more)"
    rows.append([seed, over, tr, va, va - tr])
report.show_table(["seed", "statistics over", "train loss", "dev loss", "gap (dev - train)"], rows)
jitter = {seed: [a - b for a, b in zip(reg_runs[seed, 32], reg_runs[seed, 1024])] for seed in REG_SEEDS}
train_cost = [d[0] for d in jitter.values()]    # train loss with the jitter minus without
dev_cost = [d[1] for d in jitter.values()]      # dev loss with the jitter minus without
narrowing = [d[0] - d[1] for d in jitter.values()]   # gap without the jitter minus gap with it
fmt4 = lambda values: ", ".join(f"{v:.4f}" for v in values)
report.publish("batchnorm/reg_steps", reg_steps, ",")
report.publish("batchnorm/reg_epochs", reg_steps * 32 / D.Xtr.shape[0], ".2g")
report.publish("batchnorm/reg_train_lo", min(train_cost), ".4f")
report.publish("batchnorm/reg_train_hi", max(train_cost), ".4f")
report.publish("batchnorm/reg_dev_lo", min(dev_cost), ".4f")
report.publish("batchnorm/reg_dev_hi", max(dev_cost), ".4f")
report.publish("batchnorm/reg_gap_lo", min(narrowing), ".4f")
report.publish("batchnorm/reg_gap_hi", max(narrowing), ".4f")

# %% [markdown]
# Both runs of each pair drew the same initial weights and the same minibatches (their
# generators end in the same state). With the jitter (statistics over the 32), in both
# seeds, the training loss ends {{ value batchnorm/reg_train_lo }} to
# {{ value batchnorm/reg_train_hi }} higher than with statistics over 1,024, and the dev
# loss {{ value batchnorm/reg_dev_lo }} to {{ value batchnorm/reg_dev_hi }} higher. The gap
# narrows by {{ value batchnorm/reg_gap_lo }} to {{ value batchnorm/reg_gap_hi }}: at this
# budget the jitter regularizes measurably but mildly, and it raises the training loss by
# more than it narrows the gap, so it does not lower the dev loss. Whether it pays off over
# the lecture's 200,000 steps this chapter does not measure.

# %% tags=["remove-cell"]
# measured over avx512/avx2/default x seeds (the lecture's, 0, 1), quick (300 steps) and full (30,000);
# the three kernel sets agree to 1e-5 (BatchNorm at lr 0.1 is not chaotic), so the spread is the seeds'.
claims.check("drew the same initial weights and the same minibatches",
             all(torch.equal(reg_states[seed, 32], reg_states[seed, 1024]) for seed in REG_SEEDS),
             "generator states after training")
# train cost: quick 0.0023 ... 0.0044, full 0.0095 ... 0.0107; bound 0.001
claims.check("the training loss ends {{ value batchnorm/reg_train_lo }} to", min(train_cost) > 0.001,
             f"train with minus without the jitter: {fmt4(train_cost)}")
# dev cost: quick 0.0023 ... 0.0037, full 0.0063 ... 0.0082; bound 0.001
claims.check("and the dev loss {{ value batchnorm/reg_dev_lo }} to", min(dev_cost) > 0.001,
             f"dev with minus without the jitter: {fmt4(dev_cost)}")
# gap narrowing: quick -0.0005 ... 0.0007 (0.05 passes over the data: nothing to regularize yet; 2,000
# steps give -0.0005 ... 0.0003 too), full 0.0024 ... 0.0036; bound 0.001.
# narrowing / gap without the jitter, full: 0.086 ... 0.138; bound 0.25 ("mildly")
claims.check("the jitter regularizes measurably but mildly",
             min(narrowing) > 0.001 and all(n < 0.25 * (reg_runs[s, 1024][1] - reg_runs[s, 1024][0])
                                            for s, n in zip(REG_SEEDS, narrowing)),
             f"gap narrowing {fmt4(narrowing)}; gaps without the jitter "
             f"{fmt4([reg_runs[s, 1024][1] - reg_runs[s, 1024][0] for s in REG_SEEDS])}", full_training=True)
# train cost minus narrowing = dev cost: quick 0.0023 ... 0.0037, full 0.0063 ... 0.0082; bound 0
claims.check("it raises the training loss by more than it narrows the gap, so it does not lower the dev loss",
             all(t > n for t, n in zip(train_cost, narrowing)),
             f"train cost {fmt4(train_cost)}, gap narrowing {fmt4(narrowing)}")

# %% [markdown]
# ## Folding BatchNorm into the first layer (exercise E02)
#
# In eval mode BatchNorm no longer looks at the batch: with fixed $\bar\mu$, $\bar\sigma$
# it is a fixed scale and shift of each neuron, and a linear layer followed by a fixed
# affine map is one linear layer. With $s_j = \gamma_j / \bar\sigma_j$,
#
# $$\gamma_j \frac{(xW)_j - \bar\mu_j}{\bar\sigma_j} + \beta_j
#   = \big(x\,W'\big)_j + b'_j, \qquad W'_{ij} = W_{ij}\,s_j, \qquad
#   b'_j = \beta_j - \bar\mu_j\,s_j ,$$
#
# so after training the BatchNorm can be folded into `W1` and a new `b1`, and inference
# runs chapter 2's plain MLP. This is the lecture's exercise E02. LayerNorm cannot be
# folded this way: its statistics belong to each example and change with the input.
# The library does it once, for any linear map and fixed statistics, and `MLP.folded`
# uses it:

# %%
report.show_source(layers.fold_affine)
report.show_source(models.MLP.folded)

# %%
model.eval()
plain = model.folded()                           # chapter 2's MLP: C, W1', b1', W2, b2
with torch.no_grad():
    logits_bn = model(D.Xdev)                    # (N_dev, 27)
    logits_folded = plain(D.Xdev)                # (N_dev, 27)
    hpre_64 = layers.embed(model.C.double(), D.Xdev)[1] @ model.W1.double()   # (N_dev, 200)
    logits_64 = eval_logits(hpre_64, model.bnmean_running.double(), model.bnstd_running.double())  # float64
fold_diff = (logits_folded - logits_bn).abs().max().item()
rounding = (logits_bn.double() - logits_64).abs().max().item()
print(f"largest |logit| {logits_bn.abs().max().item():.1f}")
report.publish("batchnorm/fold_diff", fold_diff, fmt=".1e")
report.publish("batchnorm/rounding", rounding, fmt=".1e")

# %% [markdown]
# The folded network's logits differ from the unfolded one's by at most
# {{ value batchnorm/fold_diff }}. For scale, the unfolded float32 logits differ from a
# float64 evaluation of the same network by up to {{ value batchnorm/rounding }}: the fold
# changes the logits only by float32 rounding.

# %% tags=["remove-cell"]
# fold_diff / rounding, trained model, native/avx2/default x 3 seeds: 0.7 to 1.7 (quick and full)
claims.check("the fold changes the logits only by float32 rounding",
             fold_diff < 1e-4 and fold_diff < 20 * max(rounding, 1e-7),
             f"folded vs unfolded {fold_diff:.1e}; float32 vs float64 {rounding:.1e}")

# %% [markdown]
# What folding saves at inference is three elementwise operations on the `(N, 200)`
# pre-activations: BatchNorm in eval mode subtracts, divides, multiplies and adds, the
# folded layer only adds `b1'`. The embedding lookup, the two matrix products and the tanh
# are the same in both. Timed on the whole dev set, alternating the two versions over
# several rounds and keeping each one's fastest (the round least disturbed by the rest of
# a shared machine):

# %%
def seconds(net, repeat=1):
    """Wall time of `repeat` eval-mode forward passes over the dev set, per pass."""
    with torch.no_grad():
        started = time.perf_counter()
        for _ in range(repeat):
            net(D.Xdev)
        return (time.perf_counter() - started) / repeat


rounds = 20
times = {"with BatchNorm": [], "folded": []}
for r in range(rounds):
    for name, net in ((("with BatchNorm", model), ("folded", plain))[::1 if r % 2 else -1]):
        times[name].append(seconds(net))
t_bn, t_folded = min(times["with BatchNorm"]), min(times["folded"])
model.train()
report.show_table(["dev-set inference", f"fastest of {rounds} rounds, ms per pass"],
                  [["with BatchNorm (eval mode)", f"{1e3 * t_bn:.2f}"], ["folded", f"{1e3 * t_folded:.2f}"]])
report.publish("batchnorm/time_ratio", t_folded / t_bn, ".2f")
report.publish("batchnorm/dev_examples", len(D.Xdev), ",")

# %% [markdown]
# On this run the folded network took {{ value batchnorm/time_ratio }} times the time of
# the unfolded one on the {{ value batchnorm/dev_examples }} dev examples.
#
# ## The library's BatchNorm1d against torch.nn.BatchNorm1d
#
# Chapter 4 needs BatchNorm as a layer it can stack. `layers.BatchNorm1d` follows PyTorch
# rather than the MLP above in two ways: it adds $\epsilon = 10^{-5}$ under the square
# root, and it normalizes with the *biased* variance (divide by $m$), as the paper and
# `torch.nn.BatchNorm1d` do, while storing the unbiased one (divide by $m-1$) in its
# running average, which estimates the variance of the whole population. Its momentum is
# PyTorch's 0.1.

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
ours_vs_torch = max(d for _, _, d in rows[:-1])
factor = ((32 - 1) / 32) ** 0.5
report.publish("batchnorm/vs_torch", ours_vs_torch, ".1e")
report.publish("batchnorm/unbiased_factor", factor, ".3f")
report.publish("batchnorm/lecture_vs_torch", rows[-1][2], ".3f")

# %% [markdown]
# In the first five rows the layer agrees with PyTorch to float32 rounding (at most
# {{ value batchnorm/vs_torch }}), in both modes, in its running statistics and in its
# gradient. The last row is the price of the unbiased standard deviation in training mode:
# outputs smaller by a factor $\sqrt{(m-1)/m}$ = {{ value batchnorm/unbiased_factor }} for
# $m = 32$, here a difference of up to {{ value batchnorm/lecture_vs_torch }}. A constant
# factor is one the learnable gain $\gamma$ can take up, but it means the lecture's formula
# is not a drop-in replacement for PyTorch's layer.

# %% tags=["remove-cell"]
claims.check("the layer agrees with PyTorch to float32 rounding", ours_vs_torch < 1e-4,
             f"largest difference {ours_vs_torch:.1e}")
claims.check("outputs smaller by a factor", (lecture_way - factor * y_theirs).abs().max() < 0.1 * rows[-1][2],
             f"max |lecture - factor * torch| {(lecture_way - factor * y_theirs).abs().max():.1e}, "
             f"max |lecture - torch| {rows[-1][2]:.4f}")

# %% [markdown]
# The same fold works for the layer classes that chapter 4 stacks: `layers.fold` turns a
# `Linear` followed by a `BatchNorm1d` into one `Linear`, with
# $\bar\sigma = \sqrt{\text{running\_var} + \epsilon}$. On a pair whose BatchNorm has
# seen five training batches:

# %%
lin, bn = layers.Linear(100, 100, generator=gx), layers.BatchNorm1d(100)
for x in batches[:5]:
    bn(lin(x))
bn.training = False
layer_fold_diff = diff(layers.fold(lin, bn)(batches[5]), bn(lin(batches[5])))
report.publish("batchnorm/layer_fold_diff", layer_fold_diff, ".1e")

# %% [markdown]
# In eval mode the folded `Linear` equals the pair up to {{ value batchnorm/layer_fold_diff }},
# float32 rounding.

# %% tags=["remove-cell"]
claims.check("the folded `Linear` equals the pair", layer_fold_diff < 1e-4, f"{layer_fold_diff:.1e}")

# %% [markdown]
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

# %%
plain_runs = {s: runs[f"Linear, s = {s}"] for s in (0.5, 1.0, 2.0)}
bn_runs = {s: runs[f"Linear + BatchNorm, s = {s}"] for s in (0.5, 1.0, 2.0)}
bn_out = [v for r in bn_runs.values() for v in r["out"]]
bn_grad = [v for r in bn_runs.values() for v in r["grad"]]
bn_out_off = max(abs(v - 1) for v in bn_out)
# the same weights rescaled: without BatchNorm the stack is linear, so layer 8 scales exactly as s^8
scaling = {s: plain_runs[s][k][i] / plain_runs[1.0][k][i] / s**8
           for s in (0.5, 2.0) for k, i in (("out", -1), ("grad", 0))}
unit = lambda v: 0.5 < v < 2
report.publish("batchnorm/plain_out_1", plain_runs[1.0]["out"][-1], ".2f")
report.publish("batchnorm/plain_out_05", plain_runs[0.5]["out"][-1], ".4f")
report.publish("batchnorm/plain_out_2", plain_runs[2.0]["out"][-1], ".0f")
report.publish("batchnorm/bn_out_off", bn_out_off, ".1e")
report.publish("batchnorm/bn_grad_lo", min(bn_grad), ".2f")
report.publish("batchnorm/bn_grad_hi", max(bn_grad), ".2f")

# %% [markdown]
# What to see: without BatchNorm only $s = 1$ keeps both signals near size 1 (output std
# {{ value batchnorm/plain_out_1 }} after eight layers); $s = 0.5$ ends at
# {{ value batchnorm/plain_out_05 }} and $s = 2$ at {{ value batchnorm/plain_out_2 }}, the
# $2^{\pm 8}$ of eight layers, and the input gradients scale the same way, so without
# BatchNorm a deep stack needs its initial scale exactly right. With BatchNorm all three
# scales give outputs of standard deviation 1 (to within {{ value batchnorm/bn_out_off }})
# and input gradients between {{ value batchnorm/bn_grad_lo }} and
# {{ value batchnorm/bn_grad_hi }} at every depth: the stack no longer cares about the
# scale of its weights.

# %% tags=["remove-cell"]
claims.check("only $s = 1$ keeps both signals near size 1",
             all(unit(v) for v in plain_runs[1.0]["out"] + plain_runs[1.0]["grad"])
             and not unit(plain_runs[0.5]["out"][-1]) and not unit(plain_runs[2.0]["out"][-1]),
             "outputs at layer 8: " + ", ".join(f"s={s}: {r['out'][-1]:.3g}" for s, r in plain_runs.items()))
claims.check("the $2^{\\pm 8}$ of eight layers, and the input gradients scale the same way",
             all(abs(v - 1) < 1e-3 for v in scaling.values()), f"(std at s / std at s = 1) / s^8: {scaling}")
claims.check("all three scales give outputs of standard deviation 1", bn_out_off < 0.01,
             f"BatchNorm output stds {min(bn_out):.5f} to {max(bn_out):.5f}")
claims.check("the stack no longer cares about the scale of its weights",
             all(unit(v) for v in bn_grad) and all(abs(bn_runs[s]["grad"][i] / bn_runs[1.0]["grad"][i] - 1) < 0.01
                                                 for s in (0.5, 2.0) for i in range(8)),
             "input-gradient stds with BatchNorm: " + "; ".join(f"s={s}: {fmt(r['grad'])}" for s, r in bn_runs.items()))

# %%
wgrad_ratio = {s: bn_runs[s]["wgrad"][0] / bn_runs[1.0]["wgrad"][0] for s in (0.5, 2.0)}
report.publish("batchnorm/wgrad_ratio_2", wgrad_ratio[2.0], ".3f")
report.publish("batchnorm/wgrad_ratio_05", wgrad_ratio[0.5], ".3f")

# %% [markdown]
# The third panel shows what remains of $s$: with BatchNorm the gradient of a weight matrix
# shrinks as $1/s$ when the weights grow by $s$ (first layer: {{ value batchnorm/wgrad_ratio_2 }}
# times the $s = 1$ gradient at $s = 2$, {{ value batchnorm/wgrad_ratio_05 }} times at
# $s = 0.5$), because the output does not depend on the weights' scale. The relative step
# $\mathrm{lr}\cdot|\nabla W| / |W|$ therefore falls as $1/s^2$: weights that grow large
# learn more slowly. Chapter 4 watches exactly this ratio, the update-to-data ratio, during
# training.

# %% tags=["remove-cell"]
claims.check("shrinks as $1/s$ when the weights grow by $s$",
             abs(2 * wgrad_ratio[2.0] - 1) < 1e-3 and abs(wgrad_ratio[0.5] / 2 - 1) < 1e-3,
             f"weight-gradient ratios {wgrad_ratio}")

# %% [markdown]
# ## Why BatchNorm helps: covariate shift or a smoother loss?
#
# Ioffe and Szegedy introduced BatchNorm (arXiv:1502.03167, 2015) to reduce what they
# called *internal covariate shift*: while the weights of early layers change, the
# distribution of the inputs every later layer sees changes with them, and each layer
# keeps chasing a moving target. Fixing each layer's input to mean 0 and standard
# deviation 1 was meant to stop the chase. Santurkar, Tsipras, Ilyas and Madry ("How Does
# Batch Normalization Help Optimization?", arXiv:1805.11604, 2018) tested that
# explanation: injecting random, time-varying shifts and scales *after* each BatchNorm,
# which restores the covariate shift on purpose, left training almost as fast as with
# plain BatchNorm, far ahead of the network without it. What they measured instead is a
# smoother loss: with BatchNorm the loss and its gradient change less along the
# gradient direction, so larger steps stay safe. The experiment above shows one ingredient
# on a small scale: the forward and backward signals no longer depend on the weights'
# scale, and what is left of the scale is the size of each weight's relative step. Chapter
# 4 watches the same quantities during training.
#
# ## What this chapter showed
#
# - **Standardizing works without tuning.** On the badly initialized network,
#   {{ value batchnorm/sat_pre }} of one batch's hidden values were saturated; standardized,
#   {{ value batchnorm/sat_norm }}, with no change to `W1`.
# - **Training.** The BatchNorm MLP reached train {{ value mlp/batchnorm.train }}, val
#   {{ value mlp/batchnorm.val }} in {{ value mlp/batchnorm.steps }} steps with its running
#   statistics; calibrated on the whole training set they give val
#   {{ value batchnorm/val_calibrated }}.
# - **Inference.** The running statistics make eval mode independent of the batch, and let
#   the BatchNorm be folded into `W1` (exercise E02): the folded network's logits differ by
#   {{ value batchnorm/fold_diff }}, and it ran in {{ value batchnorm/time_ratio }} times
#   the unfolded one's time. The NaN learners meet comes from a training-mode batch of one,
#   not from the running statistics' shape.
# - **The batch jitter as a regularizer.** In runs of {{ value batchnorm/reg_steps }} steps,
#   statistics over the minibatch's 32 examples instead of 1,024 narrowed the train/val gap
#   by {{ value batchnorm/reg_gap_lo }} to {{ value batchnorm/reg_gap_hi }} and left the dev
#   loss {{ value batchnorm/reg_dev_lo }} to {{ value batchnorm/reg_dev_hi }} higher.
# - **A deep stack.** In eight stacked layers BatchNorm keeps every layer's output at std 1
#   (to within {{ value batchnorm/bn_out_off }}) for weight scales 0.5, 1 and 2, where
#   without it the output std after eight layers ranges from
#   {{ value batchnorm/plain_out_05 }} to {{ value batchnorm/plain_out_2 }}.

# %% tags=["remove-cell"]
claims.check("Standardizing works without tuning", sat_pre > 0.5 > 0.05 > sat_norm, f"{sat_pre:.1%} -> {sat_norm:.1%}")
claims.check("make eval mode independent of the batch", alone_diff < 1e-4, f"alone vs in a batch {alone_diff:.1e}")
claims.check("the folded network's logits differ by", fold_diff < 1e-4, f"fold {fold_diff:.1e}")
claims.check("comes from a training-mode batch of one, not from the running statistics' shape",
             nan_share == 1.0 and shape_diff < 1e-5, f"NaN share {nan_share:.0%}, shape difference {shape_diff:.1e}")
# the bounds of the section on the batch jitter, and the spread measured there
claims.check("narrowed the train/val gap", min(narrowing) > 0.001, f"gap narrowing {fmt4(narrowing)}", full_training=True)
claims.check("left the dev loss", min(dev_cost) > 0.001, f"dev with minus without the jitter: {fmt4(dev_cost)}")
claims.check("BatchNorm keeps every layer's output at std 1", bn_out_off < 0.01,
             f"BatchNorm output stds {min(bn_out):.5f} to {max(bn_out):.5f}")
