# %% [markdown]
# # Chapter 5: becoming a backprop ninja
#
# Every chapter so far ended its training step with `loss.backward()` and trusted the
# numbers it put in `.grad`. This chapter takes that call away. We push the gradient of the
# loss back through the network of chapter 3 by hand: through the cross-entropy, the second
# linear layer, `tanh`, BatchNorm, the first linear layer and the embedding table, and check
# every single tensor against autograd.
#
# Why bother, when autograd never makes a mistake? Because autograd only computes the
# gradient of the code you wrote; it cannot tell you that the code is wrong, that a neuron is
# dead, that a shape broadcast silently, or that a gradient is vanishing. Those diagnoses
# (chapter 4 was full of them) are read off gradients, and reading them takes knowing what
# they should look like. Backpropagation is also not magic on tensors: it is the chain rule
# of micrograd's scalars, organised so that each line moves one whole tensor at a time.
#
# Four exercises, as in the lecture:
#
# 1. backpropagate through the forward pass broken into its smallest steps, one tensor at a time;
# 2. the cross-entropy backward in one expression;
# 3. the BatchNorm backward in one formula;
# 4. train the network with the manual backward pass only.
#
# **This chapter is also a workbook.** Each solution sits in a folded cell below the
# statement of its exercise. The downloadable workbook (`05_backprop_workbook.py` or
# `.ipynb`) is this chapter with every solution line replaced by `... # TODO`: it runs as it
# is, the comparison tables say "not yet" for every gradient you have not written, and they
# turn to "yes" as you fill them in; the verdict below each table names every gradient that
# is wrong.

# %% tags=["parameters"]
# This chapter's knobs at the book's values (exercises 1-3; exercise 4 trains chapter 3's
# 200-unit network); a run of your own:
# python chapters/05_backprop.py --set n_hidden=32 batch_size=64   (papermill: -p batch_size 64)
block_size = 3          # how many previous characters the model reads
n_embd = 10             # dimensions of a character's embedding
n_hidden = 64           # neurons in the hidden layer
batch_size = 32         # examples in the minibatch whose gradients are checked

# %%
import dataclasses
import math
import time

import torch
import torch.nn.functional as F

from makemore_lib import backprop, chapter, layers, lecture, plots, report, settings, train

S, D, claims = chapter.begin(globals())
decay_step = S.steps(100_000)
print(f"mode: {S.mode}; exercise 4 trains for {S.max_steps:,} steps, batch 32, "
      f"lr 0.1, then 0.01 from step {decay_step:,}")

# %% [markdown]
# ## The network and its unusual initialization
#
# The network is the one of chapter 3 with BatchNorm after the first layer, in the
# lecture's part-4 form: 64 hidden units for the first three exercises, the first layer keeps
# its bias `b1` (useless in front of BatchNorm, which subtracts it again, but it gives one
# more gradient to check), and BatchNorm divides by $\sqrt{\sigma^2 + 10^{-5}}$ with the
# Bessel-corrected variance (more on that in exercise 3).
#
# The initialization is deliberately odd. `b2`, `b1`, `bnbias` are small random numbers
# rather than zeros and `bngain` is $1$ plus noise rather than exactly $1$. With zeros and
# ones, some terms of a gradient formula become a factor of exactly $1$ or an added $0$,
# and a formula that forgets them agrees with autograd by accident (forget `bngain` in
# `dbnraw`, and with `bngain` all ones nothing shows). Every number here is drawn from the
# seeded generator `g`, including the two BatchNorm parameters that the lecture draws from
# PyTorch's global generator:

# %%
report.show_source(backprop.BackpropMLP.__init__)

# %%
vocab_size = D.vocab_size
n = batch_size  # a shorter name for the formulas
g = torch.Generator().manual_seed(settings.SEED)
net = backprop.BackpropMLP(vocab_size, block_size, n_embd, n_hidden, generator=g)
C, W1, b1, W2, b2, bngain, bnbias = parameters = net.parameters()
for p in parameters:
    p.requires_grad = True
ix = torch.randint(0, D.Xtr.shape[0], (batch_size,), generator=g)
Xb, Yb = D.Xtr[ix], D.Ytr[ix]                    # (n, block_size), (n,)
print(f"{sum(p.nelement() for p in parameters):,} parameters; one minibatch of {n} examples")
report.publish("backprop/vocab_size", vocab_size)
report.publish("backprop/positions", n * block_size)

# %% [markdown]
# ## The forward pass in small steps
#
# The forward pass below computes the same loss as `F.cross_entropy(net(Xb), Yb)`, but split
# into steps so small that each one has a derivative you can write down in your head. Every
# intermediate keeps its gradient (`retain_grad`), so that after `loss.backward()` autograd's
# answer sits in its `.grad`, ready to be compared with ours.

# %%
emb = C[Xb]                                        # (n, block_size, n_embd)
embcat = emb.view(emb.shape[0], -1)                # (n, block_size * n_embd)
# Linear layer 1
hprebn = embcat @ W1 + b1                          # (n, n_hidden)
# BatchNorm layer
bnmeani = 1 / n * hprebn.sum(0, keepdim=True)      # (1, n_hidden)
bndiff = hprebn - bnmeani                          # (n, n_hidden)
bndiff2 = bndiff**2                                # (n, n_hidden)
bnvar = 1 / (n - 1) * bndiff2.sum(0, keepdim=True)  # (1, n_hidden) Bessel's correction: n - 1
bnvar_inv = (bnvar + 1e-5)**-0.5                   # (1, n_hidden)
bnraw = bndiff * bnvar_inv                         # (n, n_hidden)
hpreact = bngain * bnraw + bnbias                  # (n, n_hidden)
# Non-linearity
h = torch.tanh(hpreact)                            # (n, n_hidden)
# Linear layer 2
logits = h @ W2 + b2                               # (n, vocab_size)
# Cross-entropy, the long way
logit_maxes = logits.max(1, keepdim=True).values   # (n, 1)
norm_logits = logits - logit_maxes                 # (n, vocab_size) subtract the max for stability
counts = norm_logits.exp()                         # (n, vocab_size)
counts_sum = counts.sum(1, keepdim=True)           # (n, 1)
counts_sum_inv = counts_sum**-1                    # (n, 1)
probs = counts * counts_sum_inv                    # (n, vocab_size)
logprobs = probs.log()                             # (n, vocab_size)
loss = -logprobs[range(n), Yb].mean()              # ()

intermediates = [logprobs, probs, counts, counts_sum, counts_sum_inv, norm_logits, logit_maxes,
                 logits, h, hpreact, bnraw, bnvar_inv, bnvar, bndiff2, bndiff, hprebn, bnmeani,
                 embcat, emb]
for t in intermediates:
    t.retain_grad()
loss.backward()
with torch.no_grad():
    library_loss = net.forward(Xb, Yb)["loss"]
report.publish("backprop/loss", loss.item(), ".6f")
report.publish("backprop/library_diff", abs(loss.item() - library_loss.item()), ".1e")

# %% [markdown]
# The loss of the small steps is {{ value backprop/loss }}; the library's forward pass, which
# ends in `F.cross_entropy`, differs from it by {{ value backprop/library_diff }}: the same
# loss up to float32 rounding.

