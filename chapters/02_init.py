# %% [markdown]
# # Chapter 2: initialization and the hockey-stick loss
#
# A network that has seen no data should not have an opinion. This chapter takes the
# lecture's one-hidden-layer MLP, finds two ways in which its plain `randn` initialization
# has strong and wrong opinions (an overconfident output layer and a saturated hidden
# layer), fixes each by scaling, and ends with the principled version of the fix, Kaiming
# initialization. Each stage is trained to the end, and the losses are collected in a log.

# %%
import math

import torch
import torch.nn.functional as F

from makemore_lib import chapter, data, lecture, models, plots, report, settings, train

S, D, claims = chapter.begin()
decay_step = S.steps(100_000)
print(f"mode: {S.mode}; every training run: {S.max_steps:,} steps, batch 32, "
      f"lr 0.1, then 0.01 from step {decay_step:,}")

# %% [markdown]
# ## The model
#
# The lecture's MLP embeds each of the 3 context tokens in 10 dimensions (table `C`),
# concatenates them into 30 numbers, and passes them through one hidden layer of 200
# `tanh` units and an output layer of 27 logits:
#
# $$\texttt{hpreact} = \texttt{embcat}\,W_1 + b_1, \qquad h = \tanh(\texttt{hpreact}), \qquad
# \texttt{logits} = h\,W_2 + b_2 .$$
#
# Every parameter is drawn from one seeded generator in the lecture's order (`C`, `W1`,
# `b1`, `W2`, `b2`), and the first minibatch comes from the same generator right after, so
# the numbers at step 0 are reproducible. The helpers below build a model and peek at the
# first minibatch that training will draw, without advancing the generator.

# %%
def new_mlp(init):
    """The lecture's MLP with one of the initializations of models.INITS, and its generator."""
    g = torch.Generator().manual_seed(settings.SEED)
    return models.MLP(D.vocab_size, block_size=D.block_size, n_embd=10, n_hidden=200, init=init, generator=g), g


def first_batch(g, batch_size=32):
    """The indices train.train will use at step 0, drawn from a copy of g."""
    peek = torch.Generator().set_state(g.get_state())
    return torch.randint(0, D.Xtr.shape[0], (batch_size,), generator=peek)  # (batch_size,)


model, g = new_mlp("original")
for name, p in model.named_parameters():
    print(f"{name:3s} {str(tuple(p.shape)):10s} {p.nelement():6,d}")
print(f"total parameters: {sum(p.nelement() for p in model.parameters()):,}")

# %% [markdown]
# The four initializations this chapter compares, as the library defines them: each
# parameter is `randn` times the factor in the table.

# %%
fan_in = 10 * D.block_size
report.show_table(["init", "W1", "b1", "W2", "b2"],
                  [[init] + [f"(5/3)/sqrt({fan_in}) = {models.TANH_GAIN / fan_in**0.5:.4f}" if v == "kaiming" else str(v)
                             for v in scale.values()]
                   for init, scale in models.INITS.items()])

# %% [markdown]
# ## The loss at initialization
#
# Before training, no character should be preferred over another, so the network should
# give each of the 27 tokens probability about $1/27$, and the cross-entropy loss should be
# $-\ln(1/27)$. Here is that number next to the loss the original initialization gives on
# the first minibatch.

# %%
ix = first_batch(g)
Xb, Yb = D.Xtr[ix], D.Ytr[ix]                 # (32, 3), (32,)
logits = model(Xb)                            # (32, 27)
loss0 = F.cross_entropy(logits, Yb).item()
probs = F.softmax(logits, dim=1)              # (32, 27)
print(f"expected at init: -ln(1/27) = {lecture.EXPECTED_INITIAL_LOSS:.4f}")
print(f"original init, first minibatch: {loss0:.4f}")
print(f"logits: std {logits.std().item():.2f}, range [{logits.min().item():.1f}, {logits.max().item():.1f}]")
print(f"largest probability per example, mean over the batch: {probs.max(1).values.mean().item():.3f}")
print(f"probability given to the correct token, mean over the batch: {probs[torch.arange(32), Yb].mean().item():.2e}")
report.publish("init/loss0", loss0, fmt=".4f")

# %% [markdown]
# The network is not unsure; it is sure and wrong. For logits $z$ and correct token $y$,
#
# $$\ell = -\ln\frac{e^{z_y}}{\sum_j e^{z_j}} = \ln\sum_j e^{z_j} - z_y \;\approx\; \max_j z_j - z_y ,$$
#
# where the approximation holds once one logit dominates the others. So when the logits
# are spread over tens of units, the loss is roughly the gap between the largest logit and
# the correct one, which for a random guess is large. Four logits make this concrete
# (correct token: index 2):

