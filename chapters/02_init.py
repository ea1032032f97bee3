# %% [markdown]
# # Chapter 2: initialization and the hockey-stick loss
#
# A network that has seen no data should not have an opinion. This chapter takes the
# lecture's one-hidden-layer MLP, finds two ways in which its plain `randn` initialization
# has strong and wrong opinions (an overconfident output layer and a saturated hidden
# layer), fixes each by scaling, and ends with the principled version of the fix, Kaiming
# initialization. Each stage is trained to the end, and the losses are collected in a log.

# %% tags=["parameters"]
# This chapter's knobs at the book's values; a run of your own:
# python chapters/02_init.py --set n_hidden=100 lr=0.05   (papermill: -p n_hidden 100)
n_hidden = 200          # neurons in the hidden layer
lr = 0.1                # learning rate (a tenth of it after the decay step)

# %%
import collections
import math

import torch
import torch.nn.functional as F

from makemore_lib import chapter, data, lecture, models, plots, report, settings, train

S, D, claims = chapter.begin(globals())
decay_step = S.steps(100_000)
print(f"mode: {S.mode}; every training run: {S.max_steps:,} steps, batch 32, "
      f"lr {lr:g}, then {lr / 10:g} from step {decay_step:,}")
vocab_size = D.vocab_size
ln_vocab = math.log(vocab_size)               # the loss of a uniform guess over the vocabulary
report.publish("init/vocab_size", vocab_size)
report.publish("init/ln_vocab", ln_vocab, ".4f")
report.publish("init/uniform_p", 1 / vocab_size, ".3f")

# %% [markdown]
# ## The model
#
# The lecture's MLP embeds each of the 3 context tokens in 10 dimensions (table `C`),
# concatenates them into 30 numbers, and passes them through one hidden layer of 200
# `tanh` units and an output layer of one logit per token of the vocabulary, $V$ = `vocab_size`
# logits ({{ value init/vocab_size }} for the word list of this run):
#
# $$\texttt{hpreact} = \texttt{embcat}\,W_1 + b_1, \qquad h = \tanh(\texttt{hpreact}), \qquad
# \texttt{logits} = h\,W_2 + b_2 .$$
#
# Every parameter is drawn from one seeded generator in the lecture's order (`C`, `W1`,
# `b1`, `W2`, `b2`), and the first minibatch comes from the same generator right after, so
# the numbers at step 0 are reproducible. The helpers below build a model and peek at the
# first minibatch that training will draw, without advancing the generator.

# %%
def new_mlp(init, w1_scale=None):
    """The lecture's MLP with one of the initializations of models.INITS (W1's factor replaced by
    `w1_scale`, if given), and its generator."""
    g = torch.Generator().manual_seed(settings.SEED)
    return models.MLP(vocab_size, block_size=D.block_size, n_embd=10, n_hidden=n_hidden, init=init,
                      w1_scale=w1_scale, generator=g), g


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
# Before training, no token should be preferred over another, so the network should give
# each of the $V$ tokens probability about $1/V$, and the cross-entropy loss should be
# $-\ln(1/V) = \ln V$, which is {{ value init/ln_vocab }} here. The cell below measures the
# loss the original initialization gives on the first minibatch.

# %%
ix = first_batch(g)
Xb, Yb = D.Xtr[ix], D.Ytr[ix]                 # (32, block_size), (32,)
logits = model(Xb)                            # (32, vocab_size)
loss0 = F.cross_entropy(logits, Yb).item()
probs = F.softmax(logits, dim=1)              # (32, vocab_size)
print(f"logits: std {logits.std().item():.2f}, range [{logits.min().item():.1f}, {logits.max().item():.1f}]")
report.publish("init/loss0", loss0, fmt=".4f")
report.publish("init/loss0_vs_ln_vocab", loss0 / ln_vocab, ".1f")

# %% [markdown]
# On the first minibatch the original initialization gives a loss of {{ value init/loss0 }},
# against $\ln V$ = {{ value init/ln_vocab }} for a uniform guess. Where does it come from?

# %%
p_max = probs.max(1).values                   # (32,)
p_correct = probs[torch.arange(32), Yb]       # (32,)
right = probs.argmax(1) == Yb                 # (32,) the favourite is the correct token
below_uniform = (p_correct < 1 / vocab_size).float().mean().item()
share_right = (p_correct[right].sum() / p_correct.sum()).item()
report.publish("init/p_max_mean", p_max.mean().item(), ".2f")
report.publish("init/n_right", right.sum().item())
report.publish("init/below_uniform", below_uniform, ".0%")
report.publish("init/p_correct_median", p_correct.median().item(), ".0e")
report.publish("init/p_correct_mean", p_correct.mean().item(), ".3f")
report.publish("init/share_right", share_right, ".0%")

# %% [markdown]
# The network is not unsure; it is sure and wrong. It gives its favourite token probability
# {{ value init/p_max_mean }} on average, where a uniform guess gives $1/V$ =
# {{ value init/uniform_p }}, and that favourite is the correct token in
# {{ value init/n_right }} of the 32 examples. The correct token gets less than $1/V$ in
# {{ value init/below_uniform }} of them (median probability {{ value init/p_correct_median }}).
# Its mean probability, {{ value init/p_correct_mean }}, comes almost entirely
# ({{ value init/share_right }}) from the examples where the favourite is right.

# %% tags=["remove-cell"]
claims.check("it is sure and wrong", p_max.mean() > 0.5 and below_uniform > 0.8 and right.sum() <= 3,
             f"mean max prob {p_max.mean():.3f}, correct < 1/V in {below_uniform:.0%}, favourite right in "
             f"{right.sum().item()} of 32")
# this batch: 99.99% under avx512, avx2 and default kernels; another draw can differ (seeds 0-2: 78% ... 99.9%)
claims.check("comes almost entirely", share_right > 0.9, f"share of the right ones {share_right:.1%}")

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
z_small = torch.randn(1000, 4, generator=g_many) * 0.1    # (1000, 4)
z_large = torch.randn(1000, 4, generator=g_many) * 10     # (1000, 4)
small = -F.log_softmax(z_small, 1)[:, target]             # (1000,)
large = -F.log_softmax(z_large, 1)[:, target]             # (1000,)
far_above = (large > 2 * math.log(4)).float().mean().item()
report.publish("init/ln4", math.log(4), ".3f")
report.publish("init/small_min", small.min().item(), ".2f")
report.publish("init/small_max", small.max().item(), ".2f")
report.publish("init/large_min", large.min().item() + 0.0, ".2f")
report.publish("init/large_max", large.max().item(), ".0f")
report.publish("init/large_median", large.median().item(), ".1f")
report.publish("init/far_above", far_above, ".0%")

# %% [markdown]
# Small random logits stay close to $\ln 4$ = {{ value init/ln4 }}: over 1,000 draws of
# `randn * 0.1` the loss stays between {{ value init/small_min }} and {{ value init/small_max }}.
# Large random logits can land anywhere, from {{ value init/large_min }} (when the correct
# token happens to get the largest logit) to {{ value init/large_max }}, mostly far above:
# over 1,000 draws of `randn * 10` the median is {{ value init/large_median }}, and
# {{ value init/far_above }} of the losses exceed $2 \ln 4$.

# %% tags=["remove-cell"]
claims.check("Small random logits stay close to $\\ln 4$", (small - math.log(4)).abs().max() < 0.5,
             f"small: {small.min():.3f} to {small.max():.3f}")
claims.check("when the correct token happens to get the largest logit", z_large[large.argmin()].argmax() == target,
             f"lowest loss {large.min():.4f}, logits there {z_large[large.argmin()].tolist()}")
claims.check("mostly far above", far_above > 0.5, f"median {large.median():.2f}, {far_above:.1%} above 2 ln 4")

# %% [markdown]
# Why are our logits large? $\texttt{logits}_j = \sum_k h_k W_{2,kj} + b_{2,j}$ with
# $W_2, b_2 \sim \mathcal{N}(0, 1)$, so for a given $h$ each logit is a sum of 201
# independent terms with variance $\sum_k h_k^2 + 1$, at most 201 since $|h_k| < 1$. Most
# hidden values are near $\pm 1$ (next section), so the variance should come close to that
# bound. The cell below computes the prediction from the actual $h$ and measures the logits:

# %% tags=["remove-cell"]
claims.check("Most hidden values are near $\\pm 1$", (model.h.abs() > 0.9).float().mean() > 0.5,
             f"|h| > 0.9 for {(model.h.abs() > 0.9).float().mean():.1%} of the first batch's hidden values")