# %% tags=["remove-cell"]
# one rounding step of a loss near 3.4 is 2.4e-7; measured 2.4e-7 (avx512, avx2) and 0 (default); bound 40 steps
claims.check("the same loss up to float32 rounding", abs(loss.item() - library_loss.item()) < 1e-5,
             f"difference {abs(loss.item() - library_loss.item()):.1e}")

# %% [markdown]
# ## Exercise 1: backpropagate through every step
#
# Four rules carry the whole exercise. Write $\bar{x}$ for $\partial L / \partial x$, the
# gradient of the loss with respect to $x$, which always has the shape of $x$.
#
# * **Chain rule.** For $y = f(x)$ element-wise, $\bar{x} = f'(x) \cdot \bar{y}$: the local
#   derivative times the gradient arriving from above.
# * **A variable used twice collects two gradients.** If $x$ feeds both $y$ and $z$, then
#   $\bar{x} = \bar{y}\,\partial y/\partial x + \bar{z}\,\partial z/\partial x$. In code: one
#   sum of two terms.
# * **Broadcasting forward is summing backward.** `counts * counts_sum_inv` uses each entry
#   of the `(n, 1)` column once per column of `counts`, so its gradient sums over those
#   columns: `.sum(1, keepdim=True)`.
# * **Summing forward is broadcasting backward.** Each entry of a sum receives the sum's
#   gradient unchanged (the derivative of $a + b$ with respect to $a$ is $1$).
#
# Matrix products follow from the same rules: for $Y = XW$, $\bar{X} = \bar{Y} W^\top$ and
# $\bar{W} = X^\top \bar{Y}$, the only arrangements of the two factors whose shapes fit.
#
# **Exercise 1a: the loss.** Starting from `loss`, compute `dlogprobs`, `dprobs`,
# `dcounts_sum_inv`, `dcounts_sum`, `dcounts`, `dnorm_logits`, `dlogit_maxes` and `dlogits`,
# one assignment each (a gradient with two sources is one assignment adding both).

# %% tags=["solution"]
dlogprobs = F.one_hot(Yb, vocab_size) * (-1.0 / n)                        # (n, vocab_size)
dprobs = (1.0 / probs) * dlogprobs                                        # (n, vocab_size)
dcounts_sum_inv = (counts * dprobs).sum(1, keepdim=True)                  # (n, 1)
dcounts_sum = (-counts_sum**-2) * dcounts_sum_inv                         # (n, 1)
dcounts = counts_sum_inv * dprobs + torch.ones_like(counts) * dcounts_sum  # (n, vocab_size)
dnorm_logits = counts * dcounts                                           # (n, vocab_size)
dlogit_maxes = (-dnorm_logits).sum(1, keepdim=True)                       # (n, 1)
dlogits = dnorm_logits + F.one_hot(logits.max(1).indices, vocab_size) * dlogit_maxes  # (n, vocab_size)

# %% [markdown]
# Why each line is what it is:
#
# * The loss is $-\frac{1}{n}\sum_i \text{logprobs}_{i, y_i}$: only the $n$ entries at the
#   correct characters enter it, each with weight $-1/n$; the other entries of `logprobs`
#   do not affect the loss, so their gradient is $0$.
# * $\frac{d}{dp}\log p = 1/p$. Where the correct character's probability is small, the
#   gradient is large: a confident mistake is pushed on hard.
# * `probs = counts * counts_sum_inv` broadcasts `counts_sum_inv` over the `vocab_size` columns, so
#   `dcounts_sum_inv` sums `counts * dprobs` over them; `counts` itself gets
#   `counts_sum_inv * dprobs`.
# * $\frac{d}{dx}x^{-1} = -x^{-2}$ gives `dcounts_sum`, and since `counts_sum` is a sum over
#   the row, every entry of `counts` receives it unchanged: the second term of `dcounts`.
# * $\frac{d}{dx}e^x = e^x$, which is `counts` itself.
# * `logit_maxes` is subtracted from every entry of its row, so its gradient is minus the row
#   sum of `dnorm_logits`; the max picked one entry per row, so only that entry of `logits`
#   receives it back (the one-hot of the arg-max), on top of the direct path through
#   `norm_logits`.
#
# Subtracting the maximum does not change the probabilities, so the loss cannot depend on
# `logit_maxes`: its true gradient is zero. Autograd computes it all the same:

# %%
report.publish("backprop/dlogit_maxes", logit_maxes.grad.abs().max().item(), ".1e")

# %% [markdown]
# The largest entry of autograd's `dlogit_maxes` is {{ value backprop/dlogit_maxes }}: zero
# up to rounding, left over from summing a row of `dnorm_logits` whose exact sum is zero.

# %% tags=["remove-cell"]
# the entries summed are at most 1/n = 0.03; measured 5.4e-9 (avx512, avx2), 6.1e-9 (default); bound 1e-6
claims.check("zero up to rounding", logit_maxes.grad.abs().max().item() < 1e-6,
             f"largest |dlogit_maxes| {logit_maxes.grad.abs().max().item():.1e}")

# %% [markdown]
# **Exercise 1b: the second linear layer and tanh.** From `dlogits`, compute `dh`, `dW2`,
# `db2`, then `dhpreact` through $h = \tanh(\text{hpreact})$. Hint: write $\tanh'$ with the
# output $h$, which the forward pass already computed.

# %% tags=["solution"]
dh = dlogits @ W2.T                  # (n, n_hidden)
dW2 = h.T @ dlogits                  # (n_hidden, vocab_size)
db2 = dlogits.sum(0)                 # (vocab_size,)
dhpreact = (1.0 - h**2) * dh         # (n, n_hidden)

# %% [markdown]
# `b2` is broadcast over the $n$ rows of the batch, so its gradient is the column sum of
# `dlogits`. And $\tanh'(x) = 1 - \tanh^2(x) = 1 - h^2$: where a unit is saturated
# ($|h| \to 1$) the factor goes to $0$ and the gradient stops there, the dead-neuron
# picture of chapter 2 seen from the backward side.
#
# **Exercise 1c: BatchNorm, one step at a time.** Continue with `dbngain`, `dbnraw`,
# `dbnbias`, `dbnvar_inv`, `dbnvar`, `dbndiff2`, `dbndiff`, `dbnmeani`, `dhprebn`. Watch the
# shapes: `bngain`, `bnbias`, `bnvar_inv`, `bnvar`, `bnmeani` are rows of shape
# `(1, n_hidden)`, and so are their gradients.

# %% tags=["solution"]
dbngain = (bnraw * dhpreact).sum(0, keepdim=True)                     # (1, n_hidden)
dbnraw = bngain * dhpreact                                            # (n, n_hidden)
dbnbias = dhpreact.sum(0, keepdim=True)                               # (1, n_hidden)
dbnvar_inv = (bndiff * dbnraw).sum(0, keepdim=True)                   # (1, n_hidden)
dbnvar = (-0.5 * (bnvar + 1e-5)**-1.5) * dbnvar_inv                   # (1, n_hidden)
dbndiff2 = (1.0 / (n - 1)) * torch.ones_like(bndiff2) * dbnvar        # (n, n_hidden)
dbndiff = bnvar_inv * dbnraw + (2 * bndiff) * dbndiff2                # (n, n_hidden)
dbnmeani = (-dbndiff).sum(0, keepdim=True)                            # (1, n_hidden)
dhprebn = dbndiff + 1.0 / n * torch.ones_like(hprebn) * dbnmeani      # (n, n_hidden)

