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

# %%
p_max = probs.max(1).values                   # (32,)
p_correct = probs[torch.arange(32), Yb]       # (32,)
right = probs.argmax(1) == Yb                 # (32,) the favourite is the correct token
below_uniform = (p_correct < 1 / 27).float().mean().item()
share_right = (p_correct[right].sum() / p_correct.sum()).item()
n_right = right.sum().item()
claims.say(f"The network is not unsure; it is sure and wrong. It gives its favourite token probability "
           f"{p_max.mean():.2f} on average, where a uniform guess gives $1/27 = {1 / 27:.3f}$, and that favourite "
           f"is the correct token in {n_right} of the 32 examples. The correct token gets less than $1/27$ in "
           f"{below_uniform:.0%} of them (median probability {p_correct.median():.0e}); the mean printed above "
           f"comes almost entirely ({share_right:.0%}) from the "
           f"{'example' if n_right == 1 else f'{n_right} examples'} where the favourite is right.",
           p_max.mean() > 0.5 and below_uniform > 0.8 and p_correct.median() < 1e-3 and share_right > 0.9,
           f"mean max prob {p_max.mean():.3f}, correct < 1/27 in {below_uniform:.0%}, "
           f"median correct prob {p_correct.median():.1e}, share of the right ones {share_right:.0%}")

# %% [markdown]
# For logits $z$ and correct token $y$,
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
# The uniform case gives $\ln 4$, the best a guess without knowledge can do. One draw of
# each random case says little, so the cell below draws 1,000 of each:

# %%
g_many = torch.Generator().manual_seed(settings.SEED)
random_losses = {scale: -F.log_softmax(torch.randn(1000, 4, generator=g_many) * scale, 1)[:, target]  # (1000,)
                 for scale in (0.1, 10)}
small, large = random_losses[0.1], random_losses[10]
far_above = (large > 2 * math.log(4)).float().mean().item()
claims.say(f"Small random logits stay close to $\\ln 4 = {math.log(4):.3f}$: over 1,000 draws of `randn * 0.1` "
           f"the loss stays between {small.min():.2f} and {small.max():.2f}. Large random logits can land anywhere, "
           f"from {large.min().item() + 0.0:.2f} (when the correct token happens to get the largest logit) to "
           f"{large.max():.0f}, mostly far above: over 1,000 draws of `randn * 10` the median is "
           f"{large.median():.1f}, and {far_above:.0%} of the losses exceed $2 \\ln 4$.",
           (small - math.log(4)).abs().max() < 0.5 and far_above > 0.5,
           f"small: {small.min():.3f}-{small.max():.3f}; large: median {large.median():.2f}, "
           f"{far_above:.1%} above 2 ln 4")

# %% [markdown]
# Why are our logits large? $\texttt{logits}_j = \sum_k h_k W_{2,kj} + b_{2,j}$ with
# $W_2, b_2 \sim \mathcal{N}(0, 1)$, so for a given $h$ each logit is a sum of 201
# independent terms with variance $\sum_k h_k^2 + 1$, at most 201 since $|h_k| < 1$. Most
# hidden units are near $\pm 1$ (next section), so the variance should come close to that
# bound. The cell below computes the prediction from the actual $h$ and measures the logits:

# %%
predicted_std = ((model.h**2).sum(1) + 1).mean().sqrt().item()
print(f"predicted logit std sqrt(mean(sum_k h_k^2) + 1) = {predicted_std:.2f}; measured {logits.std().item():.2f}")
logit_var = predicted_std**2
logit_off = abs(logits.std().item() / predicted_std - 1)
claims.say(f"On this batch $\\sum_k h_k^2 + 1$ averages {logit_var:.0f}, {logit_var / 201:.0%} of its bound of 201, "
           f"so the predicted logit std is {predicted_std:.2f}; the measured std of the logits, "
           f"{logits.std().item():.2f}, is within {logit_off:.0%} of it.",
           logit_var / 201 > 0.75 and logit_off < 0.1,
           f"variance {logit_var:.1f} of 201; std predicted {predicted_std:.3f}, measured {logits.std().item():.3f}")

# %% [markdown]
# ### Why cross-entropy subtracts the max logit
#
# The formula above is how the loss is defined, not how it is computed. Subtracting the
# same number $c$ from every logit changes nothing, since $e^{-c}$ cancels between
# numerator and denominator:
#
# $$\frac{e^{z_y - c}}{\sum_j e^{z_j - c}} = \frac{e^{z_y}}{\sum_j e^{z_j}}, \qquad
# \ell = \ln\sum_j e^{z_j - m} - (z_y - m), \quad m = \max_j z_j .$$
#
# With $c = m$ every exponent is at most 0, so no $e^{z_j - m}$ can overflow, and the sum is
# at least 1, so its logarithm is finite. Computed as written, $e^{z}$ in float32 is `inf`
# as soon as $z$ passes the logarithm of the largest float32:

# %%
float32_max = torch.finfo(torch.float32).max
z_overflow = math.log(float32_max)
print(f"largest float32 {float32_max:.4e}; ln of it = {z_overflow:.2f}")
print(f"float32 exp({z_overflow - 0.5:.2f}) = {torch.tensor(z_overflow - 0.5).exp().item():.4e}, "
      f"exp({z_overflow + 0.5:.2f}) = {torch.tensor(z_overflow + 0.5).exp().item()}")


