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
# coupled, and inference needs fixed statistics), how those fixed statistics let it be folded
# into the layer before it (the lecture's exercise E02), and what it buys (activations and
# gradients that keep their size whatever the scale of the weights).

# %%
import time
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
sat_pre, sat_norm = [(torch.tanh(t).abs() > 0.99).float().mean().item() for t in (hpreact, hnorm)]
off_unit = max(hnorm.mean(0).abs().max().item(), (hnorm.std(0) - 1).abs().max().item())
claims.say(f"Before, the neurons' pre-activations sit at different offsets, with standard deviations of "
           f"{hpreact.std(0).min():.1f} to {hpreact.std(0).max():.1f} units, so {sat_pre:.0%} of the values land "
           f"in the flat tails of tanh. After, every column has mean 0 and standard deviation 1 to within "
           f"{off_unit:.0e} (rounding), and {sat_norm:.1%} of the values saturate. No careful choice of `W1` "
           f"was needed.", sat_pre > 0.5 and off_unit < 1e-5 and sat_norm < 0.05,
           f"saturated {sat_pre:.1%} -> {sat_norm:.1%}, largest deviation from mean 0 / std 1: {off_unit:.1e}")

# %% [markdown]
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
claims.say(f"What to see: the raw pre-activations spread out to {hpreact.abs().max():.0f} on either side, far "
           f"beyond tanh's working range of about $\\pm 2$; after BatchNorm (still $\\gamma = 1$, $\\beta = 0$) "
           f"they are one narrow unit Gaussian, none beyond {hpreact_bn.abs().max():.1f}.",
           hpreact.abs().max() > 5 and hpreact_bn.abs().max() < 6,
           f"max |hpreact| {hpreact.abs().max():.1f}, after {hpreact_bn.abs().max():.1f}")

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
claims.check("the differences are float32 rounding, and the gradient of b1 is zero up to rounding while W1's is not",
             max(r[1] for r in rows) < 1e-3 and b1_leaf.grad.abs().max() < 1e-6 < 1e-3 < W1_leaf.grad.abs().max(),
             f"largest output change {max(r[1] for r in rows):.1e}; max |b1.grad| {b1_leaf.grad.abs().max():.1e}, "
             f"max |W1.grad| {W1_leaf.grad.abs().max():.1e}")

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
window = S.steps(5_000)                                 # 2.5% of training on either side of the drop
first, before, after_drop = (sum(result.lossi[a:a + window]) / window
                             for a in (0, decay_step - window, decay_step))
step_down = before - after_drop
claims.say(f"What to see: no hockey stick (BatchNorm fixes the hidden layer's scale, and `W2` starts small as "
           f"in chapter 2). Averaged over {window:,} steps, the log10 loss falls from {first:.3f} at the start to "
           f"{before:.3f} just before the learning rate drops at step {decay_step:,}, and is {after_drop:.3f} just "
           f"after it: " + ("a visible step down in the curve." if step_down > 0.005 else
                            "no visible step at this scale of the plot."), first > before,
           f"mean log10 loss {first:.4f}, {before:.4f}, {after_drop:.4f}")

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
start_weight = (1 - model.momentum) ** S.max_steps
print(f"weight the running average still gives its initial values (mean 0, std 1) after "
      f"{S.max_steps:,} steps: (1 - {model.momentum})^{S.max_steps:,} = {start_weight:.2g}")

# %% [markdown]
# Each dot is one neuron; on the diagonal the two estimates agree. The last line explains
# most of any systematic gap: the average starts from mean 0 and std 1, and after $T$
# steps those starting values still carry weight $(1-\alpha)^T$: after the lecture's
# 200,000 steps that is nothing, after a quick preview's 2,000 steps $0.999^{2000} \approx e^{-2} \approx 0.14$, enough
# to pull the dots towards 0 and 1. What is left after a long run is the noise of batches
# of 32, the lag behind the moving weights, and one small bias: the running std averages
# batch standard deviations, and the square root of an unbiased variance estimate is
# itself biased low, by about $1/(4m) \approx 0.8\%$ for $m = 32$ (Jensen's inequality).
# The running average costs nothing after training, which is why it is the usual choice.

# %%
std_ratio = (bnstd_running / bnstd).median().item()
spread = bnmean.abs().median().item()
claims.say(f"In this run: the median ratio of running to calibrated std is {std_ratio:.3f}, and the "
           f"running means are off by {(bnmean_running - bnmean).abs().mean():.3f} on average, against a "
           f"typical |mean| of {spread:.2f}. Evaluated with the running estimates, the dev loss is "
           f"{abs(val_running - val_calibrated):.4f} {'above' if val_running > val_calibrated else 'below'} "
           f"the calibrated one.", abs(val_running - val_calibrated) < 0.01,
           f"val running {val_running:.4f}, calibrated {val_calibrated:.4f}")