# %%
g_demo = torch.Generator().manual_seed(settings.SEED)
cases = {
    "all equal": torch.tensor([0.0, 0.0, 0.0, 0.0]),
    "confident, right": torch.tensor([0.0, 0.0, 5.0, 0.0]),
    "confident, wrong": torch.tensor([0.0, 5.0, 0.0, 0.0]),
    "random, small (randn * 0.1)": torch.randn(4, generator=g_demo) * 0.1,
    "random, large (randn * 10)": torch.randn(4, generator=g_demo) * 10,
}
target = 2
report.show_table(["logits", "values", "softmax", "loss -ln p[2]", "max z - z[2]"],
                  [[name, ", ".join(f"{v:.2f}" for v in z), ", ".join(f"{v:.3f}" for v in F.softmax(z, 0)),
                    -F.log_softmax(z, 0)[target].item(), (z.max() - z[target]).item()]
                   for name, z in cases.items()])

# %% [markdown]
# The uniform case gives $\ln 4$, the best a guess without knowledge can do. Small random
# logits stay close to it; large random logits can land anywhere, mostly far above.
#
# Why are our logits large? $\texttt{logits}_j = \sum_k h_k W_{2,kj} + b_{2,j}$ with
# $W_2, b_2 \sim \mathcal{N}(0, 1)$, so for a given $h$ each logit is a sum of 201
# independent terms with variance $\sum_k h_k^2 + 1$. The hidden units are near $\pm 1$
# (next section), so this variance approaches its bound of 201; the cell below computes the
# prediction from the actual $h$ and measures the logits:

# %%
predicted_std = ((model.h**2).sum(1) + 1).mean().sqrt().item()
print(f"predicted logit std sqrt(mean(sum_k h_k^2) + 1) = {predicted_std:.2f}; measured {logits.std().item():.2f}")

# %% [markdown]
# The fix is to make the output layer start small: $W_2 \times 0.01$ and $b_2 = 0$. The
# logits are then close to 0, the softmax close to uniform, and the loss close to
# $\ln 27$. $W_2$ is not set exactly to zero: with $W_2 = 0$ the gradient reaching the
# hidden layer, $\partial\ell/\partial h = (\partial\ell/\partial\,\texttt{logits})\,W_2^\top$,
# would be zero at the first step.

# %%
model_sf, g_sf = new_mlp("softmax_fixed")
logits_sf = model_sf(D.Xtr[first_batch(g_sf)])   # (32, 27)
print(f"softmax fixed, first minibatch: {F.cross_entropy(logits_sf, Yb).item():.4f} "
      f"(expected {lecture.EXPECTED_INITIAL_LOSS:.4f}); logits std {logits_sf.std().item():.3f}")
report.publish("init/loss0_softmax_fixed", F.cross_entropy(logits_sf, Yb).item(), fmt=".4f")

# %% [markdown]
# Now train both. `train.train` records $\log_{10}$ of every minibatch loss in `lossi`; its
# first entry is the loss on the same first minibatch as above, which checks that the
# training loop really starts from this initialization.

# %%
runs = {}


def fit(init):
    """Train a fresh MLP with the given init for the full number of steps; keep it in `runs`."""
    model, g = new_mlp(init)
    result = train.train(model, D.Xtr, D.Ytr, S.max_steps, g, lr=train.lr_schedule(0.1, 0.01, decay_step),
                         ud_every=None, desc=f"MLP, {init} init")
    runs[init] = (model, result)
    print(f"{init}: {result.steps:,} steps in {result.seconds:.1f} s; loss at step 0 {10 ** result.lossi[0]:.4f}, "
          f"last minibatch {result.final_loss:.4f}")
    return model, result


fit("original")
fit("softmax_fixed");

# %%
n_show = min(S.max_steps, 2_000)
plots.plot_loss({init: runs[init][1].lossi[:n_show] for init in ["original", "softmax_fixed"]},
                title=f"the hockey stick: first {n_show:,} steps")

# %% [markdown]
# The original run spends its first steps doing only one thing: shrinking the logits
# until the predictions are no longer confidently wrong. That is the steep part of the
# hockey stick. The fixed run starts where the original one arrives after this phase, and
# every step it trains is spent on the actual task. How many steps the original run needs
# just to come down to the loss the fixed run starts from ($\ln 27$, averaged over 10 steps):