def naive_cross_entropy(logits, y):
    """loss = mean_i -ln( exp(z_iy) / sum_j exp(z_ij) ), exactly as written: exp may overflow to inf."""
    counts = logits.exp()                                    # (N, V)
    probs = counts / counts.sum(1, keepdim=True)             # (N, V)
    return -probs[torch.arange(len(y)), y].log().mean()


def stable_cross_entropy(logits, y):
    """loss = mean_i [ ln sum_j exp(z_ij - m_i) - (z_iy - m_i) ], m_i = max_j z_ij: every exponent <= 0."""
    shifted = logits - logits.max(1, keepdim=True).values    # (N, V), each row's largest entry is 0
    return (shifted.exp().sum(1).log() - shifted[torch.arange(len(y)), y]).mean()


overflow_cases = {
    "three logits [100, 90, 80], target 2": (torch.tensor([[100.0, 90.0, 80.0]]), torch.tensor([2])),
    "original init's logits * 3, first minibatch": (3 * logits.detach(), Yb),
}
overflow_rows = []
for name, (z, y) in overflow_cases.items():
    naive, stable, torch_ce = [f(z, y).item() for f in (naive_cross_entropy, stable_cross_entropy, F.cross_entropy)]
    overflow_rows.append([name, z.max().item(), naive, stable, torch_ce, naive_cross_entropy(z.double(), y).item()])
report.show_table(["logits", "largest logit", "naive, float32", "max subtracted, float32", "F.cross_entropy",
                   "naive, float64"], overflow_rows)

# %%
def rel_diff(a, b):
    return abs(a - b) / max(1.0, abs(b))


z_overflow64 = math.log(torch.finfo(torch.float64).max)
naive_bad = all(not math.isfinite(r[2]) for r in overflow_rows)
torch_diff = max(rel_diff(r[3], r[4]) for r in overflow_rows)
double_diff = max(rel_diff(r[5], r[3]) for r in overflow_rows)
toy, ours = overflow_rows
claims.say(f"As written, the loss is {toy[2]} for the three logits and {ours[2]} for our logits times 3 (largest "
           f"{ours[1]:.0f}, beyond {z_overflow:.1f}): an `inf` in the sum makes every other probability 0, whose "
           f"loss $-\\ln 0$ is `inf`, and the overflowing one `inf / inf`, which is `nan`. With the max subtracted "
           f"the losses are {toy[3]:.4f} and {ours[3]:.4f}, the same as `F.cross_entropy` gives to float32 rounding "
           f"(relative difference at most {torch_diff:.0e}), and the formula as written agrees ({double_diff:.0e}) "
           f"in float64, where $e^z$ overflows only above {z_overflow64:.1f}. Our logits at initialization reach "
           f"{logits.max().item():.0f}: logits {z_overflow / logits.max().item():.1f} times larger would already "
           f"overflow with the formula as written.",
           naive_bad and torch_diff < 1e-5 and double_diff < 1e-5 and logits.max().item() < z_overflow,
           f"naive {toy[2]}, {ours[2]}; stable vs F.cross_entropy {torch_diff:.1e}; float64 naive {double_diff:.1e}")

# %% [markdown]
# ### The fix: a small output layer
#
# The fix is to make the output layer start small: $W_2 \times 0.01$ and $b_2 = 0$. The
# logits should then be close to 0, the softmax close to uniform, and the loss close to
# $\ln 27$. $W_2$ is not set exactly to zero: with $W_2 = 0$ the gradient reaching the
# hidden layer, $\partial\ell/\partial h = (\partial\ell/\partial\,\texttt{logits})\,W_2^\top$,
# would be zero at the first step.

# %%
model_sf, g_sf = new_mlp("softmax_fixed")
logits_sf = model_sf(D.Xtr[first_batch(g_sf)])   # (32, 27)
print(f"softmax fixed, first minibatch: {F.cross_entropy(logits_sf, Yb).item():.4f} "
      f"(expected {lecture.EXPECTED_INITIAL_LOSS:.4f}); logits std {logits_sf.std().item():.3f}")