if S.max_steps >= 100_000:
    claims.check("after a long run the running std sits below the calibrated one (Jensen)", std_ratio < 1,
                 f"median ratio {std_ratio:.4f}, start weight {start_weight:.2g}")

# %% [markdown]
# We report the run as the lecture does, evaluated with the running estimates, and
# restore them before sampling.

# %%
model.bnmean_running, model.bnstd_running = bnmean_running, bnstd_running
report.record_run("MLP with BatchNorm", S.max_steps, train_running, val_running, key="mlp/batchnorm")
for key in ("mlp/kaiming", "mlp/batchnorm"):
    label, lecture_train, lecture_val = lecture.RESULTS[key]
    print(f"lecture, {label}: train {lecture_train:.4f}, val {lecture_val:.4f}")
names = train.sample(model, D.itos, D.block_size, 20, generator=torch.Generator().manual_seed(settings.SAMPLE_SEED))
print(" ".join(names))

# %%
lecture_kai, lecture_bn = lecture.RESULTS["mlp/kaiming"][2], lecture.RESULTS["mlp/batchnorm"][2]
claims.say(f"On the lecture's dataset BatchNorm roughly ties with chapter 2's Kaiming-initialized MLP "
           f"(val {lecture_bn} against {lecture_kai}, printed above; the results page lists our runs of both, "
           f"on our 2017 list): a network with one hidden layer and a carefully chosen scale had no trouble "
           f"to begin with. What BatchNorm removes is the care; its benefit grows with depth (chapter 4).",
           abs(lecture_bn - lecture_kai) < 0.01, f"lecture val {lecture_bn} vs {lecture_kai}")
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
alone_diff = (logits1 - logits_batch[:1]).abs().max().item()
print(f"alone vs inside a batch of 1000: max abs difference {alone_diff:.1e}")
claims.check("one context gives the same logits alone or inside a batch of 1000", alone_diff < 1e-4,
             f"max abs difference {alone_diff:.1e}")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")             # torch warns that one example has no degrees of freedom
    print(f"the lecture's formula on a batch of one: std = {hpreact[:1].std(0)[:4].tolist()} ...")
try:
    layers.BatchNorm1d(n_hidden)(hpreact[:1])
except ValueError as e:
    print(f"layers.BatchNorm1d in training mode: {e}")

# %% [markdown]
# The unbiased standard deviation of a single number is $0/0$, so the lecture's formula
# silently produces NaN. The library's `BatchNorm1d` layer (the section after next) refuses with
# a message that says what to do.
#
# Learners who write the running update themselves often meet NaN in their running
# statistics and blame the shape: `bnmeani` taken with `keepdim=True` has shape
# `(1, n_hidden)`, and `running = 0.999 * running + 0.001 * bnmeani` silently turns a
# `(n_hidden,)` buffer into `(1, n_hidden)`. Both suspects, on this trained model: ten
# updates from training batches with each shape, then one update from a batch of one.

# %%
def eval_logits(hpre, mean, std):
    """The model's eval-mode forward pass from its first layer's output, with given statistics."""
    bngain, bnbias, W2, b2 = (t.to(hpre.dtype) for t in (model.bngain, model.bnbias, model.W2, model.b2))
    return torch.tanh(bngain * (hpre - mean) / std + bnbias) @ W2 + b2  # (N, 27)