# %% [markdown]
# `bndiff` is used twice, in `bndiff2` (through the variance) and in `bnraw`, and
# `hprebn` twice, directly and through the mean: both gradients are sums of two paths. The
# derivative of $(x + 10^{-5})^{-1/2}$ is $-\frac{1}{2}(x + 10^{-5})^{-3/2}$, and the
# variance spreads its gradient evenly over the $n$ squared differences with weight
# $1/(n-1)$.
#
# The `keepdim=True` in `dbnmeani` matters. Without it the gradient has shape
# `(n_hidden,)` instead of `(1, n_hidden)`. The lecture's comparison function accepted that,
# because `dt == t.grad` broadcasts a `(64,)` against a `(1, 64)` without complaint
# (nn-zero-to-hero issue #59); and `dhprebn`, which adds `dbnmeani` broadcast over the batch,
# comes out the same from a `(64,)` row as from a `(1, 64)` one, so the bug stays invisible.
# Our comparison checks shapes first; here it is given autograd's own `dbnmeani`, flattened:

# %%
wrong_shape = backprop.compare("bnmeani, as (n_hidden,)", bnmeani.grad.view(-1), bnmeani)
report.show_table(backprop.CHECK_HEADER, [wrong_shape.row()])

# %% [markdown]
# The row is called wrong for its shape alone, although every value in it is autograd's.

# %% tags=["remove-cell"]
claims.check("called wrong for its shape alone", wrong_shape.status == "shape", f"verdict {wrong_shape.status!r}")

# %% [markdown]
# **Exercise 1d: the first linear layer and the embedding.** Finish with `dembcat`, `dW1`,
# `db1`, `demb` and `dC`. The embedding `emb = C[Xb]` copied row `Xb[i, j]` of `C` into
# position `(i, j)`; a row of `C` picked several times collects the gradients of every
# position that picked it. Do it without a Python loop over the batch.

# %% tags=["solution"]
dembcat = dhprebn @ W1.T                                                # (n, block_size * n_embd)
dW1 = embcat.T @ dhprebn                                                # (block_size * n_embd, n_hidden)
db1 = dhprebn.sum(0)                                                    # (n_hidden,)
demb = dembcat.view(emb.shape)                                          # (n, block_size, n_embd)
dC = torch.zeros_like(C).index_add_(0, Xb.view(-1), demb.view(-1, n_embd))  # (vocab_size, n_embd)

# %% [markdown]
# `view` only reinterprets memory, so its backward is the inverse `view`. The embedding
# backward is a scatter-add: `index_add_` adds row $k$ of `demb.view(-1, n_embd)` into row
# `Xb.view(-1)[k]` of a zero table, for all $n \cdot$`block_size` positions in one call. The
# lecture writes it as a double Python loop over the batch and the context, one position at
# a time (timed at the end of the chapter).
#
# ### The check
#
# Every gradient against autograd's, with one of three verdicts:
#
# * **exact**: equal bit for bit;
# * **approximate**: the largest difference is within the tolerance
#   $\varepsilon\,(1 + 64 \max_i |g_i|)$, where $g$ is autograd's gradient and
#   $\varepsilon = 2^{-23} \approx 1.2 \times 10^{-7}$ is float32's machine epsilon, the relative
#   size of one rounding step. Two correct computations of the same gradient round in
#   different places (a fused kernel, another order of summation, other vector instructions
#   on another CPU), and a rounding error is relative to the numbers it rounds: so the
#   tolerance grows with the gradient's largest entry (64 rounding steps of it), plus one
#   rounding step of a loss of size 1, for gradients that are zero in exact arithmetic and
#   keep only rounding noise (`b1`'s, in front of BatchNorm);
# * **wrong**: a larger difference, or the wrong shape. A wrong formula, a missing term or a
#   flipped sign moves entries by about their own size: millions of rounding steps, not 64.

# %%
checks = [backprop.compare(name, dt, t) for name, dt, t in [
    ("logprobs", dlogprobs, logprobs), ("probs", dprobs, probs),
    ("counts_sum_inv", dcounts_sum_inv, counts_sum_inv), ("counts_sum", dcounts_sum, counts_sum),
    ("counts", dcounts, counts), ("norm_logits", dnorm_logits, norm_logits),
    ("logit_maxes", dlogit_maxes, logit_maxes), ("logits", dlogits, logits),
    ("h", dh, h), ("W2", dW2, W2), ("b2", db2, b2), ("hpreact", dhpreact, hpreact),
    ("bngain", dbngain, bngain), ("bnbias", dbnbias, bnbias), ("bnraw", dbnraw, bnraw),
    ("bnvar_inv", dbnvar_inv, bnvar_inv), ("bnvar", dbnvar, bnvar), ("bndiff2", dbndiff2, bndiff2),
    ("bndiff", dbndiff, bndiff), ("bnmeani", dbnmeani, bnmeani), ("hprebn", dhprebn, hprebn),
    ("embcat", dembcat, embcat), ("W1", dW1, W1), ("b1", db1, b1), ("emb", demb, emb), ("C", dC, C)]]
report.show_table(backprop.CHECK_HEADER, [c.row() for c in checks])
print("exercise 1:", backprop.summary(checks))


def verdict(checks, steps=1):
    """A table's verdict in its own words: the wrong gradients by name, else how many are written,
    else how closely all of them agree with autograd's. `checks` may hold `steps` tables of the same
    gradients (exercise 4's checked steps)."""
    total = len(checks) // steps
    wrong = list(dict.fromkeys(c.name + (f" ({c.detail})" if c.status == "shape" else "")
                               for c in checks if c.status in ("wrong", "shape")))
    missing = sum(c.status == "not yet" for c in checks) // steps
    exact = sum(c.status == "exact" for c in checks)
    approximate = [c.maxdiff / c.tol for c in checks if c.status == "approximate"]
    largest = f"the largest difference {max(approximate):.1%} of its tolerance" if approximate else ""
    if total == 1:
        c = checks[0]
        return {"exact": "exact, equal to autograd's bit for bit", "approximate": "approximate, " + largest,
                "wrong": f"wrong, its largest difference {c.maxdiff or 0:.1e} against a tolerance of {c.tol or 0:.1e}",
                "shape": f"wrong, {c.detail}", "not yet": "not written yet"}[c.status]
    if wrong:
        return f"{len(wrong)} of {total} gradients wrong: {', '.join(wrong)}"
    if missing:
        return f"{total - missing} of {total} gradients written so far"
    each = f" on each of the {steps} checked steps (of the {len(checks)} checks, " if steps > 1 else " ("
    return (f"all {total} gradients agree with autograd's{each}{exact} exact, {len(approximate)} approximate"
            + (f"; {largest}" if largest else "") + ")")