report.publish("init/loss0_softmax_fixed", F.cross_entropy(logits_sf, Yb).item(), fmt=".4f")
loss0_sf = F.cross_entropy(logits_sf, Yb).item()
p_max_sf = F.softmax(logits_sf, dim=1).max(1).values.max().item()
claims.say(f"Measured: the logits are at most {logits_sf.abs().max().item():.2f} away from 0 (std "
           f"{logits_sf.std().item():.3f}), no token gets more than {p_max_sf:.3f} where the uniform guess gives "
           f"{1 / 27:.3f}, and the loss is {loss0_sf:.4f}, {loss0_sf - lecture.EXPECTED_INITIAL_LOSS:+.4f} from "
           f"$\\ln 27$.",
           logits_sf.abs().max().item() < 1 and abs(loss0_sf - lecture.EXPECTED_INITIAL_LOSS) < 0.1,
           f"max |logit| {logits_sf.abs().max().item():.3f}, loss {loss0_sf:.4f}")

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
start_orig, start_sf = runs["original"][1].lossi[0], runs["softmax_fixed"][1].lossi[0]
tail_orig, tail_sf = [sum(runs[i][1].lossi[n_show - 100:n_show]) / 100 for i in ("original", "softmax_fixed")]
claims.say(f"What to see: the original run starts at a log10 loss of {start_orig:.2f} (a loss of "
           f"{10 ** start_orig:.1f}) and falls steeply at first, the blade of the hockey stick; the fixed run starts "
           f"at {start_sf:.2f} (a loss of {10 ** start_sf:.2f}) and has no blade. Over steps "
           f"{n_show - 100:,} to {n_show:,} the original run is "
           f"{'still above' if tail_orig > tail_sf else 'level with or below'} the fixed one "
           f"({tail_orig:.3f} against {tail_sf:.3f}).",
           start_orig > start_sf + 0.5, f"log10 loss at step 0: {start_orig:.3f} vs {start_sf:.3f}")

# %% [markdown]
# The original run spends its first steps mostly on one thing: undoing its confidently
# wrong predictions, by closing the gap between the largest logit and the correct one and
# shrinking the logits with it (measured below). That is the steep part of the hockey stick. The fixed run starts at the end of this phase, near $\ln 27$, and every
# step it trains is spent on the actual task. How many steps the original run needs
# just to come down to the loss the fixed run starts from ($\ln 27$, averaged over 10 steps):

# %%
window = 10
smooth = torch.tensor(runs["original"][1].lossi).unfold(0, window, 1).mean(1)  # (steps - window + 1,)
below = (smooth < math.log10(lecture.EXPECTED_INITIAL_LOSS)).nonzero()
if len(below):
    print(f"{window}-step mean of the original run first below ln(27) at step {below[0].item() + window - 1:,}")
else:
    print(f"the original run's {window}-step mean never gets below ln(27) in {S.max_steps:,} steps")
smooth_sf = torch.tensor(runs["softmax_fixed"][1].lossi).unfold(0, window, 1).mean(1)  # (steps - window + 1,)
cross_step = below[0].item() + window - 1 if len(below) else None
sf_at_cross = 10 ** smooth_sf[below[0].item()].item() if len(below) else float("nan")
claims.say(f"The original run's {window}-step mean comes down to $\\ln 27$, where the fixed run started, only at "
           f"step {cross_step:,} ({cross_step / S.max_steps:.1%} of the run); by then the fixed run's {window}-step "
           f"mean loss is {sf_at_cross:.2f}." if cross_step is not None else
           f"The original run's {window}-step mean never comes down to $\\ln 27$ in {S.max_steps:,} steps.",
           cross_step is not None and sf_at_cross < lecture.EXPECTED_INITIAL_LOSS,
           f"crossing step {cross_step}, fixed run's loss there {sf_at_cross:.3f}")

# %% [markdown]
# What those steps did shows in the logits. The cell below trains a fresh copy of the
# original network for just those steps, on the same minibatches, and measures its logits
# on the first minibatch again.

# %%
blade_steps = cross_step or S.max_steps
model_blade, g_blade = new_mlp("original")
train.train(model_blade, D.Xtr, D.Ytr, blade_steps, g_blade, lr=train.lr_schedule(0.1, 0.01, decay_step),
            ud_every=None, desc="MLP, original init, the blade")
with torch.no_grad():
    logits_blade = model_blade(Xb)                                  # (32, 27)


def mean_gap(logits, y):
    """mean_i (max_j z_ij - z_iy): what the loss comes to once one logit dominates."""
    return (logits.max(1).values - logits[torch.arange(len(y)), y]).mean().item()


std_before, std_after = logits.std().item(), logits_blade.std().item()
gap_before, gap_after = mean_gap(logits.detach(), Yb), mean_gap(logits_blade, Yb)
claims.say(f"After {blade_steps:,} steps the gap $\max_j z_j - z_y$ on the first minibatch averages "
           f"{gap_after:.2f}, down from {gap_before:.1f} at initialization, and the loss there is "
           f"{F.cross_entropy(logits_blade, Yb).item():.2f}, down from {loss0:.1f}. The logits' std has fallen "
           f"less, from {std_before:.2f} to {std_after:.2f}: a network may keep spread-out logits as long as "
           f"the correct token's is near the top.",
           gap_after < gap_before / 3 and std_after < 0.75 * std_before,
           f"gap {gap_before:.2f} -> {gap_after:.2f}, logits std {std_before:.3f} -> {std_after:.3f}")

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
    """Histograms, saturation counts and the white-columns picture of model.h on the batch it last saw;
    returns the numbers the prose reads (fractions of the batch's entries unless named dev)."""
    h, hpreact = model.h.detach(), model.hpreact.detach()    # (32, 200), (32, 200)
    plots.plot_hist(hpreact, title=f"hpreact at init, {label}", xlabel="hpreact (pre-activation value)")
    plots.plot_hist(h, title=f"h = tanh(hpreact) at init, {label}", xlabel="h = tanh(hpreact)")
    saturated = h.abs() > 0.99                                # (32, 200)
    print(f"{label}: hpreact std {hpreact.std().item():.2f}; |h| > 0.99 for {saturated.float().mean().item():.1%} "
          f"of the batch's activations; mean 1 - h^2 = {(1 - h**2).mean().item():.3f}")
    with torch.no_grad():
        model(D.Xdev)                                         # model.h is now (N_dev, 200)
        per_neuron = (model.h.abs() > 0.99).float().mean(0)  # (200,)
        dev_std = model.hpreact.std().item()
        model.h, model.hpreact = h, hpreact                   # keep the batch's values for later cells
    print(f"neurons saturated on all 32 examples of the batch: {saturated.all(0).sum().item()}; "
          f"on all {len(D.Xdev):,} dev examples: {(per_neuron == 1).sum().item()}; "
          f"the most saturated neuron is saturated on {per_neuron.max().item():.1%} of them")
    plots.plot_saturation(h, title=f"|h| > 0.99 (white) at init, {label}")
    return dict(std=hpreact.std().item(), dev_std=dev_std, max_abs=hpreact.abs().max().item(),
                linear=(hpreact.abs() <= 1).float().mean().item(), beyond2=(hpreact.abs() > 2).float().mean().item(),
                sat=saturated.float().mean().item(), grad=(1 - h**2).mean().item(),
                dead_batch=saturated.all(0).sum().item(), dead_dev=(per_neuron == 1).sum().item(),
                most=per_neuron.max().item())