# %%
predicted_std = ((model.h**2).sum(1) + 1).mean().sqrt().item()
logit_var = predicted_std**2
logit_off = abs(logits.std().item() / predicted_std - 1)
report.publish("init/logit_var", logit_var, ".0f")
report.publish("init/logit_var_share", logit_var / 201, ".0%")
report.publish("init/logit_std_predicted", predicted_std, ".2f")
report.publish("init/logit_std", logits.std().item(), ".2f")
report.publish("init/logit_std_short", logits.std().item(), ".1f")
report.publish("init/logit_std_off", logit_off, ".0%")

# %% [markdown]
# On this batch $\sum_k h_k^2 + 1$ averages {{ value init/logit_var }}, close to its bound of
# 201 ({{ value init/logit_var_share }} of it), so the predicted logit std is
# {{ value init/logit_std_predicted }}; the measured std of the logits,
# {{ value init/logit_std }}, is close to the prediction ({{ value init/logit_std_off }} off).

# %% tags=["remove-cell"]
claims.check("close to its bound of 201", logit_var / 201 > 0.75, f"variance {logit_var:.1f} of 201")
# this batch: 4.4% off under all three kernel sets (seeds 0-2: 3.1% ... 12.2%)
claims.check("is close to the prediction", logit_off < 0.1,
             f"std predicted {predicted_std:.3f}, measured {logits.std().item():.3f}")

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
torch_diff = max(rel_diff(r[3], r[4]) for r in overflow_rows)
double_diff = max(rel_diff(r[5], r[3]) for r in overflow_rows)
toy, ours = overflow_rows
report.publish("init/naive_toy", toy[2])
report.publish("init/naive_ours", ours[2])
report.publish("init/ours_largest", ours[1], ".0f")
report.publish("init/z_overflow", z_overflow, ".1f")
report.publish("init/stable_toy", toy[3], ".4f")
report.publish("init/stable_ours", ours[3], ".4f")
report.publish("init/stable_ours_short", ours[3], ".2f")
report.publish("init/torch_diff", torch_diff, ".1g")
report.publish("init/double_diff", double_diff, ".1g")
report.publish("init/z_overflow64", z_overflow64, ".1f")
report.publish("init/logit_max", logits.max().item(), ".0f")
report.publish("init/overflow_factor", z_overflow / logits.max().item(), ".1f")

# %% [markdown]
# As written, the loss is {{ value init/naive_toy }} for the three logits and
# {{ value init/naive_ours }} for our logits times 3 (largest {{ value init/ours_largest }},
# beyond {{ value init/z_overflow }}): an `inf` in the sum makes every other probability 0,
# whose loss $-\ln 0$ is `inf`, and the overflowing one `inf / inf`, which is `nan`. With the
# max subtracted the losses are {{ value init/stable_toy }} and {{ value init/stable_ours }},
# the same as `F.cross_entropy` gives to float32 rounding (relative difference at most
# {{ value init/torch_diff }}), and the formula as written agrees ({{ value init/double_diff }})
# in float64, where $e^z$ overflows only above {{ value init/z_overflow64 }}. Our logits at
# initialization reach {{ value init/logit_max }}: logits {{ value init/overflow_factor }} times
# larger would already overflow with the formula as written.

# %% tags=["remove-cell"]
claims.check("As written, the loss is", all(not math.isfinite(r[2]) for r in overflow_rows) and ours[1] > z_overflow,
             f"naive {toy[2]}, {ours[2]}; largest logit {ours[1]:.1f}")
claims.check("the same as `F.cross_entropy` gives to float32 rounding", torch_diff < 1e-5,
             f"stable vs F.cross_entropy {torch_diff:.1e}")
claims.check("the formula as written agrees", double_diff < 1e-5, f"float64 naive vs stable {double_diff:.1e}")
claims.check("would already overflow", logits.max().item() < z_overflow,
             f"largest logit {logits.max().item():.2f}, overflow above {z_overflow:.2f}")

# %% [markdown]
# ### The fix: a small output layer
#
# The fix is to make the output layer start small: $W_2 \times 0.01$ and $b_2 = 0$. The
# logits should then be close to 0, the softmax close to uniform, and the loss close to
# $\ln V$. $W_2$ is not set exactly to zero: with $W_2 = 0$ the gradient reaching the
# hidden layer, $\partial\ell/\partial h = (\partial\ell/\partial\,\texttt{logits})\,W_2^\top$,
# would be zero at the first step.

# %%
model_sf, g_sf = new_mlp("softmax_fixed")
logits_sf = model_sf(D.Xtr[first_batch(g_sf)])   # (32, vocab_size)
loss0_sf = F.cross_entropy(logits_sf, Yb).item()
p_max_sf = F.softmax(logits_sf, dim=1).max().item()
report.publish("init/loss0_softmax_fixed", loss0_sf, fmt=".4f")
report.publish("init/sf_max_abs", logits_sf.abs().max().item(), ".2f")
report.publish("init/sf_logit_std", logits_sf.std().item(), ".3f")
report.publish("init/sf_p_max", p_max_sf, ".3f")
report.publish("init/sf_vs_ln_vocab", loss0_sf - ln_vocab, "+.4f")

# %% [markdown]
# Measured: the logits stay near 0, at most {{ value init/sf_max_abs }} away (std
# {{ value init/sf_logit_std }}), no token gets more than {{ value init/sf_p_max }} where the
# uniform guess gives {{ value init/uniform_p }}, and the loss is
# {{ value init/loss0_softmax_fixed }}, only {{ value init/sf_vs_ln_vocab }} from $\ln V$.

# %% tags=["remove-cell"]
claims.check("the logits stay near 0", logits_sf.abs().max().item() < 1, f"max |logit| {logits_sf.abs().max():.3f}")
claims.check("only {{ value init/sf_vs_ln_vocab }} from $\\ln V$", abs(loss0_sf - ln_vocab) < 0.1,
             f"loss {loss0_sf:.4f}, ln V {ln_vocab:.4f}")

# %% [markdown]
# Now train both. `train.train` records $\log_{10}$ of every minibatch loss in `lossi`.

# %%
runs = {}


def fit(init):
    """Train a fresh MLP with the given init for the full number of steps; keep it in `runs`."""
    model, g = new_mlp(init)
    result = train.train(model, D.Xtr, D.Ytr, S.max_steps, g, lr=train.lr_schedule(lr, lr / 10, decay_step),
                         ud_every=None, desc=f"MLP, {init} init")
    runs[init] = (model, result)
    print(f"{init}: {result.steps:,} steps in {result.seconds:.1f} s; loss at step 0 {10 ** result.lossi[0]:.4f}, "
          f"last minibatch {result.final_loss:.4f}")
    return model, result


fit("original")
fit("softmax_fixed");

# %% [markdown]
# The first entry of each log is the loss on the first minibatch measured above, so the
# training loop starts from exactly these initializations.

# %% tags=["remove-cell"]
claims.check("starts from exactly these initializations",
             abs(10 ** runs["original"][1].lossi[0] / loss0 - 1) < 1e-5
             and abs(10 ** runs["softmax_fixed"][1].lossi[0] / loss0_sf - 1) < 1e-5,
             f"step 0: {10 ** runs['original'][1].lossi[0]:.5f} vs {loss0:.5f}, "
             f"{10 ** runs['softmax_fixed'][1].lossi[0]:.5f} vs {loss0_sf:.5f}")

# %%
n_show = min(S.max_steps, 2_000)
plots.plot_loss({init: runs[init][1].lossi[:n_show] for init in ["original", "softmax_fixed"]},
                title=f"the hockey stick: first {n_show:,} steps")
lossi_orig, lossi_sf = runs["original"][1].lossi, runs["softmax_fixed"][1].lossi
start_orig, start_sf = lossi_orig[0], lossi_sf[0]
blade_end = n_show // 10                      # the first tenth of the plot
drop_orig = start_orig - sum(lossi_orig[blade_end - 10:blade_end + 10]) / 20
drop_sf = start_sf - sum(lossi_sf[blade_end - 10:blade_end + 10]) / 20
tail_orig, tail_sf = [sum(lossi[n_show - 100:n_show]) / 100 for lossi in (lossi_orig, lossi_sf)]
report.publish("init/start_orig", start_orig, ".2f")
report.publish("init/start_orig_loss", 10 ** start_orig, ".1f")
report.publish("init/start_sf", start_sf, ".2f")
report.publish("init/start_sf_loss", 10 ** start_sf, ".2f")
report.publish("init/blade_end", blade_end, ",")
report.publish("init/drop_orig", drop_orig, ".2f")
report.publish("init/drop_sf", drop_sf, ".2f")
report.publish("init/show_from", n_show - 100, ",")
report.publish("init/show_to", n_show, ",")
report.publish("init/tail_orig", tail_orig, ".3f")
report.publish("init/tail_sf", tail_sf, ".3f")
report.publish("init/tail_relation", "still above" if tail_orig > tail_sf else "no longer above")