# %%
window = 10
smooth = torch.tensor(runs["original"][1].lossi).unfold(0, window, 1).mean(1)  # (steps - window + 1,)
below = (smooth < math.log10(lecture.EXPECTED_INITIAL_LOSS)).nonzero()
if len(below):
    print(f"{window}-step mean of the original run first below ln(27) at step {below[0].item() + window - 1:,}")
else:
    print(f"the original run's {window}-step mean never gets below ln(27) in {S.max_steps:,} steps")

# %% [markdown]
# ## tanh saturation
#
# With the output fixed, the loss at step 0 is right, but the hidden layer still has a
# problem. Here are the hidden activations `h` and their pre-activations `hpreact` on the
# first minibatch, original initialization:

# %%
def at_init(init):
    """A fresh model after one forward pass on the first minibatch (keeps .hpreact and .h)."""
    model, g = new_mlp(init)
    model(D.Xtr[first_batch(g)])
    return model


def show_saturation(model, label):
    """Histograms, saturation counts and the white-columns picture of model.h on the batch it last saw."""
    h, hpreact = model.h.detach(), model.hpreact.detach()    # (32, 200), (32, 200)
    plots.plot_hist(hpreact, title=f"hpreact at init, {label}", xlabel="hpreact")
    plots.plot_hist(h, title=f"h = tanh(hpreact) at init, {label}", xlabel="h")
    saturated = h.abs() > 0.99                                # (32, 200)
    print(f"{label}: hpreact std {hpreact.std().item():.2f}; |h| > 0.99 for {saturated.float().mean().item():.1%} "
          f"of the batch's activations; mean 1 - h^2 = {(1 - h**2).mean().item():.3f}")
    with torch.no_grad():
        model(D.Xdev)                                         # model.h is now (N_dev, 200)
        per_neuron = (model.h.abs() > 0.99).float().mean(0)  # (200,)
        model.h, model.hpreact = h, hpreact                   # keep the batch's values for later cells
    print(f"neurons saturated on all 32 examples of the batch: {saturated.all(0).sum().item()}; "
          f"on all {len(D.Xdev):,} dev examples: {(per_neuron == 1).sum().item()}; "
          f"the most saturated neuron is saturated on {per_neuron.max().item():.1%} of them")
    plots.plot_saturation(h, title=f"|h| > 0.99 (white) at init, {label}")


m_orig = at_init("original")
show_saturation(m_orig, "original")

# %% [markdown]
# `hpreact` spreads far beyond the range where tanh is roughly linear, so `h` piles up at
# $-1$ and $+1$. That matters for learning because of tanh's derivative:
#
# $$\frac{\partial h}{\partial\,\texttt{hpreact}} = 1 - \tanh^2(\texttt{hpreact}) = 1 - h^2 .$$
#
# In backpropagation the gradient arriving at $h$ is multiplied by $1 - h^2$. A unit with
# $|h| \approx 1$ passes almost nothing back, so neither its column of $W_1$, nor its bias,
# nor the embeddings through it learn from that example. In the picture each row is an
# example and each column a neuron. A column white from top to bottom would be a neuron
# saturated for every example: its incoming weights and bias get (almost) no gradient from
# any example, a dead neuron. Above, the same count is taken over the whole dev set. Even without dead
# neurons, the mean of $1 - h^2$ says how much of the gradient the layer lets through on
# average, and in a deeper network that factor multiplies from layer to layer.
#
# The cause is the scale of `hpreact`. Each of its entries is a sum of 30 products
# $\texttt{embcat}_i W_{1,ij}$ plus $b_{1,j}$, all with variance 1, so its standard
# deviation is about $\sqrt{31}$:

# %%
print(f"sqrt(fan_in + 1) = sqrt({fan_in} + 1) = {math.sqrt(fan_in + 1):.2f}; "
      f"measured hpreact std {m_orig.hpreact.std().item():.2f}")

# %% [markdown]
# The lecture's fix is to shrink the first layer by hand: $W_1 \times 0.2$ and
# $b_1 \times 0.01$, which brings the standard deviation to about $0.2\sqrt{30} \approx 1.1$.
# The same plots after the fix:

# %%
m_tanh = at_init("tanh_fixed")
show_saturation(m_tanh, "tanh fixed")

# %%
fit("tanh_fixed");

# %% [markdown]
# ## Kaiming initialization
#
# The factor 0.2 was found by looking at histograms. A rule that needs no looking comes
# from the variance of a sum. For $y = x\,w$ with $x$ of length $n$ (the fan-in) and
# independent zero-mean entries,
#
# $$\operatorname{Var}(y_j) = \sum_{i=1}^{n} \operatorname{Var}(x_i)\operatorname{Var}(w_{ij}) = n\,\operatorname{Var}(x)\operatorname{Var}(w),$$
#
# so the spread grows like $\sqrt{n}$ unless the weights have standard deviation
# $1/\sqrt{n}$. Measured on random data:

# %%
g_k = torch.Generator().manual_seed(settings.SEED)
rows = []
for n in [10, 30, 100, 300, 1000]:
    x = torch.randn(1000, n, generator=g_k)     # (1000, n)
    w = torch.randn(n, 200, generator=g_k)      # (n, 200)
    rows.append([n, x.std().item(), (x @ w).std().item(), math.sqrt(n), (x @ (w / n**0.5)).std().item()])
report.show_table(["fan-in n", "std(x)", "std(x @ w)", "sqrt(n)", "std(x @ (w / sqrt(n)))"], rows)

# %%
x = torch.randn(1000, 10, generator=g_k)       # (1000, 10)
w = torch.randn(10, 200, generator=g_k)        # (10, 200)
plots.plot_distributions({"x": x, "x @ w": x @ w, "x @ (w / sqrt(10))": x @ (w / 10**0.5)},
                         title="x @ w spreads out by sqrt(fan-in) unless w is scaled", xlabel="value")

# %% [markdown]
# A nonlinearity changes the picture. tanh is contracting, $|\tanh(x)| < |x|$, so
# weights that preserve the spread of their input still let it shrink from one tanh layer
# to the next. The remedy is a gain: $\text{std}(w) = \text{gain}/\sqrt{n}$. For tanh the
# conventional gain is $5/3$ (Kaiming He et al. derived the analogous $\sqrt{2}$ for ReLU,
# which zeroes half its input). Here are tanh and its derivative, the factor every
# gradient passes through:

# %%
xs = torch.linspace(-4, 4, 401)                # (401,)
plots.plot_lines(xs, {"tanh(x)": torch.tanh(xs), "1 - tanh(x)^2": 1 - torch.tanh(xs) ** 2},
                 title="tanh and its derivative", xlabel="x", ylabel="value")

# %% [markdown]
# What the gain does in a stack of ten random tanh layers of width 200: too small and the
# pre-activations shrink towards 0 (tanh becomes linear, and the stack with it); too large
# and they grow into saturation; $5/3$ keeps their spread near 1.

# %%
gains = {"1": 1.0, "5/3": models.TANH_GAIN, "3": 3.0}
g_s = torch.Generator().manual_seed(settings.SEED)
x0 = torch.randn(1000, 200, generator=g_s)     # (1000, 200)
Ws = [torch.randn(200, 200, generator=g_s) / 200**0.5 for _ in range(10)]   # 10 x (200, 200)
stds, sat = {}, {}
for label, gain in gains.items():
    x, stds[f"gain {label}"], sat[label] = x0, [], []
    for W in Ws:
        pre = x @ (W * gain)                   # (1000, 200)
        x = torch.tanh(pre)
        stds[f"gain {label}"].append(pre.std().item())
        sat[label].append((x.abs() > 0.97).float().mean().item())
plots.plot_lines(range(1, 11), stds, title="std of the pre-activation through 10 random tanh layers",
                 xlabel="layer", ylabel="std", hline=1.0)
print("saturation (|tanh| > 0.97) at layer 10: " + ", ".join(f"gain {k}: {v[-1]:.1%}" for k, v in sat.items()))

# %% [markdown]
# For our first layer, $n = 30$ and the Kaiming scale is $(5/3)/\sqrt{30}$; the cell
# below compares it with the hand-picked 0.2. PyTorch implements the same rule as
# `torch.nn.init.kaiming_normal_`. It assumes PyTorch's weight layout `(fan_out, fan_in)`,
# while the lecture writes `W1` as `(fan_in, fan_out)`; applied to a `(30, 200)` tensor
# with `mode="fan_in"` it would read the fan-in as 200.

# %%
g_t = torch.Generator().manual_seed(settings.SEED)
w_torch = torch.nn.init.kaiming_normal_(torch.empty(200, fan_in), mode="fan_in", nonlinearity="tanh",
                                        generator=g_t).T                      # (30, 200)
w_wrong = torch.nn.init.kaiming_normal_(torch.empty(fan_in, 200), mode="fan_in", nonlinearity="tanh",
                                        generator=g_t)                        # (30, 200)