m_orig = at_init("original")
st_orig = show_saturation(m_orig, "original")
claims.say(f"What to see: `hpreact` spreads out to $\\pm{st_orig['max_abs']:.0f}$, far beyond the range "
           f"$|x| \\lesssim 1$ where tanh is roughly linear: {1 - st_orig['linear']:.0%} of its entries lie outside "
           f"it, {st_orig['beyond2']:.0%} beyond $\\pm 2$, where $1 - \\tanh^2 < {1 - math.tanh(2) ** 2:.2f}$. So `h` "
           f"piles up at $-1$ and $+1$: {st_orig['sat']:.0%} of the batch's values have $|h| > 0.99$, the white "
           f"in the last picture.",
           st_orig["linear"] < 0.5 and st_orig["sat"] > 0.5,
           f"|hpreact| <= 1 for {st_orig['linear']:.1%}, |h| > 0.99 for {st_orig['sat']:.1%}")

# %% [markdown]
# That matters for learning because of tanh's derivative:
#
# $$\frac{\partial h}{\partial\,\texttt{hpreact}} = 1 - \tanh^2(\texttt{hpreact}) = 1 - h^2 .$$
#
# In backpropagation the gradient arriving at $h$ is multiplied by $1 - h^2$. A unit with
# $|h| \approx 1$ passes almost nothing back, so neither its column of $W_1$, nor its bias,
# nor the embeddings through it learn from that example. In the picture each row is an
# example and each column a neuron. A column white from top to bottom would be a neuron
# saturated for every example: its incoming weights and bias get (almost) no gradient from
# any example, a dead neuron. The cell above also counts them over the whole dev set.

# %%
claims.say(f"Here {st_orig['dead_batch']} columns are white from top to bottom, and {st_orig['dead_dev']} neurons "
           f"are saturated on every dev example (the most saturated one on {st_orig['most']:.0%} of them). "
           f"{'Even without dead neurons' if st_orig['dead_dev'] == 0 else 'Besides the dead neurons'}, the mean of "
           f"$1 - h^2$ says how much of the gradient the layer lets through on average: here "
           f"{st_orig['grad']:.0%}. In a deeper network that factor multiplies from layer to layer.",
           st_orig["grad"] < 0.5, f"mean 1 - h^2 = {st_orig['grad']:.3f}, dead: {st_orig['dead_dev']}")

# %% [markdown]
# The cause is the scale of `hpreact`. Each of its entries is a sum of 30 products
# $\texttt{embcat}_i W_{1,ij}$ plus $b_{1,j}$, all with variance 1, so its standard
# deviation should be about $\sqrt{31}$:

# %%
print(f"sqrt(fan_in + 1) = sqrt({fan_in} + 1) = {math.sqrt(fan_in + 1):.2f}; "
      f"measured hpreact std {m_orig.hpreact.std().item():.2f}")
std_off = max(abs(s / math.sqrt(fan_in + 1) - 1) for s in (st_orig["std"], st_orig["dev_std"]))
claims.say(f"Measured: {st_orig['std']:.2f} on the batch and {st_orig['dev_std']:.2f} on the whole dev set, "
           f"within {std_off:.0%} of $\\sqrt{{31}} = {math.sqrt(fan_in + 1):.2f}$.",
           std_off < 0.1, f"batch {st_orig['std']:.3f}, dev {st_orig['dev_std']:.3f}, sqrt(31) {math.sqrt(31):.3f}")

# %% [markdown]
# The lecture's fix is to shrink the first layer by hand: $W_1 \times 0.2$ and
# $b_1 \times 0.01$, which should bring the standard deviation to about $0.2\sqrt{30}$
# (the bias now adds almost nothing). The same plots after the fix:

# %%
m_tanh = at_init("tanh_fixed")
st_tanh = show_saturation(m_tanh, "tanh fixed")
std_02_predicted = 0.2 * math.sqrt(fan_in)
claims.say(f"What to see: `hpreact` now has std {st_tanh['std']:.2f} on the batch ({st_tanh['dev_std']:.2f} on the "
           f"dev set), against $0.2\\sqrt{{30}} = {std_02_predicted:.2f}$, and {st_tanh['linear']:.0%} of it lies "
           f"in the roughly linear range $|x| \\le 1$ (before: {st_orig['linear']:.0%}). The histogram of `h` has "
           f"lost its spikes at $\\pm 1$: {st_tanh['sat']:.1%} of the values have $|h| > 0.99$ (before: "
           f"{st_orig['sat']:.0%}), the picture is almost black, and the mean of $1 - h^2$ rises from "
           f"{st_orig['grad']:.2f} to {st_tanh['grad']:.2f}, {st_tanh['grad'] / st_orig['grad']:.1f} times as much "
           f"gradient through the layer.",
           abs(st_tanh["dev_std"] / std_02_predicted - 1) < 0.15 and st_tanh["sat"] < 0.05 < st_orig["sat"]
           and st_tanh["grad"] > 2 * st_orig["grad"],
           f"std {st_tanh['std']:.3f} (dev {st_tanh['dev_std']:.3f}) vs {std_02_predicted:.3f}; "
           f"saturated {st_tanh['sat']:.1%} vs {st_orig['sat']:.1%}")

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
growth_off = max(abs(r[2] / r[3] - 1) for r in rows)
scaled_off = max(abs(r[4] - 1) for r in rows)
claims.say(f"At every fan-in std(x @ w) is within {growth_off:.1%} of $\\sqrt{{n}}$, and with $w / \\sqrt{{n}}$ "
           f"the product keeps the std of its input to within {scaled_off:.1%}.",
           growth_off < 0.05 and scaled_off < 0.05, f"largest deviations {growth_off:.3f}, {scaled_off:.3f}")

# %%
x = torch.randn(1000, 10, generator=g_k)       # (1000, 10)
w = torch.randn(10, 200, generator=g_k)        # (10, 200)
plots.plot_distributions({"x": x, "x @ w": x @ w, "x @ (w / sqrt(10))": x @ (w / 10**0.5)},
                         title="x @ w spreads out by sqrt(fan-in) unless w is scaled", xlabel="entry value")
claims.say(f"What to see: `x` (std {x.std():.2f}) and `x @ (w / sqrt(10))` (std {(x @ (w / 10**0.5)).std():.2f}) "
           f"are the same bell; `x @ w` is {(x @ w).std() / x.std():.2f} times as wide, "
           f"$\\sqrt{{10}} = {math.sqrt(10):.2f}$, so its curve is lower and flatter.",
           abs((x @ w).std() / x.std() / math.sqrt(10) - 1) < 0.05 and abs((x @ (w / 10**0.5)).std() - 1) < 0.05,
           f"std x {x.std():.3f}, x @ w {(x @ w).std():.3f}, scaled {(x @ (w / 10**0.5)).std():.3f}")

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
                 title="tanh and its derivative", xlabel="x", ylabel="tanh(x) and 1 - tanh(x)^2")
slope = {v: 1 - math.tanh(v) ** 2 for v in (1, 2, 3)}
claims.say(f"What to see: tanh has slope 1 only at 0; its derivative is {slope[1]:.2f} at $\\pm 1$, "
           f"{slope[2]:.3f} at $\\pm 2$ and {slope[3]:.3f} at $\\pm 3$, so a unit whose pre-activation sits "
           f"beyond $\\pm 2$ passes back less than a tenth of its gradient.",
           slope[2] < 0.1, f"1 - tanh(2)^2 = {slope[2]:.4f}")

# %% [markdown]
# What the gain does in a stack of ten random tanh layers of width 200, fed with unit
# Gaussians:

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
                 xlabel="layer", ylabel="std of the pre-activation", hline=1.0)
print("saturation (|tanh| > 0.97) at layer 10: " + ", ".join(f"gain {k}: {v[-1]:.1%}" for k, v in sat.items()))
s1, s53, s3 = stds["gain 1"], stds["gain 5/3"], stds["gain 3"]
claims.say(f"What to see: too small a gain and the pre-activations shrink towards 0, from std {s1[0]:.2f} to "
           f"{s1[-1]:.2f} at layer 10 with gain 1 (tanh becomes linear, and the stack with it); too large and "
           f"they grow into saturation, std {s3[-1]:.2f} and {sat['3'][-1]:.0%} of the outputs beyond 0.97 at "
           f"layer 10 with gain 3; $5/3$ keeps their spread near 1: after the first layer, whose input is a unit "
           f"Gaussian rather than a tanh output, the std stays between {min(s53[1:]):.2f} and {max(s53[1:]):.2f}.",
           s1[-1] < 0.5 and s3[-1] > 2 and sat["3"][-1] > 0.2 and all(abs(v - 1) < 0.3 for v in s53[1:]),
           f"layer-10 std: gain 1 {s1[-1]:.3f}, 5/3 {s53[-1]:.3f}, 3 {s3[-1]:.3f}; 5/3 after layer 1 "
           f"{min(s53[1:]):.3f}-{max(s53[1:]):.3f}")

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
torch_off = abs(w_torch.std().item() / kaiming_scale - 1)
wrong_off = abs(w_wrong.std().item() / (models.TANH_GAIN / 200**0.5) - 1)
claims.check("kaiming_normal_ on (200, 30) draws the formula's std; on (30, 200) it reads the fan-in as 200",
             torch_off < 0.03 and wrong_off < 0.03,
             f"{w_torch.std().item():.4f} vs {kaiming_scale:.4f}; {w_wrong.std().item():.4f} vs "
             f"{models.TANH_GAIN / 200**0.5:.4f}")