# %% [markdown]
# What to see: the original run starts at a log10 loss of {{ value init/start_orig }} (a loss
# of {{ value init/start_orig_loss }}) and falls steeply at first, the blade of the hockey
# stick: by step {{ value init/blade_end }} its log10 loss has dropped by
# {{ value init/drop_orig }}. The fixed run starts at {{ value init/start_sf }} (a loss of
# {{ value init/start_sf_loss }}) and has no blade: it drops by {{ value init/drop_sf }} in
# the same steps. Over steps {{ value init/show_from }} to {{ value init/show_to }} the
# original run is {{ value init/tail_relation }} the fixed one ({{ value init/tail_orig }}
# against {{ value init/tail_sf }}).

# %% tags=["remove-cell"]
# measured over avx512/avx2/default x seeds (SEED, 0-2 quick; SEED, 0 full): drop by step 200 0.54 ... 0.59,
# drop_sf / drop_orig 0.185 ... 0.216; bounds 0.3 and 1/3
claims.check("falls steeply at first", start_orig > start_sf + 0.5 and drop_orig > 0.3,
             f"log10 loss at step 0: {start_orig:.3f} vs {start_sf:.3f}; drop by step {blade_end}: {drop_orig:.3f}")
claims.check("has no blade", drop_sf < drop_orig / 3, f"drop by step {blade_end}: {drop_sf:.3f} vs {drop_orig:.3f}")

# %% [markdown]
# The original run spends its first steps mostly on one thing: undoing its confidently
# wrong predictions, by closing the gap between the largest logit and the correct one and
# shrinking the logits with it (measured below). That is the steep part of the hockey
# stick. The fixed run starts where this phase ends, near $\ln V$. How many steps does the
# original run need just to come down to the loss the fixed run starts from ($\ln V$,
# averaged over 10 steps)?

# %%
window = 10
smooth = torch.tensor(lossi_orig).unfold(0, window, 1).mean(1)     # (steps - window + 1,)
smooth_sf = torch.tensor(lossi_sf).unfold(0, window, 1).mean(1)    # (steps - window + 1,)
below = (smooth < math.log10(ln_vocab)).nonzero()
cross_step = below[0].item() + window - 1 if len(below) else None
sf_at_cross = 10 ** smooth_sf[below[0].item()].item() if len(below) else float("nan")
report.publish("init/cross_at", f"at step {cross_step:,} ({cross_step / S.max_steps:.1%} of the run)"
               if cross_step is not None else f"at none of its {S.max_steps:,} steps")
report.publish("init/window", window)
report.publish("init/sf_at_cross", sf_at_cross, ".2f")

# %% [markdown]
# The original run's {{ value init/window }}-step mean loss first comes down to $\ln V$, where
# the fixed run started, {{ value init/cross_at }}; by then the fixed run's mean loss over
# the same steps is {{ value init/sf_at_cross }}, already well below $\ln V$.

# %% tags=["remove-cell"]
# measured over avx512/avx2/default x seeds (SEED, 0-2 quick; SEED, 0 full): 2.23 ... 2.35 at crossing steps
# 788 ... 1,388; bound ln V - 0.5 (2.80 for 27 tokens)
claims.check("already well below $\\ln V$", sf_at_cross < ln_vocab - 0.5,
             f"crossing step {cross_step}, fixed run's loss there {sf_at_cross:.3f}, ln V {ln_vocab:.3f}")

# %% [markdown]
# What those steps did shows in the logits. The cell below trains a fresh copy of the
# original network for just those steps, on the same minibatches, and measures its logits
# on the first minibatch again.

# %%
blade_steps = cross_step or S.max_steps
model_blade, g_blade = new_mlp("original")
train.train(model_blade, D.Xtr, D.Ytr, blade_steps, g_blade, lr=train.lr_schedule(lr, lr / 10, decay_step),
            ud_every=None, desc="MLP, original init, the blade")
with torch.no_grad():
    logits_blade = model_blade(Xb)                                  # (32, vocab_size)


def mean_gap(logits, y):
    """mean_i (max_j z_ij - z_iy): what the loss comes to once one logit dominates."""
    return (logits.max(1).values - logits[torch.arange(len(y)), y]).mean().item()


std_before, std_after = logits.std().item(), logits_blade.std().item()
gap_before, gap_after = mean_gap(logits.detach(), Yb), mean_gap(logits_blade, Yb)
report.publish("init/blade_steps", blade_steps, ",")
report.publish("init/gap_before", gap_before, ".1f")
report.publish("init/gap_after", gap_after, ".2f")
report.publish("init/loss_blade", F.cross_entropy(logits_blade, Yb).item(), ".2f")
report.publish("init/loss0_short", loss0, ".1f")
report.publish("init/std_before", std_before, ".2f")
report.publish("init/std_after", std_after, ".2f")

# %% [markdown]
# After {{ value init/blade_steps }} steps the gap $\max_j z_j - z_y$ on the first minibatch
# averages {{ value init/gap_after }}, down from {{ value init/gap_before }} at
# initialization, and the loss there is {{ value init/loss_blade }}, down from
# {{ value init/loss0_short }}. The logits' std has fallen less, from
# {{ value init/std_before }} to {{ value init/std_after }}: a network may keep spread-out
# logits as long as the correct token's is near the top.

# %% tags=["remove-cell"]
# measured over avx512/avx2/default x seeds (SEED, 0-2 quick; SEED, 0 full): gap ratio 0.071 ... 0.108,
# std ratio 0.416 ... 0.509; bounds 1/3, and the gap ratio below the std ratio below 1
claims.check("down from {{ value init/gap_before }}", gap_after < gap_before / 3,
             f"gap {gap_before:.2f} -> {gap_after:.2f}")