report.publish("backprop/ex1_verdict", verdict(checks))

# %% [markdown]
# The verdict on exercise 1: {{ value backprop/ex1_verdict }}.

# %% tags=["remove-cell"]
claims.check("The verdict on exercise 1: {{ value backprop/ex1_verdict }}",
             all(c.ok for c in checks), verdict(checks))

# %% [markdown]
# How many gradients match bit for bit depends on the CPU, and an approximate match is not a
# mistake. Autograd's backward through `tanh` is one fused kernel, `aten.tanh_backward`;
# torch picks a version of it for the CPU's vector instructions, and a version may round
# $1 - h^2$ differently from our separate operations. Where it does, the last-bit difference
# travels into every gradient computed from `dhpreact`, the whole BatchNorm and first layer
# below it. So another machine may show more or fewer exact matches in this table; a correct
# gradient stays within the tolerance on every one. Given the same `dh`, does autograd's
# kernel reproduce autograd's `dhpreact`?

# %%
tanh_kernel = torch.ops.aten.tanh_backward(h.grad, h.detach())   # (n, n_hidden)
report.publish("backprop/tanh_kernel_diff", (tanh_kernel - hpreact.grad).abs().max().item(), ".1e")

# %% [markdown]
# It does, bit for bit: the largest difference is {{ value backprop/tanh_kernel_diff }}.

# %% tags=["remove-cell"]
claims.check("It does, bit for bit", torch.equal(tanh_kernel, hpreact.grad),
             f"largest difference {(tanh_kernel - hpreact.grad).abs().max().item():.1e}")

# %% [markdown]
# ## Exercise 2: the cross-entropy backward in one expression
#
# Exercise 1a took eight lines to get through the loss. On paper it takes one. For one
# example with logits $l_1, \dots, l_V$ ($V$ = `vocab_size` = {{ value backprop/vocab_size }}) and correct character $y$,
#
# $$p_j = \frac{e^{l_j}}{\sum_k e^{l_k}}, \qquad
#   \ell = -\log p_y = -l_y + \log \sum_k e^{l_k}.$$
#
# Differentiating,
#
# $$\frac{\partial \ell}{\partial l_j} = -\mathbb{1}[j = y] + \frac{e^{l_j}}{\sum_k e^{l_k}}
#   = p_j - \mathbb{1}[j = y].$$
#
# The loss is the mean over the $n$ examples, so each row is divided by $n$:
#
# $$\frac{\partial L}{\partial l_{ij}} = \frac{1}{n}\left(\operatorname{softmax}(l_i)_j - \mathbb{1}[j = y_i]\right).$$
#
# First, the loss in one call, `F.cross_entropy`, from the same logits:

# %%
loss_fast = F.cross_entropy(logits, Yb)
report.publish("backprop/loss_fast", loss_fast.item(), ".6f")
report.publish("backprop/loss_fast_diff", abs((loss_fast - loss).item()), ".1e")

# %% [markdown]
# `F.cross_entropy` gives {{ value backprop/loss_fast }}, {{ value backprop/loss_fast_diff }}
# from our long way: the same loss up to rounding.

# %% tags=["remove-cell"]
# measured 2.4e-7 (one rounding step of the loss) on avx512/avx2/default; bound 40 steps
claims.check("the same loss up to rounding", abs((loss_fast - loss).item()) < 1e-5,
             f"difference {(loss_fast - loss).item():.1e}")

# %% [markdown]
# **Exercise 2.** Write `dlogits` as one expression of `logits` and `Yb`.

# %% tags=["solution"]
dlogits = (F.softmax(logits, 1) - F.one_hot(Yb, vocab_size)) / n    # (n, vocab_size)

# %%
check2 = backprop.compare("logits", dlogits, logits)
report.show_table(backprop.CHECK_HEADER, [check2.row()])
print("exercise 2:", backprop.summary([check2]))
report.publish("backprop/ex2_verdict", verdict([check2]))

# %% [markdown]
# The verdict on exercise 2's `dlogits`: {{ value backprop/ex2_verdict }}.
#
# One expression is not only shorter: it skips the eight intermediate tensors and their
# rounding. That is also why a correct one-expression `dlogits` can match only
# approximately: it rounds differently from the step-by-step graph autograd walked, at the
# level of float32 precision, not because anything is missing.

# %% tags=["remove-cell"]
claims.check("The verdict on exercise 2's `dlogits`: {{ value backprop/ex2_verdict }}",
             check2.ok, verdict([check2]))

# %% [markdown]
# ### Pulling and pushing
#
# Here is the gradient on the logits for the batch (autograd's, which your `dlogits` should
# equal), one row per example, one column per character:

# %%
dlogits_autograd = logits.grad                                  # (n, vocab_size)
plots.plot_heatmap(dlogits_autograd * n, title="n * dlogits for one batch",
                   xlabel="character (0 is '.')", ylabel="example in the batch",
                   clabel="n * dlogits: p_j, or p_y - 1 at the answer")
row_sums = dlogits_autograd.sum(1)                              # (n,)
negatives = (dlogits_autograd < 0).sum(1)                       # (n,)
pulled = ((negatives == 1) & (dlogits_autograd.argmin(1) == Yb)).sum().item()   # rows whose one negative cell is the answer
report.publish("backprop/pulled_rows", f"{pulled} of {n}")
report.publish("backprop/row_sum", row_sums.abs().max().item(), ".1e")

# %% [markdown]
# Gradient descent moves each logit against its gradient. In every row the one dark cell is
# the correct character ({{ value backprop/pulled_rows }} rows have exactly one negative
# entry, at the answer): its gradient $p_y - 1$ is negative, so its logit is pulled up. Every
# other cell holds $+p_j$, so each wrong character's logit is pushed down, in proportion to
# the probability the network wrongly gave it. A row sums to zero
# ($\sum_j p_j - 1 = 0$; here the row sum farthest from zero is {{ value backprop/row_sum }}, rounding):
# the total pull on the correct answer equals the total push on the wrong ones, like a set
# of forces in balance. The forces vanish only when the network puts probability $1$ on the
# right character, and they are strongest on the examples it gets most wrong. Picture each
# row as a small tug of war over one example; the weight update is all these forces, fed
# back through `W2`, `h` and the layers below.

# %% tags=["remove-cell"]
claims.check("In every row the one dark cell is the correct character", pulled == n,
             f"{pulled} of {n} rows with a single negative entry at the answer")
# measured 1.4e-9 (avx512, avx2), 1.9e-9 (default), entries at most 1/n; bound 1e-6
claims.check("A row sums to zero", row_sums.abs().max().item() < 1e-6, f"largest |row sum| {row_sums.abs().max().item():.1e}")