m_02 = at_init("tanh_fixed")
std_k, std_02 = m_kai.hpreact.std().item(), m_02.hpreact.std().item()
sat_k, sat_02 = [(m.h.abs() > 0.99).float().mean().item() for m in (m_kai, m_02)]
claims.say(f"The Kaiming scale {kaiming_scale:.4f} is {kaiming_scale / 0.2 - 1:.0%} larger than the "
           f"hand-picked 0.2, so its hidden pre-activations start wider (std {std_k:.2f} against {std_02:.2f}) "
           f"and more units saturate ({sat_k:.1%} against {sat_02:.1%} with |h| > 0.99).",
           kaiming_scale > 0.2 and std_k > std_02 and sat_k > sat_02,
           f"scale {kaiming_scale:.4f} vs 0.2, hpreact std {std_k:.2f} vs {std_02:.2f}, saturated {sat_k:.1%} vs {sat_02:.1%}")

# %% [markdown]
# ### Xavier/Glorot or Kaiming?
#
# The variance of a sum can be kept in either direction through a layer $y = x\,W$ with
# $W$ of shape `(fan_in, fan_out)`. Forward, each $y_j$ sums fan_in terms, so
# $\operatorname{Var}(y) = \text{fan-in}\operatorname{Var}(x)\operatorname{Var}(w)$ and the
# signal keeps its spread for $\operatorname{Var}(w) = 1/\text{fan-in}$. Backward, the
# gradient $\partial\ell/\partial x = (\partial\ell/\partial y)\,W^\top$ sums fan_out terms per
# entry, and it keeps its spread for $\operatorname{Var}(w) = 1/\text{fan-out}$. Unless the
# two fans are equal, one variance cannot do both. Glorot and Bengio (AISTATS 2010) averaged
# the two fans, $\tfrac{1}{2}(\text{fan-in} + \text{fan-out})\operatorname{Var}(w) = 1$:
#
# $$\text{std}(w) = \text{gain}\,\sqrt{\frac{2}{\text{fan-in} + \text{fan-out}}} .$$
#
# PyTorch calls it `torch.nn.init.xavier_normal_`; the formula is symmetric in the two fans,
# so the layout question of `kaiming_normal_` does not arise. He et al.
# ([arXiv:1502.01852](https://arxiv.org/abs/1502.01852), 2015) keep one condition,
# $\text{std}(w) = \text{gain}/\sqrt{\text{fan-in}}$, and note that in a deep stack either
# one alone suffices: the other direction is then off by a constant factor, not by one that
# compounds with depth. The compromise is far from both conditions where the fans differ
# most, as for `W1`: a wide layer (200) after a narrow input (30). The table draws Xavier
# weights for `W1` (own generator) and computes, with the embeddings `C` and bias `b1` of
# the Kaiming model, the hidden layer on the whole dev set. The forward factor
# $\sqrt{30}\,\text{std}(w)$ is how much wider `hpreact` is than `embcat`; the backward
# factor $\sqrt{200}\,\text{std}(w)$ is how much wider the gradient of `embcat` is than that
# of `hpreact`.

# %%
fan_out = 200
g_x = torch.Generator().manual_seed(settings.SEED)
w1_inits = {   # name -> (std by formula, W1 (30, 200))
    "Kaiming, gain 5/3": (kaiming_scale, m_kai.W1),
    "hand-picked 0.2": (0.2, m_02.W1),
    "Xavier, gain 5/3": (models.TANH_GAIN * math.sqrt(2 / (fan_in + fan_out)),
                         torch.nn.init.xavier_normal_(torch.empty(fan_in, fan_out), gain=models.TANH_GAIN,
                                                      generator=g_x)),
    "Xavier, gain 1 (the paper's)": (math.sqrt(2 / (fan_in + fan_out)),
                                     torch.nn.init.xavier_normal_(torch.empty(fan_in, fan_out), generator=g_x)),
}
w1_stats = {}
with torch.no_grad():
    embcat_dev = m_kai.C[D.Xdev].view(len(D.Xdev), -1)       # (N_dev, 30)
    for name, (formula, W1) in w1_inits.items():
        hpreact_dev = embcat_dev @ W1 + m_kai.b1              # (N_dev, 200)
        w1_stats[name] = dict(formula=formula, std=W1.std().item(), fwd=math.sqrt(fan_in) * W1.std().item(),
                              bwd=math.sqrt(fan_out) * W1.std().item(), hpreact=hpreact_dev.std().item(),
                              sat=(torch.tanh(hpreact_dev).abs() > 0.99).float().mean().item())