with torch.no_grad():
    hpre = model.hidden_preact(D.Xtr[:320])                     # (320, 200)
    flat = [model.bnmean_running.clone(), model.bnstd_running.clone()]   # 2 x (200,)
    keep = [t.clone() for t in flat]
    for batch in hpre.split(32):                                # 10 x (32, 200)
        flat = [0.999 * r + 0.001 * b for r, b in zip(flat, (batch.mean(0), batch.std(0)))]
        keep = [0.999 * r + 0.001 * b for r, b in zip(keep, (batch.mean(0, keepdim=True),
                                                             batch.std(0, keepdim=True)))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                         # the degrees-of-freedom warning again
        one = [0.999 * r + 0.001 * b for r, b in zip(flat, (hpre[:1].mean(0), hpre[:1].std(0)))]
    shape_diff = (eval_logits(hpre, *flat) - eval_logits(hpre, *keep)).abs().max().item()
    nan_share = eval_logits(hpre, *one).isnan().float().mean().item()
claims.say(f"After the keepdim updates the buffers have shape {tuple(keep[0].shape)} instead of "
           f"{tuple(flat[0].shape)}, and the eval-mode logits differ from the right ones by {shape_diff:.1e}: "
           f"broadcasting makes the shape harmless. After one update from a batch of one, "
           f"{one[1].isnan().sum().item()} of the {n_hidden} running stds are NaN and so are {nan_share:.0%} of "
           f"the eval-mode logits, for good: every later update mixes the NaN back in. The NaN comes from the "
           f"batch of one (typically a training-mode forward pass while sampling), not from the shape.",
           tuple(keep[0].shape) == (1, n_hidden) and shape_diff < 1e-5 and nan_share == 1.0,
           f"shape difference {shape_diff:.1e}, NaN share {nan_share:.0%}")

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
print(f"folded BatchNorm: max |logit difference| = {fold_diff:.1e}")
print(f"for scale: the unfolded float32 logits differ from a float64 evaluation by up to {rounding:.1e}; "
      f"largest |logit| {logits_bn.abs().max().item():.1f}")
report.publish("batchnorm/fold_diff", fold_diff, fmt=".1e")
claims.check("the folded network gives the same logits, up to float32 rounding",
             fold_diff < 1e-4 and fold_diff < 20 * max(rounding, 1e-7),
             f"folded vs unfolded {fold_diff:.1e}; float32 vs float64 {rounding:.1e}")

# %% [markdown]
# The difference is of the size of float32 rounding itself (the second line: the same
# network, unfolded, against a float64 evaluation). What folding buys at inference is the
# work of four elementwise operations on the `(N, 200)` pre-activations (subtract, divide,
# multiply, add), against the two matrix products that both versions do. Timed on the
# whole dev set, alternating the two versions over several rounds and keeping each one's
# fastest (the round least disturbed by the rest of a shared machine):

# %%
def seconds(net, repeat=5):
    """Wall time of `repeat` eval-mode forward passes over the dev set, per pass."""
    with torch.no_grad():
        started = time.perf_counter()
        for _ in range(repeat):
            net(D.Xdev)
        return (time.perf_counter() - started) / repeat


times = {"with BatchNorm": [], "folded": []}
for r in range(12):
    for name, net in ((("with BatchNorm", model), ("folded", plain))[::1 if r % 2 else -1]):
        times[name].append(seconds(net))
t_bn, t_folded = min(times["with BatchNorm"]), min(times["folded"])
model.train()
report.show_table(["dev-set inference", "fastest of 12 rounds, ms per pass"],
                  [["with BatchNorm (eval mode)", f"{1e3 * t_bn:.2f}"], ["folded", f"{1e3 * t_folded:.2f}"]])
claims.say(f"On this run the folded network took {t_folded / t_bn:.2f} times the time of the unfolded one "
           f"on the {len(D.Xdev):,} dev examples ({1e3 * t_folded:.2f} against {1e3 * t_bn:.2f} ms).", True,
           f"ms per pass: folded {1e3 * t_folded:.2f}, unfolded {1e3 * t_bn:.2f}")

# %% [markdown]
# The saving is small here because the matrix products dominate; in a deep network
# with a BatchNorm after every layer (chapter 4) each fold removes one such block, and
# on hardware with fused kernels the folded Linear costs exactly what a Linear costs.
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
claims.check("the layer agrees with PyTorch to float32 rounding in both modes, in its running statistics "
             "and in its gradient", max(d for _, _, d in rows[:-1]) < 1e-4,
             f"largest difference {max(d for _, _, d in rows[:-1]):.1e}")

# %%
factor = ((32 - 1) / 32) ** 0.5
claims.say(f"The last row is the price of the unbiased standard deviation in training mode: outputs smaller by "
           f"a factor $\\sqrt{{(m-1)/m}} = {factor:.3f}$ for $m = 32$, here a difference of up to {rows[-1][2]:.3f}; "
           f"harmless for training, but it means the lecture's formula is not a drop-in replacement for "
           f"PyTorch's layer.", abs(rows[-1][2] - (1 - factor) * y_theirs.abs().max().item()) < 1e-3,
           f"difference {rows[-1][2]:.4f}, (1 - factor) * max |y| = {(1 - factor) * y_theirs.abs().max().item():.4f}")

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
print(f"layers.fold(Linear, BatchNorm1d) against the pair in eval mode: max |difference| = {layer_fold_diff:.1e}")
claims.check("the folded Linear equals the pair", layer_fold_diff < 1e-4, f"{layer_fold_diff:.1e}")

# %% [markdown]
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

# %%
plain_runs = {s: runs[f"Linear, s = {s}"] for s in (0.5, 1.0, 2.0)}
bn_runs = {s: runs[f"Linear + BatchNorm, s = {s}"] for s in (0.5, 1.0, 2.0)}
bn_out = [v for r in bn_runs.values() for v in r["out"]]
bn_grad = [v for r in bn_runs.values() for v in r["grad"]]
unit = lambda v: 0.5 < v < 2
claims.say(f"What to see: without BatchNorm only $s = 1$ keeps both signals near size 1 (output std "
           f"{plain_runs[1.0]['out'][-1]:.2f} after eight layers); $s = 0.5$ ends at "
           f"{plain_runs[0.5]['out'][-1]:.4f} and $s = 2$ at {plain_runs[2.0]['out'][-1]:.0f}, the $2^{{\\pm 8}}$ "
           f"of eight layers, and the input gradients scale the same way, which is why deep networks needed exact "
           f"initializations. With BatchNorm all three scales give outputs of standard deviation 1 (to within "
           f"{max(abs(v - 1) for v in bn_out):.0e}) and input gradients between {min(bn_grad):.2f} and "
           f"{max(bn_grad):.2f} at every depth: the stack no longer cares about the scale of its weights.",
           all(unit(v) for v in plain_runs[1.0]["out"] + plain_runs[1.0]["grad"])
           and plain_runs[0.5]["out"][-1] < 0.01 and plain_runs[2.0]["out"][-1] > 100
           and plain_runs[0.5]["grad"][0] < 0.01 and plain_runs[2.0]["grad"][0] > 100
           and all(abs(v - 1) < 0.01 for v in bn_out) and all(unit(v) for v in bn_grad),
           f"outputs at layer 8 without BatchNorm: " + ", ".join(f"s={s}: {r['out'][-1]:.3g}" for s, r in plain_runs.items()))

# %%
wgrad_ratio = {s: bn_runs[s]["wgrad"][0] / bn_runs[1.0]["wgrad"][0] for s in (0.5, 2.0)}
claims.say(f"The third panel shows what remains of $s$: with BatchNorm the gradient of a weight matrix shrinks "
           f"as $1/s$ when the weights grow by $s$ (first layer: {wgrad_ratio[2.0]:.3f} times the $s = 1$ "
           f"gradient at $s = 2$, {wgrad_ratio[0.5]:.3f} times at $s = 0.5$), because the output does not depend "
           f"on the weights' scale. The relative step $\\mathrm{{lr}}\\cdot|\\nabla W| / |W|$ therefore falls as "
           f"$1/s^2$: weights that grow large learn more slowly. Chapter 4 watches exactly this ratio, the "
           f"update-to-data ratio, during training.",
           abs(wgrad_ratio[2.0] - 0.5) < 0.01 and abs(wgrad_ratio[0.5] - 2) < 0.04,
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
# gradient direction, so larger steps stay safe. The experiment above is the mechanism
# on a small scale: the forward and backward signals no longer depend on the weights'
# scale, so no layer's step size is set by an accident of initialization. Chapter 4
# watches the same quantities during training.
#
# ## What this chapter showed

# %%
claims.say(f"- **Standardizing works without tuning.** On the badly initialized network, {sat_pre:.0%} of one "
           f"batch's hidden values were saturated; standardized, {sat_norm:.1%}, with no change to `W1`.",
           sat_pre > 0.5 > sat_norm, f"{sat_pre:.1%} -> {sat_norm:.1%}")
claims.say(f"- **Training.** The BatchNorm MLP reached train {train_running:.4f}, val {val_running:.4f} in "
           f"{S.max_steps:,} steps with its running statistics; calibrating them on the whole training set "
           f"changes the dev loss by {val_calibrated - val_running:+.4f}.",
           abs(val_calibrated - val_running) < 0.01, f"val {val_running:.4f} vs {val_calibrated:.4f}")
claims.say(f"- **Inference.** The running statistics make eval mode independent of the batch, and let the "
           f"BatchNorm be folded into `W1` (exercise E02): the folded network's logits differ by {fold_diff:.1e}, "
           f"and it ran in {t_folded / t_bn:.2f} times the unfolded one's time. The NaN learners meet comes "
           f"from a training-mode batch of one, not from the running statistics' shape.",
           fold_diff < 1e-4 and nan_share == 1.0 and shape_diff < 1e-5, f"fold {fold_diff:.1e}")
claims.say(f"- **Depth.** In eight stacked layers BatchNorm keeps every layer's output at std 1 (to within "
           f"{max(abs(v - 1) for v in bn_out):.0e}) for weight scales 0.5, 1 and 2, where without it the output std after eight "
           f"layers ranges from {plain_runs[0.5]['out'][-1]:.4f} to {plain_runs[2.0]['out'][-1]:.0f}.",
           all(abs(v - 1) < 0.01 for v in bn_out), f"BatchNorm output stds {min(bn_out):.3f}-{max(bn_out):.3f}")