# %% [markdown]
# ## Exercise 3: the BatchNorm backward in one formula
#
# Exercise 1c went through BatchNorm in nine steps. Per hidden unit (one column), write
# $x_i$ for `hprebn`, $y_i$ for `hpreact`, $\gamma$ for `bngain`:
#
# $$\mu = \frac{1}{n}\sum_i x_i, \quad
#   \sigma^2 = \frac{1}{n-1}\sum_i (x_i - \mu)^2, \quad
#   \hat{x}_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}}, \quad
#   y_i = \gamma \hat{x}_i + \beta.$$
#
# Given $\bar{y}_i$, and with $t = (\sigma^2 + \epsilon)^{-1/2}$ (`bnvar_inv`), the four
# gradients in order:
#
# $$\bar{\hat{x}}_i = \gamma \bar{y}_i, \qquad
#   \bar{\sigma^2} = -\tfrac{1}{2} t^3 \sum_k \bar{\hat{x}}_k (x_k - \mu)
#                  = -\tfrac{1}{2} t^2 \gamma \sum_k \bar{y}_k \hat{x}_k,$$
#
# $$\bar{\mu} = -t \sum_k \bar{\hat{x}}_k + \bar{\sigma^2} \cdot \frac{-2}{n-1}\sum_k (x_k - \mu)
#            = -t \gamma \sum_k \bar{y}_k,$$
#
# because the deviations from the mean sum to zero. Each $x_i$ reaches the loss three ways:
# directly through $\hat{x}_i$, through $\sigma^2$, and through $\mu$:
#
# $$\bar{x}_i = t\,\bar{\hat{x}}_i + \bar{\sigma^2}\,\frac{2(x_i - \mu)}{n-1} + \frac{\bar{\mu}}{n}
#   = \gamma t \bar{y}_i - \frac{\gamma t}{n-1}\hat{x}_i \sum_k \bar{y}_k \hat{x}_k
#     - \frac{\gamma t}{n}\sum_k \bar{y}_k,$$
#
# using $x_i - \mu = \hat{x}_i / t$. Taking $\gamma t / n$ out:
#
# $$\bar{x}_i = \frac{\gamma t}{n}\left(n\,\bar{y}_i - \sum_k \bar{y}_k
#   - \frac{n}{n-1}\,\hat{x}_i \sum_k \bar{y}_k \hat{x}_k\right).$$
#
# The three terms read as: pass the gradient through, remove its mean (shifting every input
# of a column by the same amount changes nothing after normalisation), and remove its
# component along $\hat{x}$ (scaling a column changes nothing either). The $n/(n-1)$ is
# Bessel's correction showing through; with the biased variance it would be $1$.
#
# The forward pass first, in one line, to be sure it is the same BatchNorm:

# %%
hpreact_fast = (bngain * (hprebn - hprebn.mean(0, keepdim=True))
                / torch.sqrt(hprebn.var(0, keepdim=True, unbiased=True) + 1e-5) + bnbias)
report.publish("backprop/bn_fast_diff", (hpreact_fast - hpreact).abs().max().item(), ".1e")
dhpreact = hpreact.grad   # (n, n_hidden) the gradient arriving at BatchNorm, autograd's so this exercise stands alone

# %% [markdown]
# The one line and the nine steps differ by at most {{ value backprop/bn_fast_diff }}: the
# same BatchNorm, up to rounding.

# %% tags=["remove-cell"]
# entries of hpreact are a few units, one rounding step 2e-7 to 5e-7; measured 7.2e-7 (avx512, avx2),
# 4.8e-7 (default); bound 1e-5
claims.check("the same BatchNorm, up to rounding", (hpreact_fast - hpreact).abs().max().item() < 1e-5,
             f"max difference {(hpreact_fast - hpreact).abs().max().item():.1e}")

# %% [markdown]
# **Exercise 3.** Write `dhprebn` as one expression of `dhpreact`, `bnraw` ($\hat{x}$),
# `bngain`, `bnvar_inv` and `n`, with the sums over the batch as `.sum(0)`.

# %% tags=["solution"]
dhprebn = bngain * bnvar_inv / n * (n * dhpreact - dhpreact.sum(0) - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0))  # (n, n_hidden)

# %%
check3 = backprop.compare("hprebn", dhprebn, hprebn)
report.show_table(backprop.CHECK_HEADER, [check3.row()])
print("exercise 3:", backprop.summary([check3]))
report.publish("backprop/ex3_verdict", verdict([check3]))

# %% [markdown]
# The verdict on exercise 3's `dhprebn`: {{ value backprop/ex3_verdict }}.

# %% tags=["remove-cell"]
claims.check("The verdict on exercise 3's `dhprebn`: {{ value backprop/ex3_verdict }}",
             check3.ok, verdict([check3]))

# %% [markdown]
# ### Bessel's correction and the train/test mismatch
#
# The mean of the squared deviations from the *batch* mean underestimates the variance of
# the distribution the batch came from: the batch mean sits closer to its own points than
# the true mean does. On average the shortfall is a factor $(n-1)/n$, and dividing by $n-1$
# instead of $n$ corrects it. A simulation with batches of 32 from a distribution of
# variance 1:

# %%
gsim = torch.Generator().manual_seed(settings.SEED)
samples = torch.randn((20_000, n), generator=gsim)             # (batches, n) variance 1
var_biased = samples.var(1, unbiased=False).mean().item()
var_unbiased = samples.var(1, unbiased=True).mean().item()
report.publish("backprop/var_biased", var_biased, ".4f")
report.publish("backprop/var_expected", (n - 1) / n, ".4f")
report.publish("backprop/var_unbiased", var_unbiased, ".4f")

# %% [markdown]
# The simulation bears this out: the $1/n$ variance averages {{ value backprop/var_biased }}
# against $(n-1)/n$ = {{ value backprop/var_expected }}, the $1/(n-1)$ variance
# {{ value backprop/var_unbiased }} against 1.

# %% tags=["remove-cell"]
# the mean of 20,000 batch variances has a standard error of about sqrt(2/(n-1) / 20,000) = 0.002;
# measured 0.9667 and 0.9979 on avx512/avx2/default (1.2 standard errors); bound 0.01 (5 standard errors)
claims.check("The simulation bears this out", abs(var_biased - (n - 1) / n) < 0.01 and abs(var_unbiased - 1) < 0.01,
             f"{var_biased:.4f} against {(n - 1) / n:.4f}, {var_unbiased:.4f} against 1")

# %% [markdown]
# The BatchNorm paper, and `torch.nn.BatchNorm1d` (and our `layers.BatchNorm1d`, which
# follows it), normalise in training with the biased $1/n$ variance of the batch but keep
# the unbiased $1/(n-1)$ estimate for inference. So at test time each unit is divided by a
# standard deviation larger by $\sqrt{n/(n-1)}$ than the one it was trained with, and its
# output shrinks by $\sqrt{(n-1)/n}$. To see the mismatch in isolation, give a BatchNorm layer
# momentum 1 so that its running statistics become exactly those of the last batch, then run
# the same batch in both modes:

# %%
bn = layers.BatchNorm1d(n_hidden, momentum=1.0)
x = hprebn.detach()                                    # (n, n_hidden)
out_train = bn(x)                                      # biased variance; stores the unbiased one
bn.training = False
out_eval = bn(x)                                       # the same batch, with the running statistics
ratio = (out_eval / out_train)[out_train.abs() > 0.1]  # entries far from 0, where the ratio is well defined
report.publish("backprop/eval_over_train", ratio.mean().item(), ".4f")
report.publish("backprop/sqrt_bessel", math.sqrt((n - 1) / n), ".4f")
shrink = {m: 1 - math.sqrt((m - 1) / m) for m in (4, 32, 256)}   # batch size -> how much outputs shrink at test time
for m, s in shrink.items():
    report.publish(f"backprop/shrink_{m}", s, ".1%")