report.show_table(["W1 (30, 200)", "std by formula", "std drawn", "forward sqrt(30) std", "backward sqrt(200) std",
                   "hpreact std (dev)", "|h| > 0.99 (dev)"],
                  [[name, s["formula"], s["std"], s["fwd"], s["bwd"], s["hpreact"], f"{s['sat']:.2%}"]
                   for name, s in w1_stats.items()])

# %%
kai, hand, xav, xav1 = (w1_stats[k] for k in w1_inits)
xavier_off = max(abs(s["std"] / s["formula"] - 1) for s in (xav, xav1))
claims.check("xavier_normal_ draws the formula's std", xavier_off < 0.03, f"largest deviation {xavier_off:.3f}")
claims.say(f"For `W1` Xavier's std is {xav['formula']:.4f} with the tanh gain ({xav1['formula']:.4f} with the "
           f"paper's gain 1), {xav['formula'] / kai['formula']:.2f} times Kaiming's {kai['formula']:.4f} and below "
           f"the hand-picked 0.2. On the dev set its `hpreact` has std {xav['hpreact']:.2f}, against "
           f"{hand['hpreact']:.2f} with 0.2 and {kai['hpreact']:.2f} with Kaiming, and {xav['sat']:.2%} of the "
           f"hidden values saturate, against {hand['sat']:.1%} and {kai['sat']:.1%}.",
           xav["formula"] < 0.2 < kai["formula"] and xav["hpreact"] < hand["hpreact"] < kai["hpreact"]
           and xav["sat"] <= hand["sat"] <= kai["sat"],
           f"std {xav['formula']:.4f} / 0.2 / {kai['formula']:.4f}; hpreact {xav['hpreact']:.3f} / "
           f"{hand['hpreact']:.3f} / {kai['hpreact']:.3f}; saturated {xav['sat']:.2%} / {hand['sat']:.2%} / "
           f"{kai['sat']:.2%}")
claims.say(f"The two factors show the compromise. Kaiming's forward factor is the gain itself, "
           f"{kai['fwd']:.2f}, while its backward factor is {kai['bwd']:.1f}. Xavier, with the same gain, has "
           f"{xav['fwd']:.2f} and {xav['bwd']:.1f}: it gives up "
           f"{1 - xav['std'] / kai['std']:.0%} of the forward signal's spread to bring the backward factor down. "
           f"In this network the gradient of `embcat` goes on only to the embedding table `C`, so the backward factor "
           f"scales the gradient of `C` alone, while the forward factor decides how far `hpreact` reaches into the "
           f"flat tails of tanh.",
           xav["fwd"] < kai["fwd"] and xav["bwd"] < kai["bwd"] and abs(kai["fwd"] / models.TANH_GAIN - 1) < 0.05,
           f"forward {kai['fwd']:.3f} vs {xav['fwd']:.3f}, backward {kai['bwd']:.3f} vs {xav['bwd']:.3f}")

# %%
fit("kaiming");

# %% [markdown]
# ## The loss log
#
# Each stage trained for the same steps on the same minibatches, evaluated on the whole
# training and dev sets. The lecture's numbers come from its own list of names, so they
# are a reference for the size of the effects, not a target to match digit for digit.

# %%
generator_states = [new_mlp(init)[1].get_state() for init in models.INITS]
claims.check("every init draws the same numbers before training, so all runs see the same minibatches",
             all(torch.equal(s, generator_states[0]) for s in generator_states),
             "generator states after the parameter draws")
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
                title=f"training loss of the four inits (mean of {window} steps)",
                ylabel=f"log10(loss), mean of {window:,} steps")
tail = S.max_steps // 10
tail_means = {init: sum(result.lossi[-tail:]) / tail for init, (_, result) in runs.items()}
fixed_tails = [v for k, v in tail_means.items() if k != "original"]
start_gap = runs["original"][1].lossi[0] - max(r.lossi[0] for k, (_, r) in runs.items() if k != "original")
claims.say(f"What to see: the original run starts far above the others, and over the last {tail:,} steps its "
           f"mean log10 loss, {tail_means['original']:.3f}, is still above the three fixed runs' "
           f"{min(fixed_tails):.3f} to {max(fixed_tails):.3f}, which lie "
           f"{max(fixed_tails) - min(fixed_tails):.3f} apart.",
           tail_means["original"] > max(fixed_tails) and start_gap > 0.5,
           f"log10 loss at step 0: original {start_gap:.2f} above the others; last-tenth mean: "
           + ", ".join(f"{k} {v:.4f}" for k, v in tail_means.items()))

# %% [markdown]
# What the original run loses is the steps spent on the hockey stick and the gradient
# withheld by its saturated units; the cell below reads from the table how much that cost
# in this run, and compares Kaiming with the hand-picked factor.

# %%
best = min((v, k) for k, v in val.items() if k != "original")
claims.say(f"On the dev set the original initialization ends {val['original'] - best[0]:.4f} above the best "
           f"fixed one ({best[1]}, {best[0]:.4f}), and the tanh fix ends "
           f"{'below' if val['tanh_fixed'] < val['softmax_fixed'] else 'above'} the softmax fix "
           f"({val['tanh_fixed']:.4f} vs {val['softmax_fixed']:.4f}).",
           val["original"] > best[0], f"val: " + ", ".join(f"{k} {v:.4f}" for k, v in val.items()))