claims.check("The logits' std has fallen less", gap_after / gap_before < std_after / std_before < 1,
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
    """Histograms and the white-columns picture of model.h on the batch it last saw; returns the
    numbers the prose reads (fractions of the batch's entries unless named dev)."""
    h, hpreact = model.h.detach(), model.hpreact.detach()    # (32, 200), (32, 200)
    plots.plot_hist(hpreact, title=f"hpreact at init, {label}", xlabel="hpreact (pre-activation value)")
    plots.plot_hist(h, title=f"h = tanh(hpreact) at init, {label}", xlabel="h = tanh(hpreact)")
    saturated = h.abs() > 0.99                                # (32, 200)
    with torch.no_grad():
        model(D.Xdev)                                         # model.h is now (N_dev, 200)
        per_neuron = (model.h.abs() > 0.99).float().mean(0)  # (200,)
        dev_std = model.hpreact.std().item()
        model.h, model.hpreact = h, hpreact                   # keep the batch's values for later cells
    plots.plot_saturation(h, title=f"|h| > 0.99 (white) at init, {label}")
    return dict(std=hpreact.std().item(), dev_std=dev_std, max_abs=hpreact.abs().max().item(),
                linear=(hpreact.abs() <= 1).float().mean().item(), beyond2=(hpreact.abs() > 2).float().mean().item(),
                sat=saturated.float().mean().item(), grad=(1 - h**2).mean().item(),
                dead_batch=saturated.all(0).sum().item(), dead_dev=(per_neuron == 1).sum().item(),
                most=per_neuron.max().item())


m_orig = at_init("original")
st_orig = show_saturation(m_orig, "original")
report.publish("init/orig_max_abs", st_orig["max_abs"], ".0f")
report.publish("init/orig_outside_linear", 1 - st_orig["linear"], ".0%")
report.publish("init/orig_beyond2", st_orig["beyond2"], ".0%")
report.publish("init/slope_at_2", 1 - math.tanh(2) ** 2, ".3f")
report.publish("init/orig_sat", st_orig["sat"], ".0%")

# %% [markdown]
# What to see: `hpreact` spreads out to $\pm${{ value init/orig_max_abs }}, far beyond the
# range $|x| \lesssim 1$ where tanh is roughly linear: {{ value init/orig_outside_linear }}
# of its entries lie outside it, {{ value init/orig_beyond2 }} beyond $\pm 2$, where
# $1 - \tanh^2$ is below {{ value init/slope_at_2 }}. So `h` piles up at $-1$ and $+1$:
# {{ value init/orig_sat }} of the batch's values have $|h| > 0.99$, the white in the last
# picture.

# %% tags=["remove-cell"]
claims.check("far beyond the range", st_orig["max_abs"] > 5 and st_orig["linear"] < 0.5,
             f"max |hpreact| {st_orig['max_abs']:.1f}, |hpreact| <= 1 for {st_orig['linear']:.1%}")
claims.check("So `h` piles up at $-1$ and $+1$", st_orig["sat"] > 0.5, f"|h| > 0.99 for {st_orig['sat']:.1%}")

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
# any example, a dead neuron. The cell below counts them, on the batch and over the whole
# dev set.

# %%
report.publish("init/orig_dead_batch", st_orig["dead_batch"])
report.publish("init/orig_dead_dev", st_orig["dead_dev"])
report.publish("init/dev_examples", len(D.Xdev), ",")
report.publish("init/orig_most", st_orig["most"], ".0%")
report.publish("init/orig_grad", st_orig["grad"], ".0%")

# %% [markdown]
# Columns white from top to bottom: {{ value init/orig_dead_batch }}. Neurons saturated on
# every one of the {{ value init/dev_examples }} dev examples: {{ value init/orig_dead_dev }};
# the most saturated neuron is saturated on {{ value init/orig_most }} of them. Dead or not,
# every saturated value cuts the gradient through it, and the mean of $1 - h^2$ says how
# much of the gradient the layer lets through on average: only {{ value init/orig_grad }}
# here.

# %% tags=["remove-cell"]
claims.check("only {{ value init/orig_grad }}", st_orig["grad"] < 0.5, f"mean 1 - h^2 = {st_orig['grad']:.3f}")

# %% [markdown]
# The cause is the scale of `hpreact`. Each of its entries is a sum of 30 products
# $\texttt{embcat}_i W_{1,ij}$ plus $b_{1,j}$, all with variance 1, so its standard
# deviation should be about $\sqrt{31}$:

# %%
std_off = max(abs(s / math.sqrt(fan_in + 1) - 1) for s in (st_orig["std"], st_orig["dev_std"]))
report.publish("init/orig_std", st_orig["std"], ".2f")
report.publish("init/orig_dev_std", st_orig["dev_std"], ".2f")
report.publish("init/sqrt_fan_in_plus_1", math.sqrt(fan_in + 1), ".2f")
report.publish("init/orig_std_off", std_off, ".0%")

# %% [markdown]
# Measured: {{ value init/orig_std }} on the batch and {{ value init/orig_dev_std }} on the
# whole dev set, close to $\sqrt{31}$ = {{ value init/sqrt_fan_in_plus_1 }} (at most
# {{ value init/orig_std_off }} off).

# %% tags=["remove-cell"]
claims.check("close to $\\sqrt{31}$", std_off < 0.1,
             f"batch {st_orig['std']:.3f}, dev {st_orig['dev_std']:.3f}, sqrt(31) {math.sqrt(fan_in + 1):.3f}")

# %% [markdown]
# The lecture's fix is to shrink the first layer by hand: $W_1 \times 0.2$ and
# $b_1 \times 0.01$, which should bring the standard deviation to about $0.2\sqrt{30}$
# (the bias now adds almost nothing). The same plots after the fix:

# %%
m_tanh = at_init("tanh_fixed")
st_tanh = show_saturation(m_tanh, "tanh fixed")
std_02_predicted = 0.2 * math.sqrt(fan_in)
report.publish("init/tanh_std", st_tanh["std"], ".2f")
report.publish("init/tanh_dev_std", st_tanh["dev_std"], ".2f")
report.publish("init/std_02_predicted", std_02_predicted, ".2f")
report.publish("init/tanh_linear", st_tanh["linear"], ".0%")
report.publish("init/orig_linear", st_orig["linear"], ".0%")
report.publish("init/tanh_sat", st_tanh["sat"], ".1%")
report.publish("init/orig_grad_mean", st_orig["grad"], ".2f")
report.publish("init/tanh_grad_mean", st_tanh["grad"], ".2f")
report.publish("init/grad_ratio", st_tanh["grad"] / st_orig["grad"], ".1f")

# %% [markdown]
# What to see: `hpreact` now has std {{ value init/tanh_std }} on the batch
# ({{ value init/tanh_dev_std }} on the dev set), near $0.2\sqrt{30}$ =
# {{ value init/std_02_predicted }}, and {{ value init/tanh_linear }} of it lies in the
# roughly linear range $|x| \le 1$ (before: {{ value init/orig_linear }}). The histogram of
# `h` has lost its spikes at $\pm 1$: {{ value init/tanh_sat }} of the values have
# $|h| > 0.99$ (before: {{ value init/orig_sat }}), the picture is almost black, and the mean
# of $1 - h^2$ rises from {{ value init/orig_grad_mean }} to {{ value init/tanh_grad_mean }},
# {{ value init/grad_ratio }} times as much gradient through the layer.

# %% tags=["remove-cell"]
claims.check("near $0.2\\sqrt{30}$", max(abs(s / std_02_predicted - 1) for s in (st_tanh["std"], st_tanh["dev_std"])) < 0.15,
             f"std {st_tanh['std']:.3f} (dev {st_tanh['dev_std']:.3f}) vs {std_02_predicted:.3f}")
claims.check("has lost its spikes at $\\pm 1$", st_tanh["sat"] < 0.05 < st_orig["sat"],
             f"saturated {st_tanh['sat']:.1%} vs {st_orig['sat']:.1%}")
claims.check("rises from", st_tanh["grad"] > 2 * st_orig["grad"], f"mean 1 - h^2 {st_orig['grad']:.3f} -> {st_tanh['grad']:.3f}")

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
scaled_off = max(abs(r[4] / r[1] - 1) for r in rows)
report.publish("init/growth_off", growth_off, ".1%")
report.publish("init/scaled_off", scaled_off, ".1%")

# %% [markdown]
# At every fan-in std(x @ w) is close to $\sqrt{n}$ (at most {{ value init/growth_off }}
# off), and with $w / \sqrt{n}$ the product keeps the std of its input (at most
# {{ value init/scaled_off }} off).

# %% tags=["remove-cell"]
claims.check("is close to $\\sqrt{n}$", growth_off < 0.05, f"largest deviation {growth_off:.4f}")
claims.check("the product keeps the std of its input", scaled_off < 0.05, f"largest deviation {scaled_off:.4f}")

# %%
x = torch.randn(1000, 10, generator=g_k)       # (1000, 10)
w = torch.randn(10, 200, generator=g_k)        # (10, 200)
plots.plot_distributions({"x": x, "x @ w": x @ w, "x @ (w / sqrt(10))": x @ (w / 10**0.5)},
                         title="x @ w spreads out by sqrt(fan-in) unless w is scaled", xlabel="entry value")
std_x, std_xw, std_xw_scaled = x.std().item(), (x @ w).std().item(), (x @ (w / 10**0.5)).std().item()
report.publish("init/std_x", std_x, ".2f")
report.publish("init/std_xw_scaled", std_xw_scaled, ".2f")
report.publish("init/xw_widening", std_xw / std_x, ".2f")
report.publish("init/sqrt10", math.sqrt(10), ".2f")

# %% [markdown]
# What to see: `x` (std {{ value init/std_x }}) and `x @ (w / sqrt(10))` (std
# {{ value init/std_xw_scaled }}) are the same bell; `x @ w` is {{ value init/xw_widening }}
# times as wide, near $\sqrt{10}$ = {{ value init/sqrt10 }}, so its curve is lower and flatter.

# %% tags=["remove-cell"]
claims.check("are the same bell", abs(std_xw_scaled / std_x - 1) < 0.05, f"std x {std_x:.3f}, scaled {std_xw_scaled:.3f}")
claims.check("near $\\sqrt{10}$", abs(std_xw / std_x / math.sqrt(10) - 1) < 0.05,
             f"std x {std_x:.3f}, x @ w {std_xw:.3f}")

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
report.publish("init/slope_at_1", 1 - math.tanh(1) ** 2, ".2f")
report.publish("init/slope_at_3", 1 - math.tanh(3) ** 2, ".3f")

# %% [markdown]
# What to see: tanh has slope 1 only at 0; its derivative is {{ value init/slope_at_1 }} at
# $\pm 1$, {{ value init/slope_at_2 }} at $\pm 2$ and {{ value init/slope_at_3 }} at $\pm 3$,
# so a unit whose pre-activation sits beyond $\pm 2$ passes back less than a tenth of its
# gradient.
#
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
report.publish("init/gain1_first", s1[0], ".2f")
report.publish("init/gain1_last", s1[-1], ".2f")
report.publish("init/gain3_last", s3[-1], ".2f")
report.publish("init/gain3_sat", sat["3"][-1], ".0%")
report.publish("init/gain53_min", min(s53[1:]), ".2f")
report.publish("init/gain53_max", max(s53[1:]), ".2f")

# %% [markdown]
# What to see: too small a gain and the pre-activations shrink towards 0, from std
# {{ value init/gain1_first }} to {{ value init/gain1_last }} at layer 10 with gain 1 (tanh
# becomes nearly linear, and the stack with it); too large and they grow into saturation,
# std {{ value init/gain3_last }} and {{ value init/gain3_sat }} of the outputs beyond 0.97
# at layer 10 with gain 3; $5/3$ keeps their spread near 1: after the first layer, whose
# input is a unit Gaussian rather than a tanh output, the std stays between
# {{ value init/gain53_min }} and {{ value init/gain53_max }}.

# %% tags=["remove-cell"]
claims.check("too small a gain and the pre-activations shrink towards 0", s1[-1] < 0.5 * s1[0],
             f"gain 1: std {s1[0]:.3f} at layer 1, {s1[-1]:.3f} at layer 10")
claims.check("too large and they grow into saturation", s3[-1] > 2 and sat["3"][-1] > 0.2,
             f"gain 3 at layer 10: std {s3[-1]:.3f}, {sat['3'][-1]:.1%} beyond 0.97")
claims.check("keeps their spread near 1", all(abs(v - 1) < 0.3 for v in s53[1:]),
             f"gain 5/3, layers 2-10: {min(s53[1:]):.3f} to {max(s53[1:]):.3f}")

# %% [markdown]
# For our first layer, $n = 30$ and the Kaiming scale is $(5/3)/\sqrt{30}$; the cell
# below compares it with the hand-picked 0.2. PyTorch implements the same rule as
# `torch.nn.init.kaiming_normal_`. It assumes PyTorch's weight layout `(fan_out, fan_in)`,
# while the lecture writes `W1` as `(fan_in, fan_out)`; applied to a `(30, 200)` tensor
# with `mode="fan_in"` it would read the fan-in as 200.

# %%
g_t = torch.Generator().manual_seed(settings.SEED)
w_torch = torch.nn.init.kaiming_normal_(torch.empty(n_hidden, fan_in), mode="fan_in", nonlinearity="tanh",
                                        generator=g_t).T                      # (30, 200)
w_wrong = torch.nn.init.kaiming_normal_(torch.empty(fan_in, n_hidden), mode="fan_in", nonlinearity="tanh",
                                        generator=g_t)                        # (30, 200)
m_kai = at_init("kaiming")
report.show_table([f"W1 ({fan_in}, {n_hidden})", "std"], [
    [f"formula (5/3) / sqrt({fan_in})", models.TANH_GAIN / fan_in**0.5],
    [f"torch.nn.init.calculate_gain('tanh') = {torch.nn.init.calculate_gain('tanh'):.4f}, / sqrt({fan_in})",
     torch.nn.init.calculate_gain("tanh") / fan_in**0.5],
    [f"kaiming_normal_ on ({n_hidden}, {fan_in}), transposed", w_torch.std().item()],
    [f"kaiming_normal_ on ({fan_in}, {n_hidden}): fan-in read as {n_hidden}", w_wrong.std().item()],
    [f"(5/3) / sqrt({n_hidden})", models.TANH_GAIN / n_hidden**0.5],
    ["models.MLP(init='kaiming').W1", m_kai.W1.std().item()],
])
kaiming_scale = models.TANH_GAIN / fan_in**0.5
torch_off = abs(w_torch.std().item() / kaiming_scale - 1)
wrong_off = abs(w_wrong.std().item() / (models.TANH_GAIN / n_hidden**0.5) - 1)

# %% [markdown]
# On the `(200, 30)` tensor `kaiming_normal_` draws the formula's std; on the `(30, 200)`
# tensor it draws the std for a fan-in of 200.

# %% tags=["remove-cell"]
claims.check("draws the formula's std", torch_off < 0.03, f"{w_torch.std().item():.4f} vs {kaiming_scale:.4f}")
claims.check("it draws the std for a fan-in of 200", wrong_off < 0.03,
             f"{w_wrong.std().item():.4f} vs {models.TANH_GAIN / n_hidden**0.5:.4f}")

# %%
m_02 = at_init("tanh_fixed")
std_k, std_02 = m_kai.hpreact.std().item(), m_02.hpreact.std().item()
sat_k, sat_02 = [(m.h.abs() > 0.99).float().mean().item() for m in (m_kai, m_02)]
report.publish("init/kaiming_scale", kaiming_scale, ".4f")
report.publish("init/kaiming_vs_02_scale", kaiming_scale / 0.2 - 1, ".0%")
report.publish("init/kaiming_std", std_k, ".2f")
report.publish("init/std_02", std_02, ".2f")
report.publish("init/kaiming_sat", sat_k, ".1%")
report.publish("init/sat_02", sat_02, ".1%")

# %% [markdown]
# The Kaiming scale {{ value init/kaiming_scale }} is {{ value init/kaiming_vs_02_scale }}
# larger than the hand-picked 0.2, so on the first minibatch its hidden pre-activations
# start wider (std {{ value init/kaiming_std }} against {{ value init/std_02 }}) and more of
# the hidden values saturate ({{ value init/kaiming_sat }} against {{ value init/sat_02 }}
# with $|h| > 0.99$).

# %% tags=["remove-cell"]
claims.check("start wider", std_k > std_02, f"hpreact std {std_k:.3f} vs {std_02:.3f}")
claims.check("more of the hidden values saturate", sat_k > sat_02, f"saturated {sat_k:.2%} vs {sat_02:.2%}")

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
fan_out = n_hidden
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
report.show_table([f"W1 ({fan_in}, {fan_out})", "std by formula", "std drawn", f"forward sqrt({fan_in}) std",
                   f"backward sqrt({fan_out}) std",
                   "hpreact std (dev)", "|h| > 0.99 (dev)"],
                  [[name, s["formula"], s["std"], s["fwd"], s["bwd"], s["hpreact"], f"{s['sat']:.2%}"]
                   for name, s in w1_stats.items()])

# %%
kai, hand, xav, xav1 = (w1_stats[k] for k in w1_inits)
xavier_off = max(abs(s["std"] / s["formula"] - 1) for s in (xav, xav1))
report.publish("init/xavier_off", xavier_off, ".1%")
report.publish("init/xavier_std", xav["formula"], ".4f")
report.publish("init/xavier1_std", xav1["formula"], ".4f")
report.publish("init/xavier_vs_kaiming", xav["formula"] / kai["formula"], ".2f")
for key, s in (("xavier", xav), ("02", hand), ("kaiming", kai)):
    report.publish(f"init/dev_hpreact_std_{key}", s["hpreact"], ".2f")
    report.publish(f"init/dev_sat_{key}", s["sat"], ".2%")

# %% [markdown]
# `xavier_normal_` draws the formula's std (at most {{ value init/xavier_off }} off). For
# `W1` Xavier's std is {{ value init/xavier_std }} with the tanh gain
# ({{ value init/xavier1_std }} with the paper's gain 1), {{ value init/xavier_vs_kaiming }}
# times Kaiming's {{ value init/kaiming_scale }} and below the hand-picked 0.2. On the dev
# set its `hpreact` is the narrowest of the three, std {{ value init/dev_hpreact_std_xavier }}
# against {{ value init/dev_hpreact_std_02 }} with 0.2 and
# {{ value init/dev_hpreact_std_kaiming }} with Kaiming, and the fewest hidden values
# saturate: {{ value init/dev_sat_xavier }}, against {{ value init/dev_sat_02 }} and
# {{ value init/dev_sat_kaiming }}.

# %% tags=["remove-cell"]
claims.check("`xavier_normal_` draws the formula's std", xavier_off < 0.03, f"largest deviation {xavier_off:.4f}")
claims.check("the narrowest of the three", xav["hpreact"] < min(hand["hpreact"], kai["hpreact"]),
             f"hpreact std {xav['hpreact']:.3f} / {hand['hpreact']:.3f} / {kai['hpreact']:.3f}")
claims.check("the fewest hidden values saturate", xav["sat"] < min(hand["sat"], kai["sat"]),
             f"saturated {xav['sat']:.2%} / {hand['sat']:.2%} / {kai['sat']:.2%}")

# %% [markdown]
# Every initialization of this section differs in one number, the scale of `W1`. The figure
# below has a slider over it, from the original 1 down past Kaiming's and the hand-picked 0.2
# to 0.05. Each frame is the first minibatch at initialization, with the rest of the network
# drawn as Kaiming's recipe draws it: the histogram of `h` on the left, the white-columns
# picture on the right, the loss of that minibatch in the title. It opens at Kaiming's scale,
# the one the rest of the book uses.

# %%
W1_SCALES = sorted({1.0, 0.5, kaiming_scale, 0.2, 0.1, 0.05}, reverse=True)
W1_NAMES = {1.0: " (original)", kaiming_scale: " (Kaiming)", 0.2: " (hand-picked)"}


def at_w1_scale(scale: float):
    """The tanh outputs `h` of the first minibatch and its loss, at initialization with W1's factor `scale`."""
    model, g = new_mlp("kaiming", w1_scale=scale)
    ix = first_batch(g)
    with torch.no_grad():
        loss = F.cross_entropy(model(D.Xtr[ix]), D.Ytr[ix]).item()
    return model.h.detach(), loss                                  # (32, n_hidden), a number


w1_frames = {v: at_w1_scale(v) for v in W1_SCALES}
plots.show_explorable(
    knob="W1 scale", values=W1_SCALES, book=kaiming_scale,
    labels=[f"W1 scale {v:.3g}{W1_NAMES.get(v, '')}" for v in W1_SCALES],
    draw=lambda v: plots.plot_tanh_units(w1_frames[v][0], title=f"W1 scale {v:.3g}{W1_NAMES.get(v, '')}: "
                                                                 f"loss at initialization {w1_frames[v][1]:.3f}"),
    name="W1 scale explorer")
w1_losses = [loss for _, loss in w1_frames.values()]
report.publish("init/w1_loss_min", min(w1_losses), ".3f")
report.publish("init/w1_loss_max", max(w1_losses), ".3f")

# %% [markdown]
# The loss in the title hardly moves: from {{ value init/w1_loss_min }} to
# {{ value init/w1_loss_max }} over the six frames, all near $\ln V$ = {{ value init/ln_vocab }}.
# With the output layer this small, the first loss cannot see the hidden layer's scale; only
# the histogram shows it, which is why the lecture reads the histograms.

# %% tags=["remove-cell"]
# one forward pass, the same on avx512/avx2/default: 3.3105 ... 3.3420, ln 27 = 3.2958
claims.check("The loss in the title hardly moves", max(w1_losses) - min(w1_losses) < 0.1,
             f"losses {', '.join(f'{l:.4f}' for l in w1_losses)}")
claims.check("all near $\\ln V$", max(abs(l - ln_vocab) for l in w1_losses) < 0.1,
             f"largest distance from ln V {max(abs(l - ln_vocab) for l in w1_losses):.4f}")

# %%
report.publish("init/kaiming_fwd", kai["fwd"], ".2f")
report.publish("init/kaiming_bwd", kai["bwd"], ".1f")
report.publish("init/xavier_fwd", xav["fwd"], ".2f")
report.publish("init/xavier_bwd", xav["bwd"], ".1f")
report.publish("init/xavier_gives_up", 1 - xav["std"] / kai["std"], ".0%")

# %% [markdown]
# The two factors show the compromise. Kaiming's forward factor is the gain itself,
# {{ value init/kaiming_fwd }} (the gain is $5/3$), while its backward factor is
# {{ value init/kaiming_bwd }}. Xavier, with the same gain, has {{ value init/xavier_fwd }}
# and {{ value init/xavier_bwd }}: it gives up {{ value init/xavier_gives_up }} of the forward
# signal's spread to bring the backward factor down. In this network the gradient of
# `embcat` goes on only to the embedding table `C`, so the backward factor scales the
# gradient of `C` alone, while the forward factor decides how far `hpreact` reaches into
# the flat tails of tanh.

# %% tags=["remove-cell"]
claims.check("Kaiming's forward factor is the gain itself", abs(kai["fwd"] / models.TANH_GAIN - 1) < 0.05,
             f"forward {kai['fwd']:.3f}, gain {models.TANH_GAIN:.3f}")
claims.check("to bring the backward factor down", xav["bwd"] < kai["bwd"],
             f"backward {kai['bwd']:.3f} vs {xav['bwd']:.3f}")

# %%
fit("kaiming");

# %% [markdown]
# ## The loss log
#
# Each stage trained for the same steps on the same minibatches: every initialization draws
# the same count of numbers from its generator before training. Each run is evaluated on
# the whole training and dev sets. The lecture's numbers come from its own list of names,
# so they are a reference for the size of the effects, not a target to match digit for
# digit.

# %% tags=["remove-cell"]
claims.check("on the same minibatches",
             all(torch.equal(new_mlp(init)[1].get_state(), new_mlp("original")[1].get_state()) for init in models.INITS),
             "generator states after the parameter draws")

# %%
rows, val, trn = [], {}, {}
for init, (model, result) in runs.items():
    key = f"mlp/{init}"
    tr = trn[init] = train.split_loss(model, D.Xtr, D.Ytr)
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
report.publish("init/tail_steps", tail, ",")
report.publish("init/tail_mean_original", tail_means["original"], ".3f")
report.publish("init/tail_mean_fixed_min", min(fixed_tails), ".3f")
report.publish("init/tail_mean_fixed_max", max(fixed_tails), ".3f")
report.publish("init/tail_mean_fixed_spread", max(fixed_tails) - min(fixed_tails), ".3f")

# %% [markdown]
# What to see: the original run starts far above the others, and over the last
# {{ value init/tail_steps }} steps its mean log10 loss, {{ value init/tail_mean_original }},
# is still above the three fixed runs' {{ value init/tail_mean_fixed_min }} to
# {{ value init/tail_mean_fixed_max }}, which lie {{ value init/tail_mean_fixed_spread }}
# apart.

# %% tags=["remove-cell"]
claims.check("the original run starts far above the others", start_gap > 0.5,
             f"log10 loss at step 0: original {start_gap:.2f} above the others")
# measured over avx512/avx2/default x seeds: original minus the highest fixed run 0.097 ... 0.141 (quick, SEED, 0-2),
# 0.0127 ... 0.0143 (full, SEED, 0); bound 0
claims.check("is still above the three fixed runs'", tail_means["original"] > max(fixed_tails),
             "last-tenth mean: " + ", ".join(f"{k} {v:.4f}" for k, v in tail_means.items()))

# %% [markdown]
# The table's dev losses read in pairs. The original run and the softmax fix differ only in
# the scale of the output layer, so their gap measures what the confident start did to the
# result; the softmax fix and the tanh fix differ only in the scale of the hidden layer's
# `W1` and `b1`, so their gap measures what removing the saturation did.

# %%
best_fixed = min((v, k) for k, v in val.items() if k != "original")


def ends(a, b):
    """How run a ended against run b on the dev set, as a phrase: '0.0206 above'."""
    d = val[a] - val[b]
    return f"{abs(d):.4f} {'below' if d < 0 else 'above'}"


report.publish("init/original_above_best", val["original"] - best_fixed[0], ".4f")
report.publish("init/original_vs_softmax", ends("original", "softmax_fixed"))
report.publish("init/tanh_vs_softmax", ends("tanh_fixed", "softmax_fixed"))
report.publish("init/kaiming_vs_02", ends("kaiming", "tanh_fixed"))
report.publish("init/lecture_kaiming_02_gap", abs(lecture.RESULTS["mlp/kaiming"][2] - lecture.RESULTS["mlp/tanh_fixed"][2]),
               ".4f")

# %% [markdown]
# On the dev set the original initialization ends {{ value init/original_vs_softmax }} the
# softmax fix ({{ value mlp/original.val }} against {{ value mlp/softmax_fixed.val }}; in the
# lecture {{ value mlp/original.lecture_val }} against {{ value mlp/softmax_fixed.lecture_val }}).
# The tanh fix ends {{ value init/tanh_vs_softmax }} the softmax fix
# ({{ value mlp/tanh_fixed.val }} against {{ value mlp/softmax_fixed.val }}; in the lecture
# {{ value mlp/tanh_fixed.lecture_val }} against {{ value mlp/softmax_fixed.lecture_val }}).
#
# In the lecture's numbers, Kaiming initialization lands where the hand-picked factor 0.2
# did (val {{ value mlp/kaiming.lecture_val }} against {{ value mlp/tanh_fixed.lecture_val }},
# train {{ value mlp/kaiming.lecture_train }} against {{ value mlp/tanh_fixed.lecture_train }});
# in this run it ends {{ value init/kaiming_vs_02 }} it on the dev set. Its value is that it
# needed no histogram to find.
#
# The lecture's point is what happens in deeper networks. Chapter 3 normalizes `hpreact`
# with BatchNorm instead of relying on the scale of `W1`, and chapter 4 measures these
# statistics layer by layer inside a deep network.

# %% [markdown]
# ### One minibatch's loss is not the model's loss
#
# Each run above printed its last minibatch's loss, and a training log that ends on a
# line like `loss 1.83` invites reading that number as the model's loss. It is the mean
# over 32 examples drawn at random, so it carries the luck of the draw. The cell below
# takes the Kaiming model as training left it and evaluates it on 2,000 new minibatches
# of 32 training examples, drawn with a generator of their own. The last steps of `lossi`
# would show a spread too, but each of its entries comes from a different model, one
# update apart; a fixed model shows the luck of the draw alone. (This model has no
# BatchNorm, so a batch's loss depends on its own examples only.)

# %%
n_batches = 2_000
model_kai, result_kai = runs["kaiming"]
g_batches = torch.Generator().manual_seed(settings.SEED + 1)
ix_batches = torch.randint(0, D.Xtr.shape[0], (n_batches, 32), generator=g_batches)   # (n_batches, 32)
with torch.no_grad():
    loss_examples = F.cross_entropy(model_kai(D.Xtr[ix_batches.view(-1)]), D.Ytr[ix_batches.view(-1)],
                                    reduction="none")                                # (n_batches * 32,)
batch_losses = loss_examples.view(n_batches, 32).mean(1)                             # (n_batches,)
plots.plot_hist(batch_losses, title=f"the trained Kaiming model's loss on {n_batches:,} minibatches of 32",
                xlabel="minibatch loss (mean cross-entropy of 32 training examples)",
                ylabel="minibatches (count)",
                marks={f"train loss {trn['kaiming']:.3f}": trn["kaiming"],
                       f"dev loss {val['kaiming']:.3f}": val["kaiming"]})
p5, p95 = torch.quantile(batch_losses, torch.tensor([0.05, 0.95])).tolist()
mb_std = batch_losses.std().item()
tail_lossi = torch.tensor(result_kai.lossi[-1_000:])           # (1000,) log10 of the run's last losses
tail_std = (10 ** tail_lossi).std().item()
fixed_val = [v for k, v in val.items() if k != "original"]
fixed_gap = max(fixed_val) - min(fixed_val)
report.publish("init/mb_batches", n_batches, ",")
report.publish("init/mb_mean", batch_losses.mean().item(), ".4f")
report.publish("init/mb_std", mb_std, ".2f")
report.publish("init/mb_min", batch_losses.min().item(), ".2f")
report.publish("init/mb_max", batch_losses.max().item(), ".2f")
report.publish("init/mb_p5", p5, ".2f")
report.publish("init/mb_p95", p95, ".2f")
report.publish("init/mb_below_dev", (batch_losses < val["kaiming"]).float().mean().item(), ".0%")
report.publish("init/mb_min_below", val["kaiming"] - batch_losses.min().item(), ".2f")
report.publish("init/mb_tail_steps", len(tail_lossi), ",")
report.publish("init/mb_tail_std", tail_std, ".2f")
report.publish("init/mb_last", result_kai.final_loss, ".4f")
report.publish("init/mb_fixed_gap", fixed_gap, ".4f")
report.publish("init/mb_std_vs_gap", mb_std / fixed_gap, ".0f")

# %% [markdown]
# What to see: the minibatch losses scatter around the train loss. Their mean is
# {{ value init/mb_mean }} against {{ value mlp/kaiming.train }} on the whole training set,
# but a single batch lands anywhere from {{ value init/mb_min }} to {{ value init/mb_max }}
# (standard deviation {{ value init/mb_std }}; the middle 90% span {{ value init/mb_p5 }} to
# {{ value init/mb_p95 }}). {{ value init/mb_below_dev }} of the batches come in below the
# dev loss, {{ value mlp/kaiming.val }}, the lowest by {{ value init/mb_min_below }}. The
# last {{ value init/mb_tail_steps }} losses of the run's `lossi` spread about as much
# (standard deviation {{ value init/mb_tail_std }}): at the end of training the spread of the
# log is the draw's, not the model's progress.

# %% tags=["remove-cell"]
# measured over avx512/avx2/default x seeds (SEED, 0-2 quick; SEED, 0 full), 5,000 batches: mean minus train
# loss -0.0037 ... +0.0007 (quick), -0.0038 ... -0.0015 (full); bound 0.02. Std of the last 1,000 training
# losses over the batches' std: 1.004 ... 1.057 (quick), 0.969 ... 1.013 (full); bound 1 +- 0.2
claims.check("scatter around the train loss", abs(batch_losses.mean().item() - trn["kaiming"]) < 0.02,
             f"mean of the batches {batch_losses.mean():.4f}, train loss {trn['kaiming']:.4f}")
claims.check("spread about as much", abs(tail_std / mb_std - 1) < 0.2,
             f"std of the last {len(tail_lossi)} training losses {tail_std:.4f}, of the fixed model's batches {mb_std:.4f}")

# %% [markdown]
# A single batch's number is worth about $\pm${{ value init/mb_std }}, then:
# {{ value init/mb_std_vs_gap }} times the largest gap between the dev losses of the three
# fixed initializations ({{ value init/mb_fixed_gap }}), so the last minibatch losses the runs
# printed (the Kaiming run's was {{ value init/mb_last }}) cannot rank them; the split losses
# of the table are the numbers to compare.

# %% tags=["remove-cell"]
# measured over avx512/avx2/default x seeds (SEED, 0-2 quick; SEED, 0 full): std of a batch's loss over the
# largest gap between the fixed inits' dev losses 5.9 ... 10.5 (quick), 6.2 ... 7.1 (full); bound 3
claims.check("cannot rank them", mb_std > 3 * fixed_gap,
             f"std of a batch's loss {mb_std:.4f}, dev losses of the fixed inits {min(fixed_val):.4f} ... {max(fixed_val):.4f}")

# %% [markdown]
# ## Sampling from the model
#
# The chapter ends, as the lecture does, by letting a trained model write names.
# `train.sample` draws them one character at a time:

# %%
report.show_source(train.sample)
report.publish("init/block_size", D.block_size)

# %% [markdown]
# Two things in it need a word. `eval_mode(model)` switches the model to evaluation mode
# for the loop and gives it back its mode afterwards. For this chapter's MLP that changes
# nothing, since it has no BatchNorm, but `sample` serves every model of the book: in
# training mode a BatchNorm layer normalizes with the mean and standard deviation of the
# batch, and a batch of one has no spread to normalize by (the book's BatchNorm refuses
# it); in eval mode it uses the running statistics gathered during training instead, so an
# example gets the same output alone as in a batch.
#
# The other is the `.` token, index 0 of the vocabulary, which does two jobs. The context
# starts as `[0] * block_size`, `.` repeated {{ value init/block_size }} times, which is
# the context of the first character of every training name; and drawing `.` ends the name,
# as `.` ends every training name. (`max_len` stops a name that never draws it.)

# %% tags=["remove-cell"]
claims.check("index 0 of the vocabulary", D.itos[0] == "." and D.stoi["."] == 0, f"itos[0] = {D.itos[0]!r}")
claims.check("the same output alone as in a batch",
             torch.allclose((bn_model := models.MLP(vocab_size, D.block_size, batchnorm=True).eval())(D.Xtr[:1]),
                            bn_model(D.Xtr[:64])[:1], atol=1e-5),
             "an MLP with BatchNorm in eval mode, on the first training example alone and in a batch of 64")
claims.check("the context of the first character of every training name",
             (D.Xtr == 0).all(1).sum().item() == len(data.split_words(D.words)[0]),
             f"{(D.Xtr == 0).all(1).sum().item()} all-'.' contexts, {len(data.split_words(D.words)[0])} training names")
claims.check("as `.` ends every training name", (D.Ytr == 0).sum().item() == len(data.split_words(D.words)[0]),
             f"{(D.Ytr == 0).sum().item()} targets '.', {len(data.split_words(D.words)[0])} training names")

# %% [markdown]
# Below, the original and the Kaiming model each draw names with a generator seeded alike,
# so both start from the same stream of random numbers. The table shows the first 20 names
# each model draws (a name also present in the training list is marked with `*`).

# %%
n_samples = 2_000
train_names = set(data.split_words(D.words)[0])
samples = {init: train.sample(runs[init][0], D.itos, D.block_size, n=n_samples,
                              generator=torch.Generator().manual_seed(settings.SAMPLE_SEED))
           for init in ("original", "kaiming")}


def shown(name):
    return (name or "(empty)") + (" *" if name in train_names else "")


report.show_table(["draw", "original init", "Kaiming init"],
                  [[i + 1, shown(a), shown(b)] for i, (a, b) in enumerate(zip(samples["original"][:20],
                                                                              samples["kaiming"][:20]))])
report.publish("init/n_samples", n_samples, ",")

# %% [markdown]
# Twenty names are too few to compare two models, so the cell below reads all
# {{ value init/n_samples }} names each model drew, and the dev names beside them: the share
# of names found in the training list, the mean length, and the mean negative
# log-likelihood each model gives them per token (each character and the closing `.`,
# counted the way the training loss counts them; on the dev names it is the dev loss).

# %%
dev_names = data.split_words(D.words)[1]
listed_twice = {w for w, count in collections.Counter(D.words).items() if count > 1}
sets = {"original": samples["original"], "kaiming": samples["kaiming"], "dev": dev_names}
labels = {"original": "original init's samples", "kaiming": "Kaiming init's samples", "dev": "dev names"}
in_train, mean_len, nll = {}, {}, {}     # per set; nll[set][model]: mean -ln p per token
for key, words in sets.items():
    Xs, Ys = data.build_dataset(words, D.block_size, D.stoi)            # (tokens, block_size), (tokens,)
    in_train[key] = sum(w in train_names for w in words) / len(words)
    mean_len[key] = sum(len(w) for w in words) / len(words)
    nll[key] = {init: train.split_loss(runs[init][0], Xs, Ys) for init in ("original", "kaiming")}
report.show_table(["names", "in the training list", "mean length", "-ln p per token, original model",
                   "-ln p per token, Kaiming model"],
                  [[labels[k], f"{in_train[k]:.1%}", f"{mean_len[k]:.2f}", nll[k]["original"],
                    nll[k]["kaiming"]] for k in sets])
for key in sets:
    report.publish(f"init/in_train_{key}", in_train[key], ".1%")
    report.publish(f"init/len_{key}", mean_len[key], ".2f")
report.publish("init/nll_own_original", nll["original"]["original"], ".2f")
report.publish("init/nll_dev_original", nll["dev"]["original"], ".2f")
report.publish("init/nll_own_gap_original", nll["dev"]["original"] - nll["original"]["original"], ".2f")
report.publish("init/nll_dev_gap", nll["dev"]["original"] - nll["dev"]["kaiming"], ".2f")

# %% [markdown]
# What to see: {{ value init/in_train_original }} of the original model's names and
# {{ value init/in_train_kaiming }} of the Kaiming model's are in the training list, against
# {{ value init/in_train_dev }} of the dev names (a name listed twice in the file, once for
# each sex, can land in both splits). Both models' names are within a character of the dev
# names' mean length ({{ value init/len_original }} and {{ value init/len_kaiming }} against
# {{ value init/len_dev }}): when to draw `.`, and so how long a name gets, is learned like
# any other token.

# %% tags=["remove-cell"]
claims.check("can land in both splits",
             in_train["dev"] > 0 and set(dev_names) & train_names <= listed_twice,
             f"{len(set(dev_names) & train_names)} dev names in the training list, "
             f"{len(set(dev_names) & train_names - listed_twice)} of them listed once")
# measured over avx512/avx2/default x seeds (SEED, 0-2 quick; SEED, 0 full), 1,000 names: mean length minus the
# dev names' -0.54 ... +0.50 (quick), -0.25 ... +0.33 (full); bound 1
claims.check("within a character of the dev", max(abs(mean_len[k] - mean_len["dev"]) for k in samples) < 1,
             f"mean length: original {mean_len['original']:.2f}, Kaiming {mean_len['kaiming']:.2f}, "
             f"dev {mean_len['dev']:.2f}")

# %% [markdown]
# The last two columns read the names through each model. On the dev names the original
# model pays {{ value init/nll_dev_original }} per token, {{ value init/nll_dev_gap }} more
# than the Kaiming model, but on its own names it pays only {{ value init/nll_own_original }},
# {{ value init/nll_own_gap_original }} less than on the dev names. A sampler follows what
# the model believes, so the names a model writes do not show the mistakes it makes on
# real ones: a page of samples is no substitute for the dev loss.

# %% tags=["remove-cell"]
# measured over avx512/avx2/default x seeds (SEED, 0-2 quick; SEED, 0 full), 1,000 names: the original model's
# dev loss minus its loss on its own names 0.84 ... 1.55 (quick), 0.044 ... 0.083 (full); bound 0. Dev loss of
# the original minus the Kaiming model's 0.60 ... 0.97 (quick), 0.067 ... 0.076 (full); bound 0
claims.check("more than the Kaiming model", nll["dev"]["original"] > nll["dev"]["kaiming"],
             f"dev names: original model {nll['dev']['original']:.4f}, Kaiming model {nll['dev']['kaiming']:.4f}")
claims.check("but on its own names it pays only", nll["original"]["original"] < nll["dev"]["original"],
             f"original model: own names {nll['original']['original']:.4f}, dev names {nll['dev']['original']:.4f}")

# %% [markdown]
# ## What this chapter showed
#
# - **The output layer.** With $\mathcal{N}(0, 1)$ weights the first minibatch's loss was
#   {{ value init/loss0 }}, {{ value init/loss0_vs_ln_vocab }} times $\ln V$ =
#   {{ value init/ln_vocab }}, because the logits had std {{ value init/logit_std_short }};
#   $W_2 \times 0.01$, $b_2 = 0$ brought it to {{ value init/loss0_softmax_fixed }}, near
#   $\ln V$. The original run's {{ value init/window }}-step mean came down to $\ln V$
#   {{ value init/cross_at }}.
# - **Numerics.** In float32 $e^z$ overflows above {{ value init/z_overflow }}; subtracting
#   the largest logit first, as `F.cross_entropy` does, keeps the loss finite
#   ({{ value init/stable_ours_short }} for our logits times 3, where the formula as written
#   gives {{ value init/naive_ours }}).
# - **The hidden layer.** `hpreact` with std {{ value init/orig_std }}, close to
#   $\sqrt{31}$, put {{ value init/orig_sat }} of the hidden values at $|h| > 0.99$;
#   $W_1 \times 0.2$ brought it to std {{ value init/tanh_std }} and
#   {{ value init/tanh_sat }}, and let {{ value init/grad_ratio }} times as much gradient
#   through tanh.
# - **Kaiming.** The rule gain$/\sqrt{\text{fan-in}}$ gives {{ value init/kaiming_scale }}
#   for `W1`, {{ value init/kaiming_vs_02_scale }} above the hand-picked 0.2 (hpreact std
#   {{ value init/kaiming_std }}, {{ value init/kaiming_sat }} saturated); Xavier's average
#   of fan-in and fan-out gives {{ value init/xavier_std }}. In the lecture Kaiming and 0.2
#   ended {{ value init/lecture_kaiming_02_gap }} apart on val; here Kaiming ended
#   {{ value init/kaiming_vs_02 }} 0.2.
# - **The loss log.** After {{ value mlp/original.steps }} steps per run the dev losses are
#   original {{ value mlp/original.val }}, softmax fixed {{ value mlp/softmax_fixed.val }},
#   tanh fixed {{ value mlp/tanh_fixed.val }}, kaiming {{ value mlp/kaiming.val }}: the
#   original initialization is the worst, {{ value init/original_above_best }} above the
#   best.
# - **One minibatch.** Over {{ value init/mb_batches }} minibatches of 32 the trained Kaiming
#   model's loss has standard deviation {{ value init/mb_std }}, {{ value init/mb_std_vs_gap }}
#   times the largest gap between the fixed initializations' dev losses: a run is read from
#   its split losses, not from its last minibatch.
# - **Sampling.** `train.sample` starts every name from `.` repeated `block_size` times and
#   ends it at the first `.` it draws, in eval mode. The original model pays
#   {{ value init/nll_own_original }} per token on its own names and
#   {{ value init/nll_dev_original }} on the dev names: its samples do not show its mistakes.

# %% tags=["remove-cell"]
claims.check("near $\\ln V$", abs(loss0_sf - ln_vocab) < 0.1, f"loss0 {loss0:.4f}, fixed {loss0_sf:.4f}")
claims.check("keeps the loss finite", math.isfinite(ours[3]) and not math.isfinite(ours[2]) and torch_diff < 1e-5,
             f"naive {ours[2]}, stable {ours[3]:.4f}, vs F.cross_entropy {torch_diff:.1e}")
claims.check("close to $\\sqrt{31}$", std_off < 0.1, f"hpreact std {st_orig['std']:.3f}, off {std_off:.1%}")
claims.check("brought it to std", st_orig["sat"] > 0.5 > 0.05 > st_tanh["sat"],
             f"saturated {st_orig['sat']:.1%} -> {st_tanh['sat']:.1%}")
# measured over avx512/avx2/default x seeds: val of the original minus the best fixed run 0.599 ... 0.967
# (quick, SEED, 0-2), 0.069 ... 0.079 (full, SEED, 0); bound 0
claims.check("the original initialization is the worst", val["original"] == max(val.values()),
             "val: " + ", ".join(f"{k} {v:.4f}" for k, v in val.items()))
# the bounds of "cannot rank them" and "but on its own names it pays only" above
claims.check("a run is read from its split losses", mb_std > 3 * fixed_gap,
             f"std of a batch's loss {mb_std:.4f}, largest gap of the fixed inits {fixed_gap:.4f}")
claims.check("its samples do not show its mistakes", nll["original"]["original"] < nll["dev"]["original"],
             f"original model: own names {nll['original']['original']:.4f}, dev names {nll['dev']['original']:.4f}")