m_kai = at_init("kaiming")
report.show_table(["W1 (30, 200)", "std"], [
    ["formula (5/3) / sqrt(30)", models.TANH_GAIN / fan_in**0.5],
    [f"torch.nn.init.calculate_gain('tanh') = {torch.nn.init.calculate_gain('tanh'):.4f}, / sqrt(30)",
     torch.nn.init.calculate_gain("tanh") / fan_in**0.5],
    ["kaiming_normal_ on (200, 30), transposed", w_torch.std().item()],
    ["kaiming_normal_ on (30, 200): fan-in read as 200", w_wrong.std().item()],
    ["models.MLP(init='kaiming').W1", m_kai.W1.std().item()],
])
print(f"kaiming: hpreact std {m_kai.hpreact.std().item():.2f}, |h| > 0.99 for "
      f"{(m_kai.h.abs() > 0.99).float().mean().item():.1%} of the first batch's activations")
kaiming_scale = models.TANH_GAIN / fan_in**0.5
m_02 = at_init("tanh_fixed")
std_k, std_02 = m_kai.hpreact.std().item(), m_02.hpreact.std().item()
sat_k, sat_02 = [(m.h.abs() > 0.99).float().mean().item() for m in (m_kai, m_02)]
claims.say(f"The Kaiming scale {kaiming_scale:.4f} is {kaiming_scale / 0.2 - 1:.0%} larger than the "
           f"hand-picked 0.2, so its hidden pre-activations start wider (std {std_k:.2f} against {std_02:.2f}) "
           f"and more units saturate ({sat_k:.1%} against {sat_02:.1%} with |h| > 0.99).",
           kaiming_scale > 0.2 and std_k > std_02 and sat_k > sat_02,
           f"scale {kaiming_scale:.4f} vs 0.2, hpreact std {std_k:.2f} vs {std_02:.2f}, saturated {sat_k:.1%} vs {sat_02:.1%}")

# %%
fit("kaiming");

# %% [markdown]
# ## The loss log
#
# Each stage trained for the same steps on the same minibatches, evaluated on the whole
# training and dev sets. The lecture's numbers come from its own list of names, so they
# are a reference for the size of the effects, not a target to match digit for digit.

# %%
rows, val = [], {}
for init, (model, result) in runs.items():
    key = f"mlp/{init}"
    tr = train.split_loss(model, D.Xtr, D.Ytr)
    va = val[init] = train.split_loss(model, D.Xdev, D.Ydev)
    report.record_run(lecture.RESULTS[key][0], result.steps, tr, va, key=key)
    rows.append([init, 10 ** result.lossi[0], tr, va, str(lecture.RESULTS[key][1]), str(lecture.RESULTS[key][2])])
report.show_table(["init", "loss at step 0", "train", "val", "lecture train", "lecture val"], rows)
if S.quick:
    print(f"quick mode: {S.max_steps:,} steps per run, far from converged; run with MAKEMORE_QUICK=0 "
          f"for the lecture's {settings.FULL_STEPS:,}")

# %%
window = max(1, S.max_steps // 200)
plots.plot_loss({init: result.lossi for init, (_, result) in runs.items()}, window=window,
                title=f"training loss of the four inits (mean of {window} steps)")

# %% [markdown]
# What the original run loses is the steps spent on the hockey stick and the gradient
# withheld by its saturated units; the cell below reads from the table how much that cost
# in this run. In the lecture's numbers, Kaiming
# initialization lands where the hand-picked factor 0.2 did; its value is that it needed
# no histogram to find. The lecture's point is what happens when the
# network is deeper, where these effects multiply through the layers; chapter 3 removes
# most of the need for careful scaling with BatchNorm, and chapter 4 measures all of this
# inside a deep network.
#
# Names sampled from the Kaiming model (a name also present in the training list is
# marked with `*`) follow the comparison.

# %%
best = min((v, k) for k, v in val.items() if k != "original")
claims.say(f"On the dev set the original initialization ends {val['original'] - best[0]:.4f} above the best "
           f"fixed one ({best[1]}, {best[0]:.4f}), and the tanh fix ends "
           f"{'below' if val['tanh_fixed'] < val['softmax_fixed'] else 'above'} the softmax fix "
           f"({val['tanh_fixed']:.4f} vs {val['softmax_fixed']:.4f}).",
           val["original"] > best[0], f"val: " + ", ".join(f"{k} {v:.4f}" for k, v in val.items()))

# %%
g_sample = torch.Generator().manual_seed(settings.SAMPLE_SEED)
train_names = set(data.split_words(D.words)[0])
for name in train.sample(runs["kaiming"][0], D.itos, D.block_size, n=20, generator=g_sample):
    print(name + (" *" if name in train_names else ""))