_, lecture_train_k, lecture_val_k = lecture.RESULTS["mlp/kaiming"]
_, lecture_train_02, lecture_val_02 = lecture.RESULTS["mlp/tanh_fixed"]
ours_k_02 = val["kaiming"] - val["tanh_fixed"]
claims.say(f"In the lecture's numbers, Kaiming initialization lands where the hand-picked factor 0.2 did "
           f"(val {lecture_val_k} against {lecture_val_02}, train {lecture_train_k} against {lecture_train_02}); "
           f"in this run it ends {abs(ours_k_02):.4f} {'below' if ours_k_02 < 0 else 'above'} it on the dev set. "
           f"Its value is that it needed no histogram to find.",
           abs(lecture_val_k - lecture_val_02) < 0.01 and abs(lecture_train_k - lecture_train_02) < 0.01,
           f"lecture val {lecture_val_k} vs {lecture_val_02}, ours {val['kaiming']:.4f} vs {val['tanh_fixed']:.4f}")

# %% [markdown]
# The lecture's point is what happens when the network is deeper, where these effects
# multiply through the layers; chapter 3 removes most of the need for careful scaling with
# BatchNorm, and chapter 4 measures all of this inside a deep network.
#
# Names sampled from the Kaiming model (a name also present in the training list is
# marked with `*`):

# %%
g_sample = torch.Generator().manual_seed(settings.SAMPLE_SEED)
train_names = set(data.split_words(D.words)[0])
for name in train.sample(runs["kaiming"][0], D.itos, D.block_size, n=20, generator=g_sample):
    print(name + (" *" if name in train_names else ""))

# %% [markdown]
# ## What this chapter showed

# %%
ln27 = lecture.EXPECTED_INITIAL_LOSS
claims.say(f"- **The output layer.** With $\\mathcal{{N}}(0, 1)$ weights the first minibatch's loss was {loss0:.1f}, "
           f"{loss0 / ln27:.1f} times $\\ln 27 = {ln27:.2f}$, because the logits had std "
           f"{logits.std().item():.1f}; $W_2 \\times 0.01$, $b_2 = 0$ brought it to {loss0_sf:.2f}. "
           + (f"The original run needed {cross_step:,} steps to come down that far." if cross_step is not None
              else f"The original run never came down that far in {S.max_steps:,} steps."),
           loss0 > 3 * ln27 and abs(loss0_sf - ln27) < 0.1, f"loss0 {loss0:.4f}, fixed {loss0_sf:.4f}")
claims.say(f"- **Numerics.** In float32 $e^z$ overflows above {z_overflow:.1f}; subtracting the largest logit "
           f"first, as `F.cross_entropy` does, keeps the loss finite ({ours[3]:.2f} for our logits times 3, where "
           f"the formula as written gives {ours[2]}).",
           not math.isfinite(ours[2]) and torch_diff < 1e-5, f"naive {ours[2]}, stable {ours[3]:.4f}")
claims.say(f"- **The hidden layer.** `hpreact` with std {st_orig['std']:.2f}, close to $\\sqrt{{31}}$, put "
           f"{st_orig['sat']:.0%} of the hidden values at $|h| > 0.99$; $W_1 \\times 0.2$ brought it to std "
           f"{st_tanh['std']:.2f} and {st_tanh['sat']:.1%}, and let {st_tanh['grad'] / st_orig['grad']:.1f} times "
           f"as much gradient through tanh.",
           st_orig["sat"] > 0.5 > 0.05 > st_tanh["sat"], f"saturated {st_orig['sat']:.1%} -> {st_tanh['sat']:.1%}")
claims.say(f"- **Kaiming.** The rule gain$/\\sqrt{{\\text{{fan-in}}}}$ gives {kaiming_scale:.4f} for `W1`, "
           f"{kaiming_scale / 0.2 - 1:.0%} above the hand-picked 0.2 (hpreact std {std_k:.2f}, {sat_k:.1%} "
           f"saturated); Xavier's average of fan-in and fan-out gives {xav['formula']:.4f}. In the lecture Kaiming "
           f"and 0.2 ended {abs(lecture_val_k - lecture_val_02):.4f} apart on val; here "
           f"{abs(ours_k_02):.4f}, Kaiming {'below' if ours_k_02 < 0 else 'above'}.",
           abs(lecture_val_k - lecture_val_02) < 0.01 and xav["formula"] < 0.2 < kaiming_scale,
           f"lecture {lecture_val_k} vs {lecture_val_02}; ours {val['kaiming']:.4f} vs {val['tanh_fixed']:.4f}")
claims.say(f"- **The loss log.** After {S.max_steps:,} steps per run the dev losses are "
           + ", ".join(f"{init.replace('_', ' ')} {v:.4f}" for init, v in val.items())
           + f": the original initialization is the worst, {val['original'] - best[0]:.4f} above the best.",
           val["original"] == max(val.values()), "val: " + ", ".join(f"{k} {v:.4f}" for k, v in val.items()))