# %% [markdown]
# On the same batch the eval-mode output is {{ value backprop/eval_over_train }} times the
# training-mode output, against $\sqrt{(n-1)/n}$ = {{ value backprop/sqrt_bessel }}. The
# shrink, $1 - \sqrt{(n-1)/n}$, depends on the batch size only: {{ value backprop/shrink_32 }}
# at batch 32, small; {{ value backprop/shrink_4 }} at batch 4, not negligible;
# {{ value backprop/shrink_256 }} at batch 256.

# %% tags=["remove-cell"]
claims.check("the eval-mode output is {{ value backprop/eval_over_train }} times the training-mode output",
             abs(ratio.mean().item() - math.sqrt((n - 1) / n)) < 1e-3,
             f"eval/train {ratio.mean().item():.4f}, sqrt((n-1)/n) {math.sqrt((n - 1) / n):.4f}")
claims.check("at batch 32, small", shrink[32] < 0.02, f"{shrink[32]:.2%}")
claims.check("at batch 4, not negligible", shrink[4] > 0.1, f"{shrink[4]:.2%}")

# %% [markdown]
# The lecture avoids it by using the unbiased variance in both training
# and inference, which is the network of this chapter, and the source of the $n/(n-1)$ in
# the formula above. Torch's choice keeps training-mode BatchNorm a pure normalisation of
# the batch (each column's own $1/n$ variance becomes 1, up to the $10^{-5}$ added to it);
# the lecture's keeps the two modes consistent. Either way, the backward pass has to match
# the forward pass it belongs to.

# %% tags=["remove-cell"]
claims.check("each column's own $1/n$ variance becomes 1",
             (out_train.var(0, unbiased=False) - 1).abs().max().item() < 1e-3,
             f"largest |1/n variance - 1| {(out_train.var(0, unbiased=False) - 1).abs().max().item():.1e}")

# %% [markdown]
# ## Exercise 4: training with the manual backward pass only
#
# Now the whole network (with 200 hidden units, as in chapter 3) is trained with the manual
# backward pass only. The training loop is the library's `train_manual`: the same minibatches
# and update as `train.train`, under `torch.no_grad()`, and where `train.train` calls
# `loss.backward()` it calls a backward function instead. On its first steps it also asks
# autograd for the same gradients and keeps the comparison.

# %%
report.show_source(backprop.train_manual)

# %% [markdown]
# **Exercise 4.** Write `manual_backward`: from the forward pass's tensors (the same names
# as above, computed by the library's `forward`: `bnraw`, `bnvar_inv`, `h`, `logits`, ...),
# return the gradients of `C, W1, b1, W2, b2, bngain, bnbias` in that order. Use the
# one-expression forms of exercises 2 and 3 and the vectorised embedding gradient.

# %% tags=["solution"]
def manual_backward(Xb, Yb, n, C, W1, W2, bngain, embcat, bnraw, bnvar_inv, h, logits, **unused):
    dlogits = (F.softmax(logits, 1) - F.one_hot(Yb, vocab_size)) / n                 # (n, vocab_size)
    dh = dlogits @ W2.T                                                               # (n, n_hidden)
    dW2 = h.T @ dlogits                                                               # (n_hidden, vocab_size)
    db2 = dlogits.sum(0)                                                              # (vocab_size,)
    dhpreact = (1.0 - h**2) * dh                                                      # (n, n_hidden)
    dbngain = (bnraw * dhpreact).sum(0, keepdim=True)                                 # (1, n_hidden)
    dbnbias = dhpreact.sum(0, keepdim=True)                                           # (1, n_hidden)
    dhprebn = bngain * bnvar_inv / n * (n * dhpreact - dhpreact.sum(0) - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0))  # (n, n_hidden)
    dembcat = dhprebn @ W1.T                                                          # (n, block_size * n_embd)
    dW1 = embcat.T @ dhprebn                                                          # (block_size * n_embd, n_hidden)
    db1 = dhprebn.sum(0)                                                              # (n_hidden,)
    dC = torch.zeros_like(C).index_add_(0, Xb.view(-1), dembcat.view(-1, C.shape[1]))  # (vocab_size, n_embd)
    return [dC, dW1, db1, dW2, db2, dbngain, dbnbias]


# %%
g = torch.Generator().manual_seed(settings.SEED)
net4 = backprop.BackpropMLP(vocab_size, block_size, n_embd, n_hidden=200, generator=g)
print(f"{sum(p.nelement() for p in net4.parameters()):,} parameters")
result = backprop.train_manual(net4, D.Xtr, D.Ytr, S.max_steps, g, lr=train.lr_schedule(0.1, 0.01, decay_step),
                               backward=manual_backward, check_steps=3)
if result.trained:
    print(f"trained {result.steps:,} steps with the manual backward pass in {result.seconds:.1f} s "
          f"({1e6 * result.seconds / result.steps:.0f} us per step); last minibatch loss {result.final_loss:.4f}")
else:
    print("waiting for a backward pass: manual_backward still returns ... for "
          + ", ".join("d" + name for name in result.waiting_for) + "; nothing was trained")

# %% [markdown]
# The gradients of the first steps against autograd's, on the same minibatch and the same
# parameters (the table shows the first step):

# %%
for step, step_checks in enumerate(result.checks):
    if step == 0:
        report.show_table(backprop.CHECK_HEADER, [c.row() for c in step_checks])
    print(f"exercise 4, step {step}:", backprop.summary(step_checks))
if not result.checks:
    print("exercise 4: no gradients to check yet")
ex4_checks = [c for step_checks in result.checks for c in step_checks]
ex4_ok = result.trained and all(c.ok for c in ex4_checks)
ex4_verdict = (verdict(ex4_checks, steps=len(result.checks)) if result.trained else
               f"{len(backprop.PARAM_NAMES) - len(result.waiting_for)} of {len(backprop.PARAM_NAMES)} "
               f"gradients written so far")
report.publish("backprop/ex4_verdict", ex4_verdict)

# %% [markdown]
# The verdict on exercise 4's `manual_backward`: {{ value backprop/ex4_verdict }}.

# %% tags=["remove-cell"]
claims.check("The verdict on exercise 4's `manual_backward`: {{ value backprop/ex4_verdict }}",
             ex4_ok, ex4_verdict)

# %% [markdown]
# The loss over training (the mean of log10 of the minibatch loss over windows of steps):

# %%
window = max(1, result.steps // 200)
if result.trained:
    plots.plot_loss({"manual backward": result.lossi}, window=window,
                    title=f"training loss, manual backward (mean over {window} steps)")
first, last = (10 ** (sum(part) / len(part)) if part else math.nan
               for part in (result.lossi[:window], result.lossi[-window:]))   # nan: nothing trained yet
report.publish("backprop/window", window, ",")
report.publish("backprop/loss_first", first, ".2f")
report.publish("backprop/loss_last", last, ".2f")
report.publish("backprop/decay_step", decay_step, ",")

# %% [markdown]
# What to see: the minibatch loss falls from about {{ value backprop/loss_first }} over the
# first {{ value backprop/window }} steps to about {{ value backprop/loss_last }} over the
# last {{ value backprop/window }}, with no `loss.backward()` anywhere; the learning rate
# drops from 0.1 to 0.01 at step {{ value backprop/decay_step }}.

# %% tags=["remove-cell"]
claims.check("the minibatch loss falls", last < first, f"first window {first:.4f}, last window {last:.4f}")

# %% [markdown]
# As in the lecture, this network keeps no running statistics while it trains; afterwards
# BatchNorm is calibrated once, with the mean and unbiased variance of the hidden
# pre-activation over the whole training set, and the splits are evaluated with those.
# The lecture's numbers are printed beside ours; the recipe is the lecture's except in two
# places: our word list is chapter 1's, built from another year of the same SSA records,
# and `bngain` and `bnbias` are drawn from the seeded generator `g`, not from torch's global
# one.

# %%
net4.calibrate(D.Xtr)
train_loss = train.split_loss(net4, D.Xtr, D.Ytr)
val_loss = train.split_loss(net4, D.Xdev, D.Ydev)
lecture_train, lecture_val = lecture.RESULTS["backprop/manual"][1:]
if result.trained:
    report.record_run("part-4 MLP trained with the manual backward pass", result.steps,
                      train_loss, val_loss, key="backprop/manual")
else:
    print(f"untrained network: train {train_loss:.4f}, val {val_loss:.4f} (nothing recorded)")
report.publish("backprop/trained_steps", result.steps, ",")
report.publish("backprop/vs_lecture", f"{train_loss - lecture_train:+.4f} train, {val_loss - lecture_val:+.4f} val")

# %% [markdown]
# After the lecture's 200,000 steps both losses are within 0.02 of the lecture's. This run
# trained {{ value backprop/trained_steps }} steps and ends {{ value backprop/vs_lecture }}
# from the lecture's losses.

# %% tags=["remove-cell"]
# measured -0.0010 train, +0.0018 val in full mode on avx512, avx2 and default alike. A quick preview
# explains a miss only if the gradients are right; with a wrong one the warning names it, not the preview.
claims.check("After the lecture's 200,000 steps both losses are within 0.02 of the lecture's",
             abs(train_loss - lecture_train) < 0.02 and abs(val_loss - lecture_val) < 0.02,
             f"{train_loss - lecture_train:+.4f} train, {val_loss - lecture_val:+.4f} val after {result.steps:,} steps"
             + ("" if ex4_ok else f"; {ex4_verdict}"), full_training=ex4_ok)

# %% [markdown]
# Names sampled from the network (from the untrained one if exercise 4 is not done yet):

# %%
names = train.sample(net4, D.itos, block_size, 20, generator=torch.Generator().manual_seed(settings.SAMPLE_SEED))
print(", ".join(names))

# %% [markdown]
# ## How fast is a manual training step?
#
# The lecture's own solution to exercise 4 computes `dC` with a double Python loop over the
# batch and the context: one small tensor operation per position, $n \cdot$`block_size`
# $=$ {{ value backprop/positions }} of them per step, where `index_add_` does the same
# additions in one call. Here is that loop, checked against autograd's `dC` on the batch of
# exercise 1:

# %%
def dC_loop(demb, Xb, C):
    """The lecture's embedding backward: dC[Xb[k, j]] += demb[k, j], one position at a time."""
    dC = torch.zeros_like(C)                           # (vocab_size, n_embd)
    for k in range(Xb.shape[0]):
        for j in range(Xb.shape[1]):
            ix = Xb[k, j]
            dC[ix] += demb[k, j]
    return dC


with torch.no_grad():
    loop_check = backprop.compare("C, by the lecture's loop", dC_loop(emb.grad, Xb, C), C)
report.show_table(backprop.CHECK_HEADER, [loop_check.row()])
report.publish("backprop/loop_verdict", verdict([loop_check]))

# %% [markdown]
# The loop's `dC` is {{ value backprop/loop_verdict }}: correct, one position at a time.

# %% tags=["remove-cell"]
claims.check("correct, one position at a time", loop_check.ok, verdict([loop_check]))

# %% [markdown]
# The library's backward pass, `backprop.backward`, is exercise 4's solution with each
# layer's formula in a function of its own (shown folded below, like every solution).
# `lecture_backward` is the same pass with the lecture's loop for `dC`: the two differ in
# that one line only. In the workbook both are blank, and the timing below measures
# autograd alone until they are written.

# %% tags=["solution"]
report.show_source(backprop.backward)


def lecture_backward(Xb, Yb, C, W1, W2, bngain, embcat, bnraw, bnvar_inv, h, logits, **unused):
    """backprop.backward, with the lecture's per-example loop for dC in place of index_add_."""
    dlogits = backprop.cross_entropy_backward(logits, Yb)                              # (n, vocab_size)
    dh, dW2, db2 = backprop.linear_backward(dlogits, h, W2)                            # (n, n_hidden)
    dhpreact = backprop.tanh_backward(dh, h)                                           # (n, n_hidden)
    dhprebn, dbngain, dbnbias = backprop.batchnorm_backward(dhpreact, bnraw, bngain, bnvar_inv)
    dembcat, dW1, db1 = backprop.linear_backward(dhprebn, embcat, W1)                  # (n, block_size * n_embd)
    dC = dC_loop(dembcat.view(*Xb.shape, -1), Xb, C)                                   # (vocab_size, n_embd)
    return [dC, dW1, db1, dW2, db2, dbngain, dbnbias]


vectorised_backward = backprop.backward                 # dC in one index_add_

# %% [markdown]
# The three training steps, timed in one run on exercise 4's network (200 hidden units) with
# the same initialization and the same minibatches: autograd (`train.train`, whose step ends
# in `loss.backward()`), the manual step with the lecture's loop, and the vectorised manual
# step. Timings on a shared machine are noisy, so each kind runs `ROUNDS` rounds of
# `STEPS` steps, the kinds alternating, and keeps its fastest round (as `timeit` advises:
# the fastest round is the one least disturbed by the rest of the machine). The rounds are
# the same in quick and full mode.

# %%
ROUNDS, STEPS = 9, 100


def seconds_per_step(backward, steps=STEPS):
    """One round: a fresh network from the seed, `steps` training steps; None if `backward` is not written."""
    g = torch.Generator().manual_seed(settings.SEED)
    net = backprop.BackpropMLP(vocab_size, block_size, n_embd, n_hidden=200, generator=g)
    if backward is None:
        return train.train(net, D.Xtr, D.Ytr, steps, g, ud_every=None, desc="autograd").seconds / steps
    if backward is Ellipsis:
        return None
    timed = backprop.train_manual(net, D.Xtr, D.Ytr, steps, g, backward=backward, desc="manual")
    return timed.seconds / steps if timed.trained else None


kinds = {"autograd, loss.backward()": None, "manual, the lecture's loop for dC": lecture_backward,
         "manual, vectorised (backprop.backward)": vectorised_backward}
rounds = {kind: [] for kind in kinds}
started = time.perf_counter()
for r in range(ROUNDS):
    for kind in (list(kinds) if r % 2 == 0 else reversed(list(kinds))):
        rounds[kind].append(seconds_per_step(kinds[kind]))
seconds = time.perf_counter() - started
best = {kind: None if None in times else min(times) for kind, times in rounds.items()}
t_auto, t_loop, t_vec = best.values()
report.show_table(["training step", f"fastest of {ROUNDS} rounds of {STEPS} steps", "time / autograd's"],
                  [[kind, "not written yet" if t is None else f"{1e6 * t:.0f} µs", "" if t is None else f"{t / t_auto:.2f}"]
                   for kind, t in best.items()])
us = lambda t: math.nan if t is None else 1e6 * t                      # microseconds; nan: not written yet
report.publish("backprop/autograd_us", us(t_auto), ".0f")
report.publish("backprop/loop_us", us(t_loop), ".0f")
report.publish("backprop/vectorised_us", us(t_vec), ".0f")
report.publish("backprop/loop_vs_vectorised", us(t_loop) / us(t_vec), ".1f")
report.publish("backprop/loop_vs_autograd", us(t_loop) / us(t_auto), ".1f")
report.publish("backprop/vectorised_vs_autograd", us(t_vec) / us(t_auto), ".2f")
report.publish("backprop/timing_seconds", seconds, ".1f")

# %% [markdown]
# On this run (all rounds together took {{ value backprop/timing_seconds }} s) the lecture's
# loop made the manual step take {{ value backprop/loop_vs_vectorised }} times as long as the
# vectorised one ({{ value backprop/loop_us }} against {{ value backprop/vectorised_us }} µs)
# and {{ value backprop/loop_vs_autograd }} times as long as autograd's
# ({{ value backprop/autograd_us }} µs), while the vectorised manual step took
# {{ value backprop/vectorised_vs_autograd }} times autograd's time.

# %% tags=["remove-cell"]
# one thread, fastest of 9 rounds of 100 steps, avx512/avx2/default, 3 to 4 runs each: loop/vectorised
# 3.6 ... 4.8 on a machine loaded by others (load 7 on 2 cores), 3.5 ... 4.7 with two more busy processes
# beside it; bound 1.5
claims.check("the lecture's loop made the manual step take {{ value backprop/loop_vs_vectorised }} times as long "
             "as the vectorised one", us(t_loop) > 1.5 * us(t_vec),
             f"us per step: loop {us(t_loop):.0f}, vectorised {us(t_vec):.0f}, autograd {us(t_auto):.0f}")

# %% [markdown]
# The two manual steps differ only in `dC`, and each of the loop's
# {{ value backprop/positions }} additions is a handful of tensor operations called from
# Python (two look-ups and an in-place add) for `n_embd` numbers of work. The vectorised
# manual step and autograd's differ in how they reach the same gradients: autograd's forward
# pass records a graph, and its backward pass runs one backward function per recorded
# operation (BatchNorm's mean and variance the long way included), where the manual pass
# makes the six calls of `backprop.backward`, with BatchNorm in exercise 3's closed form. The
# graph of one step:

# %%
leaves = {name: t.detach().requires_grad_() for name, t in net4.tensors().items()}
graph_loss = backprop.forward(leaves, Xb, Yb)["loss"]
nodes, todo = set(), [graph_loss.grad_fn]
while todo:
    node = todo.pop()
    if node is not None and node not in nodes:
        nodes.add(node)
        todo += [parent for parent, _ in node.next_functions]
computed = sorted(type(node).__name__ for node in nodes if type(node).__name__ != "AccumulateGrad")
accumulators = len(nodes) - len(computed)
print(", ".join(computed))
report.publish("backprop/graph_functions", len(computed))
report.publish("backprop/graph_accumulators", accumulators)

# %% [markdown]
# Autograd's graph of one step holds {{ value backprop/graph_functions }} backward functions,
# listed above, and {{ value backprop/graph_accumulators }} gradient accumulators, one per
# parameter.

# %% tags=["remove-cell"]
claims.check("one per parameter", accumulators == len(backprop.PARAM_NAMES), f"{accumulators} accumulators")

# %% [markdown]
# `python -m makemore_lib.bench` measures the autograd and vectorised manual steps the same
# way over more rounds, beside chapter 4's deep network.
#
# ## What this chapter showed

# %%
renamed = lambda c, exercise: dataclasses.replace(c, name=f"{c.name} ({exercise})")
checks_1_to_3 = checks + [renamed(check2, "exercise 2"), renamed(check3, "exercise 3")]
report.publish("backprop/intermediates", len(checks))
report.publish("backprop/ex1to3_verdict", verdict(checks_1_to_3))
counts_y = torch.bincount(D.Ytr, minlength=vocab_size).float()
p_y = counts_y[counts_y > 0] / counts_y.sum()
context_free = -(p_y * p_y.log()).sum().item()        # chapter 1's entropy of Ytr
report.publish("backprop/train_loss", train_loss, ".4f")
report.publish("backprop/val_loss", val_loss, ".4f")
report.publish("backprop/context_free", context_free, ".4f")
report.publish("backprop/ln_vocab", math.log(vocab_size), ".4f")

# %% [markdown]
# * Exercises 1 to 3, the {{ value backprop/intermediates }} intermediate gradients of the
#   forward pass, the one-expression cross-entropy backward and the one-formula BatchNorm
#   backward: {{ value backprop/ex1to3_verdict }}.
# * Exercise 4, the manual backward pass: {{ value backprop/ex4_verdict }}. Trained with it for
#   {{ value backprop/trained_steps }} steps, the network reaches train
#   {{ value backprop/train_loss }}, val {{ value backprop/val_loss }}, below the
#   {{ value backprop/context_free }} of a model that ignores the context (chapter 1) and the
#   {{ value backprop/ln_vocab }} of a uniform guess.
# * Speed: the lecture's per-example loop for `dC` made a manual step take
#   {{ value backprop/loop_vs_vectorised }} times as long as with `index_add_`; the vectorised
#   manual step took {{ value backprop/vectorised_vs_autograd }} times autograd's time on this
#   run.

# %% tags=["remove-cell"]
claims.check("backward: {{ value backprop/ex1to3_verdict }}", all(c.ok for c in checks_1_to_3),
             verdict(checks_1_to_3))
claims.check("Exercise 4, the manual backward pass: {{ value backprop/ex4_verdict }}", ex4_ok, ex4_verdict)
claims.check("below the {{ value backprop/context_free }} of a model that ignores the context",
             val_loss < context_free, f"val {val_loss:.4f}, entropy {context_free:.4f}" + ("" if ex4_ok else f"; {ex4_verdict}"))
claims.check("made a manual step take {{ value backprop/loop_vs_vectorised }} times as long as with `index_add_`",
             us(t_loop) > 1.5 * us(t_vec),   # the bound of the timing sentence above
             f"us per step: loop {us(t_loop):.0f}, vectorised {us(t_vec):.0f}")
