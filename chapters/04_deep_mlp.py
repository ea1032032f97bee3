# %% [markdown]
# # Chapter 4: a deep MLP and its diagnostics
#
# Chapters 2 and 3 worked on a network with one hidden layer, where a bad initialization
# shows up as one bad histogram. Here the layer classes of `makemore_lib.layers` are
# stacked into six layers, and we learn to read the instruments that tell whether a deep
# network is healthy: the distribution of activations and of gradients in every layer, the
# size of each weight's gradient relative to the weight, and how much each step changes
# each weight. Then we break the network on purpose (wrong tanh gain, no BatchNorm, a
# learning rate too small or too large) and watch the instruments respond. We measure what
# depth buys at a fixed budget, take the nonlinearity out to see what a stack of Linear
# layers amounts to, count dead units for four activations, and finally train the healthy
# network in full and fold its BatchNorms away (exercise E02).

# %% tags=["parameters"]
# This chapter's knobs at the book's values; a run of your own:
# python chapters/04_deep_mlp.py --set n_layers=10 gain=1.0   (papermill: -p gain 1.0)
n_layers = 5            # hidden layers of the network (the depth experiment sets its own)
n_hidden = 100          # neurons in each hidden layer
gain = 5 / 3            # the Linear weights' gain in the networks without normalization that set none

# %%
import math
import time
from contextlib import contextmanager

import torch

from makemore_lib import chapter, layers, models, plots, report, settings, train

S, D, claims = chapter.begin(globals())
EXP_STEPS = 1_000                 # the diagnostic and experiment runs, the same in both modes
decay_step = S.steps(150_000)
print(f"mode: {S.mode}; diagnostics and experiments: {EXP_STEPS:,} steps each; "
      f"full training: {S.max_steps:,} steps, learning rate 0.1, then 0.01 from step {decay_step:,}")

SATURATED = 0.97                  # |tanh| above this counts as saturated (the lecture's threshold here)
EXTRA_SEEDS = (0, 1, 2)           # besides the book's seed, for the runs whose outcome is chaotic
ln_V = math.log(D.vocab_size)     # the loss of a uniform guess over the vocabulary
report.publish("deep/vocab_size", D.vocab_size)
report.publish("deep/ln_vocab", ln_V, ".4f")


def deep_mlp(generator: torch.Generator, **kw) -> layers.Sequential:
    """models.deep_mlp at this chapter's knobs (n_layers, n_hidden, gain); `kw` overrides them."""
    return models.deep_mlp(D.vocab_size, generator=generator, **{**KNOBS, **kw})


KNOBS = dict(n_layers=n_layers, n_hidden=n_hidden, gain=gain)


# %% [markdown]
# ## The network
#
# The layers are the ones of chapter 3, each a small class with `__call__`, `parameters()`
# and the last output kept in `.out`; `Sequential` calls them in order. Two of them:

# %%
report.show_source(layers.Linear)
report.show_source(layers.Sequential.__call__)

# %% [markdown]
# `deep_mlp` assembles the network: an embedding of the three context characters, five
# hidden layers Linear -> BatchNorm1d -> Tanh of 100 neurons, and an output Linear followed
# by a BatchNorm. The Linear layers have no bias, which the BatchNorm after each would
# cancel (chapter 3). Multiplying the last BatchNorm's $\gamma$ by 0.1 makes the logits
# small at initialization, so the first prediction is close to uniform over the
# $V$ = {{ value deep/vocab_size }} tokens and the loss starts near $\ln V$ =
# {{ value deep/ln_vocab }} instead of with a hockey stick (chapter 2). Without BatchNorm
# the same job falls to the last Linear's weight, and the other weights get the tanh gain.

# %%
report.show_source(models.deep_mlp)

# %%
g = torch.Generator().manual_seed(settings.SEED)
model = deep_mlp(g)
rows = []
for i, layer in enumerate(model.layers):
    shape = tuple(layer.weight.shape) if hasattr(layer, "weight") else ""
    rows.append([i, f"{type(layer).__name__} {shape}", f"{sum(p.nelement() for p in layer.parameters()):,}"])
report.show_table(["layer", "kind", "parameters"], rows)
report.publish("deep/params", sum(p.nelement() for p in model.parameters()), ",")


# %% [markdown]
# ## Instruments
#
# Every run below trains a fresh copy of the network from a seed (the book's, unless a run
# says otherwise) with `model.retain_grads = True`, so that after the last step every
# layer's output still holds its gradient `.out.grad`. The functions read what a run leaves
# behind: the tanh outputs and their gradients of the last minibatch, the gradient of every
# weight matrix (2-D parameter), and the update-to-data ratios the training loop recorded,
#
# $$\mathrm{ud}_p = \log_{10}\frac{\mathrm{std}(\mathrm{lr}\cdot\nabla p)}{\mathrm{std}(p)},$$
#
# the size of one step relative to the size of the parameter it changes.

# %%
def run(desc: str, steps: int = EXP_STEPS, lr: float = 0.1, ud_every: int | None = 10, prepare=None,
        seed: int = settings.SEED, may_diverge: bool = False, decay_step: int | None = None,
        pause_at=(), on_pause=None, **kw):
    """A fresh deep_mlp(**kw) drawn from `seed` (then `prepare(model)`, if given), trained `steps`
    steps at `lr` (lr / 10 from `decay_step`, if given); `desc` names the run in the progress bar
    and in an error. With `may_diverge`, a loss that blows up ends the run (result.diverged_at)
    instead of the chapter; `on_pause` looks at it after each step count in `pause_at` (train.train)."""
    g = torch.Generator().manual_seed(seed)
    model = deep_mlp(g, **kw)
    if prepare is not None:
        prepare(model)
    model.retain_grads = True
    w0 = [p.std().item() for _, p in weights(model)]
    result = train.train(model, D.Xtr, D.Ytr, steps, g, lr=train.lr_schedule(lr, lr / 10, decay_step), ud_every=ud_every,
                         desc=desc, may_diverge=may_diverge, pause_at=pause_at, on_pause=on_pause)
    result.w0 = w0                                     # weight std at initialization
    return model, result


def tanh_outputs(model):
    return [layer.out for layer in model.layers if isinstance(layer, layers.Tanh)]


def tanh_inputs(model):
    """What each tanh receives: the output of the layer before it (a BatchNorm, or a Linear without one)."""
    return [model.layers[i - 1].out for i, layer in enumerate(model.layers) if isinstance(layer, layers.Tanh)]


def weights(model):
    """(label, tensor) for every 2-D parameter: C and the Linear weights W1..W6."""
    mats = [(name, p) for name, p in model.named_parameters() if p.ndim == 2]
    labels = ["C" if "Embedding" in name else f"W{k}" for k, (name, _) in enumerate(mats)]
    return [(f"{label} {tuple(p.shape)}", p) for label, (_, p) in zip(labels, mats)]


def ud_columns(model, result):
    """The recorded update ratios of the 2-D parameters: (recorded steps, len(weights))."""
    ud = torch.tensor(result.ud)                       # (recorded steps, all parameters)
    keep = [j for j, (_, p) in enumerate(model.named_parameters()) if p.ndim == 2]
    return ud[:, keep]


def summary(model, result):
    """Per-layer numbers of one run, from its last step."""
    acts = tanh_outputs(model)
    ud = ud_columns(model, result) if result.ud else None
    last = max(1, len(result.lossi) // 10)
    return {
        "act std": [t.std().item() for t in acts],
        "input std": [x.std().item() for x in tanh_inputs(model)],
        "saturated %": [100 * (t.abs() > SATURATED).float().mean().item() for t in acts],
        "grad std": [t.grad.std().item() for t in acts],
        "grad:data": [(p.grad.std() / p.std()).item() for _, p in weights(model)],
        "ud": None if ud is None else ud[-max(1, len(ud) // 10):].mean(0).tolist(),   # last 10% of training
        "loss": sum(10 ** v for v in result.lossi[-last:]) / last,                     # last 10% of steps
        "w growth": [p.std().item() / w if w else float("nan") for (_, p), w in zip(weights(model), result.w0)],
    }


def outcome(result, loss: float) -> str:
    """A run's end in words: its mean loss of the last 100 steps, or the step where it blew up."""
    if result.diverged_at is not None:
        return f"blew up at step {result.diverged_at:,} (minibatch loss {result.diverged_loss:.3g})"
    return f"{loss:.3f}"


fmt = lambda values, f="{:.2f}": " ".join(f.format(v) for v in values)


@contextmanager
def kept(model):
    """Run the body, then give every layer back its `.out` (with its gradient) and every
    BatchNorm its running statistics: evaluating a trained run must not erase what the
    instruments read."""
    saved = [(l, dict(vars(l))) for l in model.layers]
    try:
        yield model
    finally:
        for l, state in saved:
            vars(l).update(state)


def split_losses(model):
    """(train, val) loss in eval mode, keeping the run's last-step outputs and gradients."""
    with kept(model):
        return train.split_loss(model, D.Xtr, D.Ytr), train.split_loss(model, D.Xdev, D.Ydev)

# %% [markdown]
# ## Diagnostics of the BatchNorm network after 1,000 steps
#
# The lecture's diagnostic run: 1,000 steps at learning rate 0.1, recording the update
# ratios at every step. One difference of recipe: our `BatchNorm1d` normalises each
# minibatch with its *biased* variance (divided by $n$), as the BatchNorm paper and
# `torch.nn.BatchNorm1d` do, where the lecture's class divides by $n - 1$; with $n = 32$ the
# lecture's normalised values are $\sqrt{31/32}$ = {{ value deep/unbiased_factor }} times
# ours, its pre-activations {{ value deep/unbiased_narrower }} narrower. With that, and the
# lecture's data set being another year of the same names list, its numbers here are not
# expected to equal ours.

# %%
report.publish("deep/unbiased_factor", (31 / 32) ** 0.5, ".4f")
report.publish("deep/unbiased_narrower", 1 - (31 / 32) ** 0.5, ".1%")
SNAPSHOTS = [1, 10, 30, 100, 300, EXP_STEPS]      # the steps the training-step figure below shows
shots = {}                                       # step -> (tanh outputs, ud of the 2-D parameters so far)
model, result = run("BatchNorm, lr 0.1 (diagnostic run)", ud_every=1, pause_at=SNAPSHOTS,
                    on_pause=lambda t, m, r: shots.__setitem__(t, ([a.detach().clone() for a in tanh_outputs(m)],
                                                                   ud_columns(m, r).clone())))
diag_model, diag_result = model, result
diag = summary(model, result)
diag_train, diag_val = split_losses(model)
print(f"{result.steps:,} steps in {result.seconds:.1f} s")
report.publish("deep/loss0", 10 ** result.lossi[0], ".4f")
report.publish("deep/diag_loss", diag["loss"], ".4f")
report.publish("deep/diag_train", diag_train, ".4f")
report.publish("deep/diag_val", diag_val, ".4f")

# %% [markdown]
# The loss of the first minibatch is {{ value deep/loss0 }}, close to $\ln V$ =
# {{ value deep/ln_vocab }}: the small last $\gamma$ does its job. The mean minibatch loss of
# the last 100 steps is {{ value deep/diag_loss }}; on the whole splits, in eval mode with the
# running statistics, the run ends at train {{ value deep/diag_train }}, val
# {{ value deep/diag_val }}.

# %% tags=["remove-cell"]
# measured over avx512/avx2/default x seeds 0-2 and the book's: 3.282 ... 3.322 against ln 27 = 3.296
claims.check("close to $\\ln V$", abs(10 ** result.lossi[0] - ln_V) < 0.1,
             f"loss at step 0 {10 ** result.lossi[0]:.4f}, ln V {ln_V:.4f}")

# %% [markdown]
# ### Activations
#
# For each tanh layer: the standard deviation of its input, and the mean, the standard
# deviation and the fraction of outputs beyond $\pm 0.97$, where $\tanh' = 1 - \tanh^2 < 0.06$
# and gradients barely pass. For comparison, the same numbers for $\tanh(z)$ with $z$ a unit
# Gaussian, which is what a BatchNorm with $\gamma = 1, \beta = 0$ feeds the tanh.

# %%
acts = tanh_outputs(model)
z = torch.tanh(torch.randn(1_000_000, generator=torch.Generator().manual_seed(settings.SEED)))
z_std = z.std().item()
report.show_table(["layer", "input std", "mean", "std", "saturated"],
                  [[f"{i + 1} (Tanh)", f"{x:.3f}", f"{t.mean():+.3f}", f"{t.std():.3f}", f"{s:.2f}%"]
                   for i, (x, t, s) in enumerate(zip(diag["input std"], acts, diag["saturated %"]))]
                  + [["tanh(unit Gaussian)", "1.000", f"{z.mean():+.3f}", f"{z_std:.3f}",
                      f"{100 * (z.abs() > SATURATED).float().mean():.2f}%"]])
plots.plot_distributions({f"layer {i + 1}": t for i, t in enumerate(acts)},
                         title="Activation distribution (tanh outputs)", xlabel="tanh output", bins=40)
report.publish("deep/diag_act_min", min(diag["act std"]), ".3f")
report.publish("deep/diag_act_max", max(diag["act std"]), ".3f")
report.publish("deep/diag_in_min", min(diag["input std"]), ".3f")
report.publish("deep/diag_in_max", max(diag["input std"]), ".3f")
report.publish("deep/z_std", z_std, ".3f")
report.publish("deep/diag_sat_max", max(diag["saturated %"]) / 100, ".1%")

# %% [markdown]
# What to see: five curves on top of each other, a U shape. Every layer's standard deviation
# is between {{ value deep/diag_act_min }} and {{ value deep/diag_act_max }}, close to the
# unit-Gaussian reference's {{ value deep/z_std }}: the BatchNorm in front of each tanh hands
# it inputs of standard deviation {{ value deep/diag_in_min }} to {{ value deep/diag_in_max }},
# whatever happened in the layers below. The U shape is what tanh does to a Gaussian: it
# folds the tails into the region just inside $\pm 1$, and at most
# {{ value deep/diag_sat_max }} of any layer's outputs go beyond $\pm 0.97$. (Each curve is
# one minibatch of 32 examples, hence the noise.) The experiments below show what badly
# scaled layers look like instead.

# %% tags=["remove-cell"]
# measured over avx512/avx2/default x 4 seeds: act std 0.631 ... 0.663 (reference 0.628),
# input std 1.000 ... 1.008, saturated at most 4.1%
claims.check("five curves on top of each other", max(diag["act std"]) - min(diag["act std"]) < 0.05,
             f"act std {fmt(diag['act std'], '{:.3f}')}")
claims.check("close to the unit-Gaussian reference's", all(abs(s - z_std) < 0.06 for s in diag["act std"]),
             f"act std {fmt(diag['act std'], '{:.3f}')} vs {z_std:.3f}")
claims.check("hands it inputs of standard deviation", all(abs(s - 1) < 0.05 for s in diag["input std"]),
             f"input std {fmt(diag['input std'], '{:.3f}')}")
claims.check("folds the tails into the region just inside $\\pm 1$, and at most",
             max(diag["saturated %"]) < 6, f"saturated % {fmt(diag['saturated %'])}")

# %% [markdown]
# ### Gradients
#
# The same for the gradients of the loss with respect to each tanh output.

# %%
report.show_table(["layer", "mean", "std"],
                  [[f"{i + 1} (Tanh)", f"{t.grad.mean():+.2e}", f"{t.grad.std():.2e}"] for i, t in enumerate(acts)])
plots.plot_distributions({f"layer {i + 1}": t.grad for i, t in enumerate(acts)},
                         title="Gradient distribution (tanh outputs)", xlabel="gradient", bins=40)
grad_ratio = diag["grad std"][0] / diag["grad std"][-1]
report.publish("deep/diag_grad_ratio", grad_ratio, ".2f")

# %% [markdown]
# The gradient's standard deviation at layer 1 is {{ value deep/diag_grad_ratio }} times the
# one at layer 5: on its way down through five layers it neither vanishes nor explodes. That
# is the backward half of chapter 3's stacking experiment.

# %% tags=["remove-cell"]
# measured over avx512/avx2/default x 4 seeds: 1.24 ... 1.56
claims.check("it neither vanishes nor explodes", 1 / 2 < grad_ratio < 2,
             f"grad std layer 1 / layer 5 = {grad_ratio:.2f}")

# %% [markdown]
# ### Weight gradients against the weights
#
# What counts for learning is not the size of a gradient but its size relative to the
# weight it changes. The table lists, for every weight matrix, the gradient's mean and
# standard deviation and the ratio $\mathrm{std}(\nabla W)/\mathrm{std}(W)$.

# %%
report.show_table(["weight", "grad mean", "grad std", "grad:data ratio"],
                  [[name, f"{p.grad.mean():+.2e}", f"{p.grad.std():.2e}", f"{r:.2e}"]
                   for (name, p), r in zip(weights(model), diag["grad:data"])])
plots.plot_distributions({name: p.grad for name, p in weights(model)},
                         title="Weight gradient distribution", xlabel="gradient")
w_ratios, c_ratio = diag["grad:data"][1:], diag["grad:data"][0]
init_std = [p.std().item() for _, p in weights(deep_mlp(torch.Generator().manual_seed(settings.SEED)))]
report.publish("deep/gd_w_min", min(w_ratios), ".3f")
report.publish("deep/gd_w_max", max(w_ratios), ".3f")
report.publish("deep/gd_c", c_ratio, ".4f")
report.publish("deep/c_vs_w_min", init_std[0] / max(init_std[1:]), ".1f")
report.publish("deep/c_vs_w_max", init_std[0] / min(init_std[1:]), ".1f")

# %% [markdown]
# The Linear weights have ratios of the same order, {{ value deep/gd_w_min }} to
# {{ value deep/gd_w_max }}. The embedding table `C` is the exception, at
# {{ value deep/gd_c }}: its entries are drawn from $N(0, 1)$, at initialization
# {{ value deep/c_vs_w_min }} to {{ value deep/c_vs_w_max }} times the standard deviation of
# the Linear weights ($1/\sqrt{\text{fan-in}}$), and a row of `C` only receives gradient from
# the examples whose context contains that character. A ratio that stands out by orders of
# magnitude would mean that one layer learns much faster or slower than the rest; the
# no-BatchNorm network below shows such a case at initialization.

# %% tags=["remove-cell"]
# measured over avx512/avx2/default x 4 seeds: W1-W6 max/min 1.89 ... 2.27, C / smallest W 0.14 ... 0.18
claims.check("The Linear weights have ratios of the same order", max(w_ratios) / min(w_ratios) < 3,
             f"grad:data W1-W{n_layers + 1} {fmt(w_ratios, '{:.2e}')}")
claims.check("The embedding table `C` is the exception", c_ratio < min(w_ratios) / 3,
             f"grad:data C {c_ratio:.2e}, W1-W{n_layers + 1} {fmt(w_ratios, '{:.2e}')}")

# %% [markdown]
# ### Update-to-data ratio over training
#
# The gradient-to-data ratio is a snapshot; the update is what SGD applies, and it is
# recorded at every step. The lecture's rule of thumb: on a $\log_{10}$ scale, about $-3$,
# i.e. each step changes a weight by about a thousandth of its size. Much lower and
# training crawls; much higher and the weights are thrown around.

# %%
ud = ud_columns(model, result)                          # (1000, 7)
report.show_table(["weight", "log10 update / data, mean of the last 100 steps"],
                  [[name, f"{v:.2f}"] for (name, _), v in zip(weights(model), diag["ud"])])
plots.plot_update_ratios(result.ud_steps, ud.tolist(), [name for name, _ in weights(model)],
                         title="Update-to-data ratio, BatchNorm network, lr 0.1")
ud_first = ud[:100].mean(0)                             # steps 0-99
ud_mid = ud[400:500].mean(0)                            # steps 400-499
report.publish("deep/diag_ud_min", min(diag["ud"][1:]), ".2f")
report.publish("deep/diag_ud_max", max(diag["ud"][1:]), ".2f")
report.publish("deep/diag_ud_c", diag["ud"][0], ".2f")

# %% [markdown]
# What to see: one line per weight, rising during the first few hundred steps and then level;
# the Linear weights above the dashed guide line, between {{ value deep/diag_ud_min }} and
# {{ value deep/diag_ud_max }} over the last 100 steps, and `C` near it, at
# {{ value deep/diag_ud_c }}, for the same reason as its small gradient ratio above. The rule
# of thumb gives an order of magnitude, not a target: the experiments below move the ratios
# by orders of magnitude and show what happens then.

# %% tags=["remove-cell"]
# measured over avx512/avx2/default x 4 seeds: steps 400-499 above steps 0-99 by 0.21 ... 0.30 (every weight);
# steps 400-499 and 900-999 within 0.092; W1-W6 -2.27 ... -1.95; C -3.10 ... -3.00
claims.check("rising during the first few hundred steps", bool((ud_mid > ud_first + 0.1).all()),
             f"steps 0-99 {fmt(ud_first.tolist())}, 400-499 {fmt(ud_mid.tolist())}")
claims.check("and then level", max(abs(a - b) for a, b in zip(ud_mid.tolist(), diag["ud"])) < 0.15,
             f"steps 400-499 {fmt(ud_mid.tolist())}, 900-999 {fmt(diag['ud'])}")
claims.check("the Linear weights above the dashed guide line", min(diag["ud"][1:]) > -2.6,
             f"W1-W{n_layers + 1} {fmt(diag['ud'][1:])}")
claims.check("`C` near it", abs(diag["ud"][0] + 3) < 0.3, f"C {diag['ud'][0]:.2f}")

# %% [markdown]
# The same run frame by frame: the slider shows the diagnostic run after 1 to 1,000 steps,
# the activation histograms of that step beside the update ratios recorded so far. It
# opens at the end of the run, the figures above; move it back to see the ratios climb
# through the first steps.

# %% tags=["remove-cell"]
# measured over avx512/avx2/default x seeds 0-2 and the book's: every weight 0.38 ... 0.72 higher in steps 900-999
claims.check("see the ratios climb through the first steps", bool((ud[-100:].mean(0) - ud[:10].mean(0) > 0.2).all()),
             f"steps 0-9 {fmt(ud[:10].mean(0).tolist())}, 900-999 {fmt(ud[-100:].mean(0).tolist())}")

# %%
plots.show_explorable(
    knob="training step", values=SNAPSHOTS, book=EXP_STEPS, labels=[f"after {t:,} steps" for t in SNAPSHOTS],
    draw=lambda t: plots.plot_training_snapshot({f"layer {i + 1}": a for i, a in enumerate(shots[t][0])},
                                                shots[t][1].tolist(), [name for name, _ in weights(diag_model)],
                                                steps=EXP_STEPS, title=f"BatchNorm network, lr 0.1, after {t:,} steps"),
    name="training step explorer")

# %% [markdown]
# ## Experiments
#
# Each experiment is a short run of 1,000 steps from the same seed. For the first set we
# remove BatchNorm and vary the gain that multiplies every hidden Linear weight (the
# output layer's weight is scaled by 0.1 instead). We look at the network twice: at
# initialization (one forward and backward pass, at learning rate 0, so the weights are the
# initial ones) and after 1,000 steps.

# %%
configs = {f"no BatchNorm, gain {name}": dict(batchnorm=False, gain=gain)
           for name, gain in [("5/3", 5 / 3), ("1", 1.0), ("0.5", 0.5), ("3", 3.0)]}
configs["BatchNorm"] = dict(batchnorm=True)

at_init = {label: summary(*run(label, steps=1, lr=0.0, ud_every=None, **kw))    # one pass, no update
           for label, kw in configs.items()}
trained = {label: run(f"{label}, lr 0.1", **kw) for label, kw in configs.items() if label != "BatchNorm"}
trained["BatchNorm"] = (model, result)                  # the diagnostic run above
after = {label: summary(*mr) for label, mr in trained.items()}

log10 = lambda v: torch.tensor(v).log10().tolist()
report.show_table(["at initialization", f"activation std, layers 1-{n_layers}", "saturated %",
                   "gradient std, 1e-3", f"grad:data ratio, W1-W{n_layers + 1}"],
                  [[k, fmt(v["act std"]), fmt(v["saturated %"], "{:.1f}"),
                    fmt([1e3 * x for x in v["grad std"]]), fmt(v["grad:data"][1:], "{:.3f}")]
                   for k, v in at_init.items()])
plots.plot_layer_stats({"activation std": {k: v["act std"] for k, v in at_init.items()},
                        "saturated %": {k: v["saturated %"] for k, v in at_init.items()},
                        "log10 gradient std": {k: log10(v["grad std"]) for k, v in at_init.items()}},
                       title=f"Tanh layers 1-{n_layers} at initialization")

# %% [markdown]
# The table keeps four gains; the figure below has a slider over more of them, each frame the
# activation and gradient histograms of every tanh layer of the network without BatchNorm at
# initialization (the same single pass at learning rate 0). It opens at the gain of this run,
# 5/3 in the book; drag it (or use the arrow keys) to see what each gain does to every layer.
# The paragraphs below read the four gains of the table.

# %%
GAINS = sorted({0.5, 0.75, 1.0, 5 / 3, 2.0, 3.0, gain})


def at_gain(g_value: float):
    """The network without BatchNorm at initialization at tanh gain `g_value`: its tanh outputs,
    with the gradients of one backward pass."""
    m, _ = run(f"no BatchNorm, gain {g_value:.3g} (at initialization)", steps=1, lr=0.0, ud_every=None,
               batchnorm=False, gain=g_value)
    return tanh_outputs(m)


gain_acts = {v: at_gain(v) for v in GAINS}
grad_reach = 4 * max(t.grad.std().item() for t in gain_acts[gain])   # one gradient axis for every frame, the book gain's
plots.show_explorable(
    knob="gain", values=GAINS, book=gain, labels=[f"gain {v:.3g}" for v in GAINS],
    draw=lambda v: plots.plot_layer_histograms({f"layer {i + 1}": t for i, t in enumerate(gain_acts[v])},
                                               title=f"No BatchNorm at initialization, gain {v:.3g}",
                                               grad_lim=grad_reach),
    name="tanh gain explorer")

# %% [markdown]
# Why a gain at all: tanh squashes, so $\tanh(z)$ of a unit Gaussian has standard deviation
# only {{ value deep/z_std }} (the table of activations above). A Linear layer with weights
# $N(0, 1)/\sqrt{\text{fan-in}}$ preserves the standard deviation it receives, so each
# Linear + Tanh pair shrinks the signal, and the next layer must amplify it again. The gain
# 5/3 (what `torch.nn.init.calculate_gain('tanh')` returns) roughly compensates.
#
# What the table and the figure show, gain by gain:

# %%
a1, a05, a3, a53, bn = (at_init[k] for k in ["no BatchNorm, gain 1", "no BatchNorm, gain 0.5",
                                             "no BatchNorm, gain 3", "no BatchNorm, gain 5/3", "BatchNorm"])
halving = [b / a for a, b in zip(a05["act std"], a05["act std"][1:])]   # each layer's std over the one before
w6_factor = min(v["grad:data"][-1] / max(v["grad:data"][1:-1]) for k, v in at_init.items() if k != "BatchNorm")
report.publish("deep/g1_act", fmt(a1["act std"]))
report.publish("deep/g1_sat1", a1["saturated %"][0] / 100, ".1%")
report.publish("deep/g1_sat_deeper", max(a1["saturated %"][1:]) / 100, ".2%")
report.publish("deep/g1_grad_ratio", a1["grad std"][-1] / a1["grad std"][0], ".1f")
report.publish("deep/g05_last_act", a05["act std"][-1], ".3f")
report.publish("deep/g05_halving", f"{min(halving):.2f} to {max(halving):.2f}")
report.publish("deep/g05_grad_ratio", a05["grad std"][-1] / a05["grad std"][0], ".0f")
report.publish("deep/g3_sat_min", min(a3["saturated %"]) / 100, ".0%")
report.publish("deep/g3_sat_max", max(a3["saturated %"]) / 100, ".0%")
report.publish("deep/g3_grad_ratio", a3["grad std"][0] / a3["grad std"][-1], ".1f")
report.publish("deep/g53_act", fmt(a53["act std"]))
report.publish("deep/g53_sat1", a53["saturated %"][0] / 100, ".1%")
report.publish("deep/g53_sat_deeper", max(a53["saturated %"][1:]) / 100, ".1%")
report.publish("deep/bn_act", fmt(bn["act std"], "{:.3f}"))
report.publish("deep/bn_grad_ratio", bn["grad std"][0] / bn["grad std"][-1], ".2f")
report.publish("deep/w6_factor", w6_factor, ".0f")

# %% [markdown]
# - **Gain 1**: the activations shrink layer by layer (std {{ value deep/g1_act }}); only the
#   first layer saturates noticeably ({{ value deep/g1_sat1 }}, the deeper ones
#   {{ value deep/g1_sat_deeper }} at most); the gradients shrink on their way down to the
#   first layer ({{ value deep/g1_grad_ratio }} times smaller at layer 1 than at layer 5).
# - **Gain 0.5**: the same, fast: each layer's activation std is {{ value deep/g05_halving }}
#   times the one before, so the last layer outputs almost zero (std
#   {{ value deep/g05_last_act }}), and the gradient vanishes on its way down: the first layer
#   receives one {{ value deep/g05_grad_ratio }} times smaller than the last.
# - **Gain 3**: the pre-activations are too wide and {{ value deep/g3_sat_min }} to
#   {{ value deep/g3_sat_max }} of every layer is saturated; now the gradient grows on its way
#   down (layer 1 / layer 5: {{ value deep/g3_grad_ratio }}).
# - **Gain 5/3**: roughly stable activations from layer to layer (std {{ value deep/g53_act }}),
#   with the first layer more saturated than the rest ({{ value deep/g53_sat1 }} against
#   {{ value deep/g53_sat_deeper }} at most).
# - **BatchNorm**: the same *activation* statistics in every layer by construction (std
#   {{ value deep/bn_act }}), with no gain to choose. The gradients are not equalised that
#   way: their standard deviation is {{ value deep/bn_grad_ratio }} times larger at layer 1
#   than at layer 5.
#
# The last column is the lecture's warning about the output layer: without BatchNorm its
# weight was scaled by 0.1, so its gradient is large relative to its data,
# {{ value deep/w6_factor }} times the largest of W1-W5 or more, and at the start it learns
# far faster than the layers below it.

# %% tags=["remove-cell"]
# at initialization nothing is chaotic: over avx512/avx2/default x 4 seeds the numbers agree to 2 decimals;
# the seeds give: gain 1 layer 1 saturated 2.8 ... 5.0%, deeper <= 0.12%, gradient ratio 1.71 ... 1.93;
# gain 0.5 halving 0.46 ... 0.52, last std <= 0.03, gradient ratio 16 ... 18;
# gain 3 saturated >= 37.8%, gradient ratio 3.15 ... 3.63; gain 5/3 max/min std <= 1.19, layer 1
# saturated 17.7 ... 23.7% vs <= 11.9%; BatchNorm std spread < 0.02, gradient ratio 1.6 ... 1.9; W6 factor >= 44
claims.check("the activations shrink layer by layer", a1["act std"] == sorted(a1["act std"], reverse=True),
             f"act std {fmt(a1['act std'])}")
claims.check("only the first layer saturates noticeably", a1["saturated %"][0] > 1 and max(a1["saturated %"][1:]) < 0.5,
             f"saturated % {fmt(a1['saturated %'])}")
claims.check("the gradients shrink on their way down", a1["grad std"][-1] > 1.3 * a1["grad std"][0],
             f"grad std {fmt([1e3 * x for x in a1['grad std']])} x10^-3")
claims.check("so the last layer outputs almost zero", max(halving) < 0.6 and a05["act std"][-1] < 0.05,
             f"act std {fmt(a05['act std'], '{:.3f}')}")
claims.check("the gradient vanishes on its way down", a05["grad std"][-1] > 8 * a05["grad std"][0],
             f"grad std {fmt([1e3 * x for x in a05['grad std']], '{:.3f}')} x10^-3")
claims.check("the pre-activations are too wide", min(a3["saturated %"]) > 25, f"saturated {fmt(a3['saturated %'])}")
claims.check("now the gradient grows on its way down", a3["grad std"][0] > 2 * a3["grad std"][-1],
             f"grad std {fmt([1e3 * x for x in a3['grad std']])} x10^-3")
claims.check("roughly stable activations from layer to layer", max(a53["act std"]) / min(a53["act std"]) < 1.3,
             f"act std {fmt(a53['act std'])}")
claims.check("with the first layer more saturated than the rest",
             a53["saturated %"][0] > 1.3 * max(a53["saturated %"][1:]), f"saturated {fmt(a53['saturated %'])}")
claims.check("the same *activation* statistics in every layer", max(bn["act std"]) - min(bn["act std"]) < 0.02,
             f"act std {fmt(bn['act std'], '{:.3f}')}")
claims.check("times larger at layer 1", bn["grad std"][0] > 1.3 * bn["grad std"][-1],
             f"grad std {fmt([1e3 * x for x in bn['grad std']])} x10^-3")
claims.check("so its gradient is large relative to its data", w6_factor > 10,
             "; ".join(f"{k}: W6 {v['grad:data'][-1]:.3f}" for k, v in at_init.items()))

# %% [markdown]
# Training changes the picture, because the weights adapt. After 1,000 steps:

# %%
report.show_table(["after 1,000 steps", "activation std", "saturated %", "gradient std, 1e-3",
                   f"log10 update/data, W1-W{n_layers + 1}", "loss, last 100 steps"],
                  [[k, fmt(v["act std"]), fmt(v["saturated %"], "{:.1f}"), fmt([1e3 * x for x in v["grad std"]]),
                    fmt(v["ud"][1:]), f"{v['loss']:.3f}"] for k, v in after.items()])
plots.plot_layer_stats({"activation std": {k: v["act std"] for k, v in after.items()},
                        "saturated %": {k: v["saturated %"] for k, v in after.items()},
                        "log10 gradient std": {k: log10(v["grad std"]) for k, v in after.items()},
                        f"log10 update/data (W1-W{n_layers + 1})": {k: v["ud"][1:] for k, v in after.items()}},
                       title=f"After {EXP_STEPS:,} steps (tanh layers 1-{n_layers}; weights W1-W{n_layers + 1})")
act_spread = lambda runs: max(max(v["act std"][i] for v in runs.values()) - min(v["act std"][i] for v in runs.values())
                              for i in range(n_layers))          # widest gap between runs at any layer
t05, t3, t53, tbn = (after[k] for k in ["no BatchNorm, gain 0.5", "no BatchNorm, gain 3",
                                        "no BatchNorm, gain 5/3", "BatchNorm"])
others = [v for k, v in after.items() if k != "no BatchNorm, gain 3"]
report.publish("deep/spread_init", act_spread(at_init), ".2f")
report.publish("deep/spread_after", act_spread(after), ".2f")
report.publish("deep/g05_last_act_after", t05["act std"][-1], ".2f")
report.publish("deep/g05_grad_spread", max(t05["grad std"]) / min(t05["grad std"]), ".2f")
report.publish("deep/g3_sat_min_after", min(t3["saturated %"]) / 100, ".0%")
report.publish("deep/g05_loss", t05["loss"], ".3f")
report.publish("deep/g53_loss", t53["loss"], ".3f")
report.publish("deep/bn_loss", tbn["loss"], ".3f")

# %% [markdown]
# In the figure the lines of the five runs have moved closer together than at
# initialization (the widest gap in activation std at any layer is
# {{ value deep/spread_after }}, against {{ value deep/spread_init }}); the gain-3 line stays
# apart in the saturation panel.
#
# Gradient descent partly repairs a bad initialization: with gain 0.5 the last layer's
# activation std has grown from {{ value deep/g05_last_act }} to
# {{ value deep/g05_last_act_after }}, and the gradients of all five layers are within a
# factor {{ value deep/g05_grad_spread }} of each other. It does not undo everything: the
# gain-3 network stays heavily saturated ({{ value deep/g3_sat_min_after }} or more in every
# layer), and the gain-0.5 network has the highest loss after the same number of steps
# ({{ value deep/g05_loss }}). The well-chosen gain 5/3 ends at {{ value deep/g53_loss }},
# BatchNorm at {{ value deep/bn_loss }}: at this depth BatchNorm's advantage is not a lower
# loss but that there was nothing to choose.

# %% tags=["remove-cell"]
# these runs (lr 0.1, 1,000 steps) agree to 3 decimals over avx512/avx2/default; over 4 seeds: widest gap
# 0.80-0.81 at init, 0.58-0.61 after; gain 3 saturated at least 16.5 points above any other run and >= 42.4%;
# gain 0.5 last std 0.34-0.35, gradients within 1.09-1.32; its loss 0.12-0.19 above the next highest;
# gain 5/3 minus BatchNorm -0.054 ... -0.088
claims.check("have moved closer together than at initialization", act_spread(after) < act_spread(at_init) - 0.1,
             f"widest gap {act_spread(at_init):.2f} -> {act_spread(after):.2f}")
claims.check("the gain-3 line stays apart in the saturation panel",
             min(t3["saturated %"]) > max(max(v["saturated %"]) for v in others) + 5,
             f"gain 3 {fmt(t3['saturated %'], '{:.1f}')}; others at most {max(max(v['saturated %']) for v in others):.1f}")
claims.check("Gradient descent partly repairs a bad initialization",
             t05["act std"][-1] > 5 * a05["act std"][-1] and max(t05["grad std"]) / min(t05["grad std"]) < 2,
             f"last act std {a05['act std'][-1]:.3f} -> {t05['act std'][-1]:.3f}")
claims.check("the gain-3 network stays heavily saturated", min(t3["saturated %"]) > 25,
             f"saturated {fmt(t3['saturated %'])}")
claims.check("the gain-0.5 network has the highest loss",
             t05["loss"] > max(v["loss"] for k, v in after.items() if v is not t05) + 0.05,
             "; ".join(f"{k} {v['loss']:.3f}" for k, v in after.items()))
claims.check("BatchNorm's advantage is not a lower loss", t53["loss"] < tbn["loss"] + 0.03,
             f"gain 5/3 {t53['loss']:.3f}, BatchNorm {tbn['loss']:.3f}")

# %% [markdown]
# ### Learning rate too small, too large
#
# The update-to-data ratio is the instrument for the learning rate. The BatchNorm network
# with learning rate 0.001 and 1.0 (100 times smaller and 10 times larger than above), and
# for contrast the network without BatchNorm (gain 5/3) at 1.0. That last run is chaotic:
# where it goes depends on the seed and even on the CPU's floating-point kernels, so it is
# repeated below for three more seeds, and a loss that blows up is its result, not an error.

# %%
lr_runs = {"BatchNorm, lr 0.001": run("BatchNorm, lr 0.001", lr=0.001), "BatchNorm, lr 0.1": (model, result),
           "BatchNorm, lr 1.0": run("BatchNorm, lr 1.0", lr=1.0),
           "no BatchNorm, lr 1.0": run("no BatchNorm, lr 1.0", lr=1.0, batchnorm=False, may_diverge=True)}
lr_after = {k: summary(*mr) for k, mr in lr_runs.items()}
report.show_table(["run", f"log10 update/data, W1-W{n_layers + 1}", "saturated %", f"weight std, end / start (W1-W{n_layers + 1})",
                   "loss, last 100 steps"],
                  [[k, fmt(v["ud"][1:]), fmt(v["saturated %"], "{:.1f}"), fmt(v["w growth"][1:]),
                    outcome(lr_runs[k][1], v["loss"])] for k, v in lr_after.items()])
panels = {}
for k, (m, r) in lr_runs.items():
    every = 10 if r is diag_result else 1              # the lr 0.1 run recorded every step: thin it out
    panels[k] = (r.ud_steps[::every], ud_columns(m, r)[::every].tolist())
plots.plot_update_ratio_panels(panels, [name for name, _ in weights(model)],
                               title="Update-to-data ratio at learning rates 0.001, 0.1 and 1.0")

# %%
lo, bn1, nobn1 = lr_after["BatchNorm, lr 0.001"], lr_after["BatchNorm, lr 1.0"], lr_after["no BatchNorm, lr 1.0"]
nobn1_result = lr_runs["no BatchNorm, lr 1.0"][1]
bn1_ud = ud_columns(*lr_runs["BatchNorm, lr 1.0"])       # (recorded steps, 7)
bn1_first = bn1_ud[: max(1, len(bn1_ud) // 10)].mean(0)[1:].mean().item()
bn1_last = sum(bn1["ud"][1:]) / 6
report.publish("deep/lo_ud", fmt(lo["ud"][1:]))
report.publish("deep/lo_step", 10 ** (sum(lo["ud"][1:]) / 6), ".1e")
report.publish("deep/lo_loss", lo["loss"], ".3f")
report.publish("deep/nobn1_ud_min", min(nobn1["ud"][1:-1]), ".2f")
report.publish("deep/nobn1_ud_max", max(nobn1["ud"][1:-1]), ".2f")
report.publish("deep/nobn1_step", 10 ** (sum(nobn1["ud"][1:-1]) / 5), ".1%")
report.publish("deep/nobn1_ud_w6", nobn1["ud"][-1], ".2f")
report.publish("deep/nobn1_sat_min", min(nobn1["saturated %"]) / 100, ".0%")
report.publish("deep/nobn1_outcome", "ends with a mean loss of " + outcome(nobn1_result, nobn1["loss"])
               + " over its last 100 steps" if nobn1_result.diverged_at is None else outcome(nobn1_result, nobn1["loss"]))
report.publish("deep/bn1_loss", bn1["loss"], ".3f")
report.publish("deep/bn1_growth_min", min(bn1["w growth"][1:]), ".2f")
report.publish("deep/bn1_growth_max", max(bn1["w growth"][1:]), ".2f")

# %% [markdown]
# What to see: the lr 0.001 panel's lines far below the guide, the lr 1.0 panels' lines far
# above it, and in the BatchNorm lr 1.0 panel the lines sloping down.
#
# - **lr 0.001**: the ratios of W1-W6 sit far below the guide ({{ value deep/lo_ud }}): each
#   step moves the weights by about {{ value deep/lo_step }} of their size, and after 1,000
#   steps the loss ({{ value deep/lo_loss }}) has hardly left its starting value near
#   $\ln V$ = {{ value deep/ln_vocab }}.
# - **lr 1.0 without BatchNorm**: the ratios of W1-W5 lie between {{ value deep/nobn1_ud_min }}
#   and {{ value deep/nobn1_ud_max }}, far above the guide (every step changes a weight by
#   about {{ value deep/nobn1_step }}), and W6's is {{ value deep/nobn1_ud_w6 }}; the tanh
#   layers end up mostly saturated ({{ value deep/nobn1_sat_min }} or more), and the run
#   {{ value deep/nobn1_outcome }}: worse than the uniform guess. Training is destroying the
#   network.
# - **lr 1.0 with BatchNorm** survives (loss {{ value deep/bn1_loss }}), and the column "weight
#   std, end / start" shows how: W1-W6 grew by factors of {{ value deep/bn1_growth_min }} to
#   {{ value deep/bn1_growth_max }}.

# %% tags=["remove-cell"]
# lr 0.001 agrees to 2 decimals over avx512/avx2/default; over 4 seeds W1-W6 -4.79 ... -4.44, loss 3.238 ... 3.247.
# lr 1.0 without BatchNorm, book's seed: W1-W5 -1.70 ... -1.58 (avx512 -1.65 ... -1.58, avx2 -1.70 ... -1.62,
# default -1.69 ... -1.66), over all 12 kernel set x seed runs -1.77 ... -1.40, never diverged; saturated >= 84%
# (book's seed; >= 54% over all), loss 4.77 ... 5.75 (book's seed; 3.70 ... 7.39 over all), ln V = 3.30.
# lr 1.0 with BatchNorm: loss 2.412 ... 2.435, growth 1.14 ... 1.72 over 4 seeds, the same on every kernel set.
claims.check("the lr 1.0 panels' lines far above it", min(nobn1["ud"][1:] + bn1["ud"][1:]) > -2.5,
             f"W1-W{n_layers + 1} without BatchNorm {fmt(nobn1['ud'][1:])}, with {fmt(bn1['ud'][1:])}")
claims.check("the lines sloping down", bn1_first > bn1_last + 0.05, f"first 100 steps {bn1_first:.2f}, last {bn1_last:.2f}")
claims.check("sit far below the guide", max(lo["ud"][1:]) < -4, f"W1-W{n_layers + 1} {fmt(lo['ud'][1:])}")
claims.check("has hardly left its starting value", lo["loss"] > ln_V - 0.2, f"loss {lo['loss']:.3f}, ln V {ln_V:.3f}")
claims.check("far above the guide", min(nobn1["ud"][1:-1]) > -2.5, f"W1-W5 {fmt(nobn1['ud'][1:-1])}")
claims.check("mostly saturated", min(nobn1["saturated %"]) > 50, f"saturated {fmt(nobn1['saturated %'])}")
claims.check("worse than the uniform guess", nobn1_result.diverged_at is not None or nobn1["loss"] > ln_V + 0.2,
             f"{outcome(nobn1_result, nobn1['loss'])}, ln V {ln_V:.3f}")
claims.check("**lr 1.0 with BatchNorm** survives", bn1["loss"] < ln_V - 0.5, f"loss {bn1['loss']:.3f}")
claims.check("W1-W6 grew by factors of", min(bn1["w growth"][1:]) > 1.05, f"growth {fmt(bn1['w growth'][1:])}")

# %% [markdown]
# The seeds: the network without BatchNorm at lr 1.0, drawn and trained from the book's seed
# and from seeds 0, 1 and 2.

# %%
nobn1_seeds = {settings.SEED: (nobn1_result, nobn1["loss"])}
for seed in EXTRA_SEEDS:
    m, r = run(f"no BatchNorm, lr 1.0, seed {seed}", lr=1.0, batchnorm=False, may_diverge=True, seed=seed)
    nobn1_seeds[seed] = (r, summary(m, r)["loss"])
report.show_table(["seed", "loss, last 100 steps"], [[s, outcome(r, loss)] for s, (r, loss) in nobn1_seeds.items()])
finished = [loss for r, loss in nobn1_seeds.values() if r.diverged_at is None]
blown = len(nobn1_seeds) - len(finished)
report.publish("deep/nobn1_seeds", (f"{blown} of the {len(nobn1_seeds)} runs {'blows' if blown == 1 else 'blow'} up; "
                                     if blown else "")
               + (f"the losses of the last 100 steps lie between {min(finished):.3f} and {max(finished):.3f}"
                  if finished else "none finishes"))

# %% [markdown]
# Over the four seeds {{ value deep/nobn1_seeds }}: every run ends worse than the uniform
# guess. The outcome of a run this unstable is a matter of chance; the verdict is not.

# %% tags=["remove-cell"]
# measured over avx512/avx2/default x these 4 seeds: no run diverged, losses 3.70 ... 7.39 (ln V = 3.30)
claims.check("every run ends worse than the uniform guess",
             all(r.diverged_at is not None or loss > ln_V + 0.2 for r, loss in nobn1_seeds.values()),
             "; ".join(f"seed {s}: {outcome(r, loss)}" for s, (r, loss) in nobn1_seeds.items()))

# %% [markdown]
# Why BatchNorm survives lr 1.0: a BatchNorm makes the loss independent of the length of
# each column $w$ of the weight matrix in front of it (the weights feeding one normalized
# neuron), so the gradient of that column is orthogonal to it, and a step
# $w - \mathrm{lr}\,\nabla w$ can only make it longer: $\|w\|^2$ grows by
# $\mathrm{lr}^2 \|\nabla w\|^2$. Longer weights get proportionally smaller gradients
# (chapter 3: $\nabla W \propto 1/s$), so the ratio falls by itself as the weights grow,
# although it still reports that each step is a large fraction of the weight.

# %%
report.publish("deep/bn1_ud_first", bn1_first, ".2f")
report.publish("deep/bn1_ud_last", bn1_last, ".2f")

# %% [markdown]
# Here the W1-W6 ratio of the BatchNorm run at lr 1.0 averages {{ value deep/bn1_ud_first }}
# over the first 100 steps and {{ value deep/bn1_ud_last }} over the last 100: it drifts down.

# %% tags=["remove-cell"]
# measured over avx512/avx2/default x 4 seeds: first -1.62 ... -1.59, last -1.77 ... -1.75
claims.check("it drifts down", bn1_first > bn1_last + 0.05, f"first {bn1_first:.2f}, last {bn1_last:.2f}")


# %% [markdown]
# ## Exercise E01: every weight zero
#
# The lecture's first exercise: set every Linear weight and bias to zero (here the Linear
# layers have no bias, since a BatchNorm follows each) and train. The network trains,
# but only partly. Which parameters move, and why the others never do, follows from two
# facts. A Linear layer with $W = 0$ outputs 0 for every example, so each BatchNorm
# receives a batch of identical values: its mean is that value and its variance 0, so
# $\hat{x} = 0 \cdot (0 + \epsilon)^{-1/2} = 0$ and it outputs $\beta$ for every example.
# The tanh after it outputs $\tanh(\beta)$, identical for every example and every unit of
# the layer (symmetry: nothing tells one unit from another). Backwards, the gradient of a
# Linear weight is $x^\top \nabla y$ and the gradient of its input is $\nabla y\, W^\top$:
# the second is 0 because $W = 0$, and the first is 0 wherever the input $x$ is 0.

# %%
def constant_init(value: float):
    """A `prepare` for run(): every Linear weight set to `value`, every Linear bias to 0."""
    def prepare(model):
        with torch.no_grad():
            for layer in model.layers:
                if isinstance(layer, layers.Linear):
                    layer.weight.fill_(value)
                    if layer.bias is not None:
                        layer.bias.zero_()
        return model
    return prepare


zero_init = constant_init(0.0)
zero0 = zero_init(deep_mlp(torch.Generator().manual_seed(settings.SEED)))
zero_model, zero_result = run("every weight zero", ud_every=None, prepare=zero_init)
moved = {name: (p != p0).sum().item() for (name, p), (_, p0) in zip(zero_model.named_parameters(),
                                                                   zero0.named_parameters())}
n_moved, n_total = sum(moved.values()), sum(p.nelement() for p in zero_model.parameters())
report.show_table(["layer", "output std over the batch (max over units)", "max |gradient of the output|",
                   "max |gradient of its parameters|", "entries moved in training"],
                  [[f"{i} {type(l).__name__}", f"{l.out.std(0).max():.2e}",
                    f"{l.out.grad.abs().max():.2e}" if l.out.grad is not None else "",
                    f"{max(p.grad.abs().max().item() for p in l.parameters()):.2e}" if l.parameters() else "",
                    f"{sum(moved[n] for n, _ in zero_model.named_parameters() if n.startswith(f'{i}.')):,}"
                    if l.parameters() else ""]
                   for i, l in enumerate(zero_model.layers)])

# %% [markdown]
# The table reads the last minibatch of the run. Every layer after the embedding (and its
# Flatten) outputs the same numbers for all 32 examples (standard deviation 0 over the
# batch). The gradient does reach the output of the last Linear layer, amplified by the last BatchNorm's
# $\gamma/\sqrt{\epsilon}$, but the weight gradient $h^\top \nabla y$ of that layer is 0,
# because its input $h = \tanh(\beta) = \tanh(0) = 0$, and the gradient passed further down,
# $\nabla y\, W^\top$, is 0 because $W = 0$. So below the last BatchNorm nothing ever
# receives a gradient, and in the last BatchNorm $\nabla\gamma = \sum \nabla y \cdot \hat{x} = 0$.
# What is left is $\beta$ of the last BatchNorm: $V$ = {{ value deep/vocab_size }} numbers
# that set the logits, the same for every context.

# %% tags=["remove-cell"]
claims.check("outputs the same numbers for all 32 examples",
             all(l.out.std(0).max().item() == 0 for l in zero_model.layers[2:]),
             f"output std over the batch: {fmt([l.out.std(0).max().item() for l in zero_model.layers[2:]], '{:.1e}')}")
claims.check("The gradient does reach the output of the last Linear layer",
             zero_model.layers[-2].out.grad.abs().max() > 10 * zero_model.layers[-1].out.grad.abs().max()
             and all(l.out.grad is None or l.out.grad.abs().max().item() == 0 for l in zero_model.layers[2:-2]),
             f"max |gradient| of the last Linear's output {zero_model.layers[-2].out.grad.abs().max().item():.2e}")

# %%
bias_name = zero_model.named_parameters()[-1][0]              # the last BatchNorm's beta
report.publish("deep/zero_moved", n_moved, ",")
report.publish("deep/zero_total", n_total, ",")
report.publish("deep/zero_tensor", f"`{bias_name}`")

# %% [markdown]
# Of the {{ value deep/zero_total }} parameters, {{ value deep/zero_moved }} moved in 1,000
# steps, all of them in {{ value deep/zero_tensor }}: the network learned one fixed
# distribution over the next character.

# %% tags=["remove-cell"]
claims.check("all of them in", n_moved == D.vocab_size and all(v == 0 for n, v in moved.items() if n != bias_name),
             f"moved {n_moved}; per tensor {dict((n, v) for n, v in moved.items() if v)}")

# %% [markdown]
# A model that ignores its context can do no better than predict the frequency $p_c$ of
# each next character in the training data, and its loss is then the entropy of that
# distribution, $H = -\sum_c p_c \ln p_c$. That is the bound the zero-initialised network
# runs into.

# %%
counts = torch.bincount(D.Ytr, minlength=D.vocab_size).double()   # (vocab_size,)
p_next = counts / counts.sum()
H = -(p_next[p_next > 0] * p_next[p_next > 0].log()).sum().item()
zero_train, zero_val = train.split_loss(zero_model, D.Xtr, D.Ytr), train.split_loss(zero_model, D.Xdev, D.Ydev)
p_learned = torch.softmax(zero_model.layers[-1].beta.detach().double(), 0)
report.publish("deep/H", H, ".4f")
report.publish("deep/zero_train", zero_train, ".4f")
report.publish("deep/zero_val", zero_val, ".4f")
report.publish("deep/zero_gap", zero_train - H, ".4f")
report.publish("deep/zero_p_diff", (p_learned - p_next).abs().max().item(), ".3f")

# %% [markdown]
# After 1,000 steps the zero-initialised network's training loss is
# {{ value deep/zero_train }} (val {{ value deep/zero_val }}), {{ value deep/zero_gap }} above
# the entropy of the next character, $H$ = {{ value deep/H }}: it has learned the character
# frequencies (the softmax of its {{ value deep/vocab_size }} output biases is within
# {{ value deep/zero_p_diff }} of them) and nothing else. The network of the diagnostic run
# reaches {{ value deep/diag_train }} after the same number of steps.

# %% tags=["remove-cell"]
# measured over avx512/avx2/default x 4 seeds: gap 0.0107 ... 0.0112 (not chaotic: only beta moves)
claims.check("it has learned the character frequencies", 0 <= zero_train - H < 0.02 and diag_train < H - 0.2,
             f"train {zero_train:.4f}, H {H:.4f}, diagnostic run {diag_train:.4f}")

# %% [markdown]
# Without BatchNorm the argument is the same, with the last Linear's bias in the role of the
# last BatchNorm's $\beta$. The network without BatchNorm, every weight and bias 0, trained
# the same 1,000 steps:

# %%
plain0 = zero_init(deep_mlp(torch.Generator().manual_seed(settings.SEED), batchnorm=False))
plain_model, _ = run("every weight zero, no BatchNorm", ud_every=None, prepare=zero_init, batchnorm=False)
plain_moved = [n for (n, p), (_, p0) in zip(plain_model.named_parameters(), plain0.named_parameters()) if (p != p0).any()]
report.publish("deep/plain_moved", ", ".join(f"`{n}`" for n in plain_moved))

# %% [markdown]
# The parameters that moved: {{ value deep/plain_moved }}. Only the last Linear's bias gets a
# gradient.

# %% tags=["remove-cell"]
claims.check("Only the last Linear's bias gets a gradient",
             plain_moved == [plain_model.named_parameters()[-1][0]] and plain_moved[0].endswith("Linear.bias"),
             f"moved: {plain_moved}")

# %% [markdown]
# Zero is a special constant: it also blocks the gradient on its way down through $W$. Set every Linear
# weight to one nonzero constant instead, here 0.1, and train the same 1,000 steps:

# %%
const0 = constant_init(0.1)(deep_mlp(torch.Generator().manual_seed(settings.SEED)))
const_model, _ = run("every weight 0.1", ud_every=None, prepare=constant_init(0.1))
with kept(const_model):
    const_train = train.split_loss(const_model, D.Xtr, D.Ytr)
const_moved = [name.split()[0] for (name, p), (_, p0) in zip(weights(const_model), weights(const0))
               if (p - p0).abs().max() > 1e-6 * p0.abs().max()]           # changed by more than float rounding
hidden_W = [l.weight for l in const_model.layers if isinstance(l, layers.Linear)][:-1]   # W1-W5: one column per unit
unit_gap = max(((W - W[:, :1]).abs().max() / W.abs().max()).item() for W in hidden_W)
report.publish("deep/const_moved", ", ".join(const_moved))
report.publish("deep/const_unit_gap", unit_gap, ".0e")
report.publish("deep/const_train", const_train, ".4f")

# %% [markdown]
# Now the gradient passes, and of the weight matrices {{ value deep/const_moved }} moved. The
# symmetry remains: the units of a layer start identical, receive identical gradients and stay
# identical. After training, in every hidden layer the columns of $W$ (one per unit) differ by
# at most {{ value deep/const_unit_gap }} of the largest weight, float rounding, so each
# hidden layer is as good as one unit. (W2 to W6 do not move: their input is the same
# for every unit, so a column of $W$ can only scale one unit's pre-activation, which the
# BatchNorm after it undoes.) The network reaches a training loss of
# {{ value deep/const_train }}: better than the frequencies alone ({{ value deep/H }}), since one
# unit per layer still reads the context, and far from the {{ value deep/diag_train }} of the
# randomly initialised network. Random initialization is what breaks the symmetry.

# %% tags=["remove-cell"]
# measured over avx512/avx2/default x 4 seeds: C and W1 change by 6% ... 59% of their largest entry, W2-W6 by exactly 0;
# column gap <= 2.3e-7; train 2.717 ... 2.723 (H 2.821, random init 2.38 ... 2.41)
claims.check("and of the weight matrices", const_moved == ["C", "W1"], f"moved: {const_moved}")
claims.check("differ by at most", unit_gap < 1e-4, f"largest column gap {unit_gap:.1e}")
claims.check("W2 to W6 do not move", "W2" not in const_moved and "W6" not in const_moved, f"moved: {const_moved}")
claims.check("better than the frequencies alone", const_train < H - 0.05, f"train {const_train:.4f}, H {H:.4f}")
claims.check("far from the", const_train > diag_train + 0.15, f"train {const_train:.4f}, random init {diag_train:.4f}")

# %% [markdown]
# ## LayerNorm, BatchNorm and no normalization
#
# BatchNorm normalises each unit over the *batch*: it ties every example's output to the
# other 31 examples it happens to be drawn with, needs running statistics for inference,
# and cannot run a batch of one in training mode. LayerNorm normalises each *example* over
# its own units: the mean and variance in
#
# $$y = \gamma \odot \frac{x - \mathrm{mean}(x)}{\sqrt{\mathrm{var}(x) + \epsilon}} + \beta$$
#
# are taken over the 100 features of one row of $x$, so there is nothing to estimate over the
# training set, no train/eval difference, and a batch of one is normalised exactly as inside
# any batch. The library's version (tested against `torch.nn.LayerNorm`):

# %%
report.show_source(layers.LayerNorm)

# %% [markdown]
# The same network with `LayerNorm` in every place of a `BatchNorm1d` (same draws, same last
# $\gamma \times 0.1$), trained like the diagnostic run; beside it the BatchNorm network (the
# diagnostic run itself) and the network without normalization (gain 5/3, from the
# experiments above): 1,000 steps each at learning rate 0.1. Losses in eval mode.

# %%
norm_runs = {"BatchNorm": (diag_model, diag_result), "LayerNorm": run("LayerNorm, lr 0.1", norm="layer"),
             "no normalization (gain 5/3)": trained["no BatchNorm, gain 5/3"]}
norm_stats = {}
for k, (m, r) in norm_runs.items():
    norm_stats[k] = summary(m, r)
    norm_stats[k]["train"], norm_stats[k]["val"] = (diag_train, diag_val) if m is diag_model else split_losses(m)
report.show_table(["after 1,000 steps", "activation std", "saturated %", "gradient std, x10^-3",
                   f"grad:data ratio, W1-W{n_layers + 1}", "train", "val"],
                  [[k, fmt(v["act std"]), fmt(v["saturated %"], "{:.1f}"), fmt([1e3 * x for x in v["grad std"]]),
                    fmt(v["grad:data"][1:], "{:.3f}"), f"{v['train']:.4f}", f"{v['val']:.4f}"]
                   for k, v in norm_stats.items()])
for k, v in norm_stats.items():
    report.record_run(f"deep MLP, {k}, lr 0.1", EXP_STEPS, v["train"], v["val"])
plots.plot_layer_stats({"activation std": {k: v["act std"] for k, v in norm_stats.items()},
                        "saturated %": {k: v["saturated %"] for k, v in norm_stats.items()},
                        "log10 gradient std": {k: log10(v["grad std"]) for k, v in norm_stats.items()}},
                       title=f"BatchNorm, LayerNorm, none: tanh layers 1-{n_layers} after {EXP_STEPS:,} steps")
bnn, ln, non = (norm_stats[k] for k in ["BatchNorm", "LayerNorm", "no normalization (gain 5/3)"])
best = min(norm_stats, key=lambda k: norm_stats[k]["val"])
val_spread = max(v["val"] for v in norm_stats.values()) - min(v["val"] for v in norm_stats.values())
report.publish("deep/none_sat", fmt(non["saturated %"], "{:.0f}"))
report.publish("deep/ln_act", fmt(ln["act std"]))
report.publish("deep/bn_act_after", fmt(bnn["act std"]))
report.publish("deep/val_spread", val_spread, ".3f")
report.publish("deep/val_best", best.split(" (")[0])
report.publish("deep/val_best_value", norm_stats[best]["val"], ".4f")

# %% [markdown]
# What to see in the figure: the BatchNorm and LayerNorm lines nearly coincide, and the
# network without normalization stands apart, more saturated ({{ value deep/none_sat }}%).
# LayerNorm keeps every tanh layer's activations as evenly spread as BatchNorm does (std
# {{ value deep/ln_act }} against {{ value deep/bn_act_after }}), and after 1,000 steps the
# three validation losses lie within {{ value deep/val_spread }} of each other, lowest for
# {{ value deep/val_best }} ({{ value deep/val_best_value }}). At this depth and length a
# well-chosen gain does as well as either normalization; what the normalizations buy is that
# nothing had to be chosen.

# %% tags=["remove-cell"]
# these runs agree to 3 decimals over avx512/avx2/default; over 4 seeds: no normalization saturated >= 9.0%
# against <= 4.1% for the others; LayerNorm std 0.63 ... 0.66; val spread 0.031 ... 0.049, no normalization
# lowest by 0.023 ... 0.047
claims.check("the BatchNorm and LayerNorm lines nearly coincide",
             max(abs(a - b) for a, b in zip(ln["act std"], bnn["act std"])) < 0.05
             and max(abs(a - b) for a, b in zip(ln["saturated %"], bnn["saturated %"])) < 5,
             f"act std LayerNorm {fmt(ln['act std'], '{:.3f}')}, BatchNorm {fmt(bnn['act std'], '{:.3f}')}")
claims.check("stands apart, more saturated", min(non["saturated %"]) > 1.5 * max(ln["saturated %"] + bnn["saturated %"]),
             f"saturated {fmt(non['saturated %'])} vs at most {max(ln['saturated %'] + bnn['saturated %']):.1f}")
claims.check("as evenly spread as BatchNorm does", max(ln["act std"]) - min(ln["act std"]) < 0.1,
             f"LayerNorm act std {fmt(ln['act std'], '{:.3f}')}")
claims.check("a well-chosen gain does as well as either normalization", non["val"] <= min(ln["val"], bnn["val"]) + 0.02,
             "; ".join(f"{k} val {v['val']:.4f}" for k, v in norm_stats.items()))

# %% [markdown]
# Batch size 1: the LayerNorm network gives each example the same logits alone as inside a
# batch, in training mode; the BatchNorm network in training mode gives one example
# different logits depending on which other examples share its batch, and refuses a batch
# of one (eval mode, with running statistics, is its way out).

# %%
ln_model = norm_runs["LayerNorm"][0]
xb = D.Xdev[:32]                                               # (32, block_size)
with torch.no_grad(), kept(ln_model), kept(diag_model):    # training mode would move running stats
    ln_batched = ln_model(xb)                                  # (32, vocab_size)
    ln_single = torch.cat([ln_model(xb[i:i + 1]) for i in range(32)])
    diag_model.train()
    bn_a = diag_model(xb)[0]
    bn_b = diag_model(torch.cat([xb[:1], D.Xdev[32:63]]))[0]
    try:
        diag_model(xb[:1])
        bn_one = "ran"
    except layers.BatchTooSmall as e:
        bn_one = f"refused: {e}"
ln_diff, bn_diff = (ln_batched - ln_single).abs().max().item(), (bn_a - bn_b).abs().max().item()
print(f"BatchNorm (training mode), a batch of one: {bn_one}")
report.publish("deep/ln_diff", ln_diff, ".1e")
report.publish("deep/bn_diff", bn_diff, ".3f")

# %% [markdown]
# One example alone against the same example inside a batch of 32: the LayerNorm logits
# differ by at most {{ value deep/ln_diff }}, float rounding of the matrix products at
# different batch sizes, not a dependence on the batch. The BatchNorm logits of one example
# in two different batches differ by up to {{ value deep/bn_diff }}, and a batch of one it
# refuses in training mode (its message is printed above).

# %% tags=["remove-cell"]
claims.check("float rounding of the matrix products", ln_diff < 1e-4, f"LayerNorm {ln_diff:.1e}")
claims.check("The BatchNorm logits of one example in two different batches differ", bn_diff > 0.01,
             f"BatchNorm {bn_diff:.3f}")
claims.check("a batch of one it refuses", bn_one.startswith("refused"), bn_one)

# %% [markdown]
# ## Depth, measured
#
# Is a deeper network better after the same training, and does BatchNorm matter more the
# deeper the network is? The same budget at 2, 5 and 10 hidden layers of 100 units, with
# BatchNorm, with LayerNorm and without normalization (gain 5/3): 1,000 steps from the book's
# seed, at learning rate 0.1 and 0.01 for the last 250 (the full training's schedule scaled
# down to 1,000 steps, so that the loss at the end is not the noise of the last few steps
# at 0.1). Losses on the whole splits, in eval mode.

# %%
DEPTHS = (2, 5, 10)
DEPTH_DECAY = 750                                              # lr 0.1, then 0.01 for the last quarter
depth_norms = {"BatchNorm": dict(norm="batch"), "LayerNorm": dict(norm="layer"),
               "no normalization": dict(batchnorm=False)}      # without normalization: the chapter's gain
depth_runs = {}
for depth in DEPTHS:
    for norm_label, kw in depth_norms.items():
        label = f"deep MLP, {depth} layers, {norm_label}, lr 0.1 then 0.01"
        m, r = run(label, ud_every=None, decay_step=DEPTH_DECAY, n_layers=depth, **kw)
        tr, va = train.split_loss(m, D.Xtr, D.Ytr), train.split_loss(m, D.Xdev, D.Ydev)
        report.record_run(label, EXP_STEPS, tr, va)
        depth_runs[norm_label, depth] = dict(model=m, result=r, train=tr, val=va)
depth_val = {k: [depth_runs[k, n]["val"] for n in DEPTHS] for k in depth_norms}
report.show_table(["validation loss after 1,000 steps"] + [f"{n} layers" for n in DEPTHS],
                  [[k] + [f"{v:.4f}" for v in vals] for k, vals in depth_val.items()])
plots.plot_lines(list(DEPTHS), depth_val, title=f"Validation loss after {EXP_STEPS:,} steps against depth",
                 xlabel="hidden layers", ylabel="validation loss (eval mode)")
print(f"depth runs: {sum(v['result'].seconds for v in depth_runs.values()):.1f} s of training for {len(depth_runs)} runs")

# %%
bn_gaps = [b - n for b, n in zip(depth_val["BatchNorm"], depth_val["no normalization"])]   # per depth
ln_gaps = [l - n for l, n in zip(depth_val["LayerNorm"], depth_val["no normalization"])]
ln_bn = max(abs(l - b) for l, b in zip(depth_val["LayerNorm"], depth_val["BatchNorm"]))
gap_moves = max(abs(x - bn_gaps[0]) for x in bn_gaps[1:])                 # against its value at 2 layers
drop_2_5 = min(v[0] - v[1] for v in depth_val.values())                   # DEPTHS = (2, 5, 10)
change_5_10 = max(abs(v[2] - v[1]) for v in depth_val.values())
report.publish("deep/depth_bn_gap", f"{min(bn_gaps):.3f} to {max(bn_gaps):.3f}")
report.publish("deep/depth_ln_gap", f"{min(ln_gaps):.3f} to {max(ln_gaps):.3f}")
report.publish("deep/depth_ln_bn", ln_bn, ".3f")
report.publish("deep/depth_gap_moves", gap_moves, ".3f")
report.publish("deep/depth_drop", drop_2_5, ".3f")
report.publish("deep/depth_change", change_5_10, ".3f")

# %% [markdown]
# What the numbers show. At every depth the network without normalization ends lowest:
# BatchNorm's validation loss is {{ value deep/depth_bn_gap }} above it, LayerNorm's
# {{ value deep/depth_ln_gap }}. So at this budget BatchNorm's advantage does not grow with
# depth; there is no advantage to grow, and its deficit at 5 and at 10 layers stays within
# {{ value deep/depth_gap_moves }} of its deficit at 2 layers. LayerNorm, which has no
# batch noise, is behind as well, within {{ value deep/depth_ln_bn }} of BatchNorm at every
# depth.
#
# Depth itself pays up to 5 layers and not beyond: from 2 to 5 layers every one of the three
# networks' validation loss falls by {{ value deep/depth_drop }} or more, from 5 to 10 layers
# none changes by more than {{ value deep/depth_change }}.

# %% tags=["remove-cell"]
# measured (this budget) over avx512/avx2/default x seeds 2147483647/0/1/2: BatchNorm minus none +0.054 ... +0.076,
# LayerNorm minus none +0.048 ... +0.086, |LayerNorm - BatchNorm| <= 0.017; BatchNorm's deficit at 5 and 10 layers
# moves by -0.016 ... +0.005 from its value at 2 layers; 2 -> 5 layers falls by 0.047 ... 0.085, 5 -> 10 changes
# by -0.008 ... +0.021. (At a constant lr 0.1 the same comparison is noisier: BatchNorm minus none -0.036 ... +0.064.)
claims.check("At every depth the network without normalization ends lowest", min(bn_gaps + ln_gaps) > 0.02,
             f"BatchNorm minus none {fmt(bn_gaps, '{:+.4f}')}; LayerNorm minus none {fmt(ln_gaps, '{:+.4f}')}")
claims.check("BatchNorm's advantage does not grow with depth", gap_moves < 0.035 and min(bn_gaps) > 0.02,
             f"BatchNorm minus none {fmt(bn_gaps, '{:+.4f}')}")
claims.check("LayerNorm, which has no batch noise, is behind as well", min(ln_gaps) > 0.02 and ln_bn < 0.035,
             f"LayerNorm minus none {fmt(ln_gaps, '{:+.4f}')}, largest |LayerNorm - BatchNorm| {ln_bn:.4f}")
claims.check("Depth itself pays up to 5 layers and not beyond", drop_2_5 > 0.02 and change_5_10 < 0.04,
             f"2 -> 5 layers: smallest fall {drop_2_5:.4f}; 5 -> 10: largest change {change_5_10:.4f}")

# %% [markdown]
# Why normalization has nothing to repair here: at these depths the gain 5/3 is already a
# good initialization. The 10-layer network without normalization, at initialization, on
# 1,000 dev examples:

# %%
deep10 = deep_mlp(torch.Generator().manual_seed(settings.SEED), n_layers=10, batchnorm=False)
with torch.no_grad():
    deep10(D.Xdev[:1_000])
d10_std = [t.std().item() for t in tanh_outputs(deep10)]
d10_sat = [100 * (t.abs() > SATURATED).float().mean().item() for t in tanh_outputs(deep10)]
report.show_table(["at initialization", "tanh layers 1-10"],
                  [["activation std", fmt(d10_std)], ["saturated %", fmt(d10_sat, "{:.1f}")]])
report.publish("deep/d10_std", f"{min(d10_std):.2f} and {max(d10_std):.2f}")
report.publish("deep/d10_sat1", d10_sat[0] / 100, ".0%")
report.publish("deep/d10_sat_deeper", max(d10_sat[1:]) / 100, ".0%")

# %% [markdown]
# Its activation std stays between {{ value deep/d10_std }} over all ten layers, and only the
# first layer saturates more than a little ({{ value deep/d10_sat1 }}; the others
# {{ value deep/d10_sat_deeper }} at most): the statistics the 5-layer network had, carried
# down ten layers. Why the normalized networks end behind at this budget, this chapter does
# not measure; and what holds after 1,000 steps need not hold after 200,000 (only the
# 5-layer BatchNorm network is trained in full, below).

# %% tags=["remove-cell"]
# at initialization, the same on every kernel set; over seeds 2147483647/0/1/2: std 0.644 ... 0.767
# (max/min <= 1.19), layer 1 saturated 18.8 ... 23.8%, layers 2-10 <= 11.2%
claims.check("Its activation std stays between", max(d10_std) / min(d10_std) < 1.35, f"std {fmt(d10_std, '{:.3f}')}")
claims.check("only the first layer saturates more than a little",
             max(d10_sat[1:]) < 15 and d10_sat[0] > 1.3 * max(d10_sat[1:]), f"saturated % {fmt(d10_sat, '{:.1f}')}")

# %% [markdown]
# ## The linear network
#
# Without the tanh, each hidden layer is a Linear layer, and a stack of them is one:
# $(xW_1 + b_1)W_2 + b_2 = x(W_1W_2) + (b_1W_2 + b_2)$, and so on down the stack. The same
# network with `layers.Identity` in place of every tanh and no normalization, at gain 1 and
# at the tanh gain 5/3, beside the tanh network (gain 5/3) of the experiments above: at
# initialization, one forward and backward pass on one minibatch, as there.

# %%
def act_outputs(model):
    """The output of every activation layer (Tanh, Identity, ReLU, ...), with its gradient."""
    return [layer.out for layer in model.layers if isinstance(layer, layers.Activation)]


lin_kw = {"linear, gain 1": dict(gain=1.0), "linear, gain 5/3": dict(gain=5 / 3)}
lin_init = {"tanh, gain 5/3": dict(act=a53["act std"], grad=a53["grad std"])}   # from the experiments above
for label, kw in lin_kw.items():
    m, _ = run(f"{label} (at initialization)", steps=1, lr=0.0, ud_every=None, batchnorm=False,
               activation=layers.Identity, **kw)
    lin_init[label] = dict(act=[t.std().item() for t in act_outputs(m)], grad=[t.grad.std().item() for t in act_outputs(m)])
report.show_table(["at initialization", f"activation std, layers 1-{n_layers}", "gradient std, 1e-3"],
                  [[k, fmt(v["act"]), fmt([1e3 * x for x in v["grad"]])] for k, v in lin_init.items()])
plots.plot_layer_stats({"activation std": {k: v["act"] for k, v in lin_init.items()},
                        "log10 gradient std": {k: log10(v["grad"]) for k, v in lin_init.items()}},
                       title="Linear and tanh networks at initialization (no normalization)")
l1, l53 = lin_init["linear, gain 1"], lin_init["linear, gain 5/3"]
spread = lambda v: max(v) / min(v)
l53_factors = [b / a for a, b in zip(l53["act"], l53["act"][1:])]
report.publish("deep/lin1_act", f"{min(l1['act']):.2f} and {max(l1['act']):.2f}")
report.publish("deep/lin1_grad_spread", spread(l1["grad"]), ".2f")
report.publish("deep/lin53_act", fmt(l53["act"], "{:.1f}"))
report.publish("deep/lin53_factor", f"{min(l53_factors):.2f} to {max(l53_factors):.2f}")
report.publish("deep/lin53_grad_ratio", l53["grad"][0] / l53["grad"][-1], ".1f")
report.publish("deep/gain_4", (5 / 3) ** 4, ".1f")

# %% [markdown]
# - **Gain 1** keeps the statistics: with nothing squashing, a Linear layer with weights
#   $N(0, 1)/\sqrt{\text{fan-in}}$ hands on the standard deviation it receives, forward and
#   backward. The activation std stays between {{ value deep/lin1_act }} from layer 1 to 5,
#   and the gradient std of the five layers is within a factor {{ value deep/lin1_grad_spread }}
#   of each other.
# - **Gain 5/3** compensates a squashing that is not there: each layer's activation std is
#   {{ value deep/lin53_factor }} times the one before (std {{ value deep/lin53_act }}), and
#   backwards the gradient grows the same way, to {{ value deep/lin53_grad_ratio }} times
#   larger at layer 1 than at layer 5 ($(5/3)^4$ = {{ value deep/gain_4 }}).
#
# The same gain keeps the tanh network level (std {{ value deep/g53_act }}): there it has a
# squashing to compensate.

# %% tags=["remove-cell"]
# at initialization, the same on every kernel set; over seeds 2147483647/0/1/2: gain 1 activation std 0.92 ... 1.09
# (max/min <= 1.08), gradient max/min <= 1.06; gain 5/3 layer-to-layer factor 1.57 ... 1.76, gradient layer 1 /
# layer 5 7.6 ... 8.3
claims.check("**Gain 1** keeps the statistics", spread(l1["act"]) < 1.25 and spread(l1["grad"]) < 1.25,
             f"activation std {fmt(l1['act'], '{:.3f}')}, gradient std max/min {spread(l1['grad']):.2f}")
claims.check("each layer's activation std is", all(1.4 < f < 2.0 for f in l53_factors), f"factors {fmt(l53_factors)}")
claims.check("backwards the gradient grows the same way", l53["grad"][0] > 5 * l53["grad"][-1],
             f"gradient std {fmt([1e3 * x for x in l53['grad']])} x10^-3")
claims.check("The same gain keeps the tanh network level", spread(a53["act std"]) < 1.3 < spread(l53["act"]),
             f"act std tanh {fmt(a53['act std'])}, linear {fmt(l53['act'])}")

# %% [markdown]
# Trained like the depth runs (1,000 steps, learning rate 0.1 then 0.01), beside the tanh
# network of the same depth from those runs and the single map itself: `deep_mlp(n_layers=0)`,
# the embedding followed by one Linear layer.

# %%
lin_models = {}
for label, kw in lin_kw.items():
    lin_models[label] = run(label, ud_every=None, decay_step=DEPTH_DECAY, may_diverge=True, batchnorm=False,
                            activation=layers.Identity, **kw)
lin_models["single Linear layer"] = run("single Linear layer", ud_every=None, decay_step=DEPTH_DECAY,
                                        batchnorm=False, n_layers=0)
lin_val = {k: None if r.diverged_at is not None else train.split_loss(m, D.Xdev, D.Ydev)
           for k, (m, r) in lin_models.items()}
lin_val["tanh, gain 5/3"] = depth_runs["no normalization", 5]["val"]
report.show_table(["after 1,000 steps", "validation loss"],
                  [[k, outcome(lin_models[k][1], 0.0) if v is None else f"{v:.4f}"] for k, v in lin_val.items()])
lin53_result = lin_models["linear, gain 5/3"][1]
report.publish("deep/lin53_outcome", outcome(lin53_result, 0.0) if lin53_result.diverged_at is not None
               else f"ends at validation loss {lin_val['linear, gain 5/3']:.4f}")
report.publish("deep/lin1_val", lin_val["linear, gain 1"], ".4f")

# %% [markdown]
# At gain 5/3 the linear network {{ value deep/lin53_outcome }}. At gain 1 it trains, to a
# validation loss of {{ value deep/lin1_val }}, well below the uniform guess's
# {{ value deep/ln_vocab }}.

# %% tags=["remove-cell"]
# over avx512/avx2/default x seeds 2147483647/0/1/2 the gain-5/3 linear network blows up at step 3 or 4 (loss > 1,000);
# the gain-1 one ends at 2.441 ... 2.458
claims.check("At gain 1 it trains", lin_val["linear, gain 1"] is not None and lin_val["linear, gain 1"] < ln_V - 0.5,
             f"gain 1: {lin_val['linear, gain 1']}")

# %% [markdown]
# That trained network is one linear map. Multiplying its six weight matrices gives one
# matrix $M$, and passing the biases through the weights after them gives one bias $b$; the
# logits of `embcat @ M + b` on the dev set are compared with the stack's, and, for scale,
# the stack's float32 logits with the same stack evaluated in float64 (float32 rounding
# itself):

# %%
def in_float64(model):
    """A copy of `model` for evaluation in float64: the same layers, every float tensor in double."""
    copies = []
    for layer in model.layers:
        twin = object.__new__(type(layer))
        vars(twin).update({k: v.detach().double() if torch.is_tensor(v) and v.is_floating_point() else v
                           for k, v in vars(layer).items() if k not in ("out", "probe_out")})
        copies.append(twin)
    return layers.Sequential(copies).eval()


lin_model = lin_models["linear, gain 1"][0]
linears = [l for l in lin_model.layers if isinstance(l, layers.Linear)]
with torch.no_grad():
    M = linears[0].weight                                      # (block_size * n_embd, n_hidden)
    b = linears[0].bias                                        # (n_hidden,)
    for l in linears[1:]:
        M, b = M @ l.weight, b @ l.weight + l.bias             # ends (block_size * n_embd, vocab_size), (vocab_size,)
    embcat = layers.embed(lin_model.layers[0].weight, D.Xdev)[1]   # (N_dev, block_size * n_embd)
    logits_map = embcat @ M + b                                # (N_dev, vocab_size)
    logits_stack = lin_model(D.Xdev)                           # (N_dev, vocab_size)
    logits_stack64 = in_float64(lin_model)(D.Xdev)
map_diff = (logits_map - logits_stack).abs().max().item()
map_rounding = (logits_stack.double() - logits_stack64).abs().max().item()
n_stack = sum(p.nelement() for l in linears for p in l.parameters())
report.publish("deep/map_shape", " × ".join(map(str, M.shape)))
report.publish("deep/map_diff", map_diff, ".1e")
report.publish("deep/map_rounding", map_rounding, ".1e")
report.publish("deep/map_params", M.nelement() + b.nelement(), ",")
report.publish("deep/stack_params", n_stack, ",")

# %% [markdown]
# $M$ is {{ value deep/map_shape }}, and the single map's logits differ from the stack's by
# at most {{ value deep/map_diff }}, against {{ value deep/map_rounding }} between float32 and
# float64: the six Linear layers compute one linear map, up to float32 rounding. Their
# {{ value deep/stack_params }} weights and biases describe what {{ value deep/map_params }}
# numbers describe as well.

# %% tags=["remove-cell"]
# map_diff / map_rounding over avx512/avx2/default x seeds 2147483647/0/1/2: 0.86 ... 1.63; both ~2e-6 ... 4e-6
claims.check("the six Linear layers compute one linear map, up to float32 rounding",
             map_diff < 1e-4 and map_diff < 10 * max(map_rounding, 1e-7),
             f"map vs stack {map_diff:.1e}; float32 vs float64 {map_rounding:.1e}")

# %%
single_val, tanh_val = lin_val["single Linear layer"], lin_val["tanh, gain 5/3"]
report.publish("deep/single_val", single_val, ".4f")
report.publish("deep/lin_vs_single", abs(lin_val["linear, gain 1"] - single_val), ".3f")
report.publish("deep/lin_vs_single_side", "above" if single_val > lin_val["linear, gain 1"] else "below")
report.publish("deep/tanh_val5", tanh_val, ".4f")
report.publish("deep/tanh_gain", min(lin_val["linear, gain 1"], single_val) - tanh_val, ".3f")

# %% [markdown]
# Trained the same 1,000 steps, the single Linear layer ends at {{ value deep/single_val }},
# {{ value deep/lin_vs_single }} {{ value deep/lin_vs_single_side }} the linear stack's
# {{ value deep/lin1_val }}: both compute a map of the form `embcat @ M + b`, so that
# difference comes from the path training takes in 1,000 steps, not from what either can
# express. The tanh network of the same depth reaches {{ value deep/tanh_val5 }}. It differs
# from the linear stack by the tanh between the layers (and the gain the tanh needs), and
# that is worth {{ value deep/tanh_gain }} of validation loss over the better of the two
# linear models: without the nonlinearity, the depth computes one matrix.

# %% tags=["remove-cell"]
# over avx512/avx2/default x seeds 2147483647/0/1/2 (identical on the kernel sets): linear stack 2.441 ... 2.458,
# single Linear 2.480 ... 2.514, tanh 2.345 ... 2.359: tanh below the better linear model by 0.091 ... 0.100
claims.check("both compute a map of the form", map_diff < 1e-4, f"map vs stack {map_diff:.1e}")
claims.check("that is worth", min(lin_val["linear, gain 1"], single_val) - tanh_val > 0.05,
             f"tanh {tanh_val:.4f}, linear stack {lin_val['linear, gain 1']:.4f}, single Linear {single_val:.4f}")

# %% [markdown]
# ## Dead units: ReLU, leaky ReLU, sigmoid and ELU
#
# Tanh units die by saturating (chapter 2's white columns). A ReLU, $\max(0, x)$, has no
# saturation on the positive side but is flat at 0 on the negative side: a unit whose
# pre-activation is negative for every input outputs 0, and its own weights receive no
# gradient. Only the layers below can then bring it back, by changing what it receives. It
# can be born so, or be pushed there by large updates. A leaky ReLU keeps a slope of 0.01
# on the negative side, so such a unit's weights still receive a little gradient. Two more
# activations bend differently: the sigmoid $1/(1 + e^{-x})$ never outputs exactly 0 but
# saturates at both ends, where its slope $y(1 - y)$ (at most 1/4) goes to 0; the ELU is
# $x$ for $x > 0$ and $\alpha(e^x - 1)$ below, whose slope $\alpha e^x$ shrinks on the
# negative side but never reaches 0.

# %%
report.show_source(layers.ReLU)
report.show_source(layers.LeakyReLU)
report.show_source(layers.Sigmoid)
report.show_source(layers.ELU)

# %% [markdown]
# "Dead" needs a definition that works for all four. A unit is dead when its weights receive
# (almost) no gradient from any example, and what passes a gradient is the activation's
# slope. So we count a unit as dead when, on every one of the dev set's examples, its slope
# is at most 1% of the activation's steepest slope (the leaky ReLU's leak):
#
# - ReLU and leaky ReLU: the unit does not fire, output $\le 0$;
# - sigmoid (steepest slope 1/4): output below about 0.0025 or above about 0.9975, i.e. $|x| > 5.99$;
# - ELU with $\alpha = 1$: output below $-0.99$, i.e. $x < \ln 0.01 \approx -4.6$.
#
# We count, in each of the five hidden layers of 100 units, the dead units, the dev set
# passed as one batch (so each BatchNorm normalises with the dev set's own statistics, at
# initialization as after training). The runs: ReLU in place of tanh, with BatchNorm and
# without (weights scaled by the ReLU gain $\sqrt{2}$), and leaky ReLU, sigmoid and ELU
# without (the same weights), at the lecture's learning rate 0.1 and at 1.0; 1,000 steps
# each, from the same seed. A run whose loss blows up says so instead.

# %%
RELU_GAIN = 2 ** 0.5                                           # Kaiming gain for ReLU
DEAD_SLOPE = 0.01                                              # dead: slope <= 1% of the steepest, on every example


def act_layers(model):
    return [l for l in model.layers if isinstance(l, layers.Activation)]


def alive(layer, h):
    """True where the activation's slope at output h is above DEAD_SLOPE times its steepest slope."""
    if isinstance(layer, (layers.ReLU, layers.LeakyReLU)):
        return h > 0                                           # slope 1, else 0 (ReLU) or 0.01 (leaky)
    if isinstance(layer, layers.Sigmoid):
        return 4 * h * (1 - h) > DEAD_SLOPE                    # slope y (1 - y), steepest 1/4
    if isinstance(layer, layers.ELU):                          # slope 1, else alpha e^x = y + alpha
        return (h > 0) | ((h + layer.alpha) / max(1.0, layer.alpha) > DEAD_SLOPE)
    raise TypeError(f"no dead-unit criterion for {type(layer).__name__}")


def dead_mask(model, X):
    """(hidden layers, units): True for a unit that is not alive() on any row of X, with X as
    one batch (each BatchNorm normalises with the statistics of X; its running statistics are
    restored). Each layer keeps its outputs on X in `.probe_out`, for the picture."""
    with torch.no_grad(), kept(model):
        model.train()(X)
        outs = [l.out for l in act_layers(model)]
    for l, h in zip(act_layers(model), outs):
        l.probe_out = h                                        # (N, 100)
    return torch.stack([~alive(l, h).any(0) for l, h in zip(act_layers(model), outs)])   # (5, 100)


fresh_nets = {}                                                # (activation, norm, seed) -> (network, dead mask)


def never_fires(model, X, chunk: int = 20_000):
    """dead_mask over all of X, a chunk at a time: for a network without BatchNorm, where each
    example passes on its own."""
    return torch.stack([dead_mask(model, X[i:i + chunk]) for i in range(0, X.shape[0], chunk)]).all(0)


def relu_run(act, norm_label, lr, seed=settings.SEED):
    """A run of `run()` with `act` in place of tanh, and the dead units of its network before and after."""
    kw = {} if norm_label == "BatchNorm" else dict(batchnorm=False, gain=RELU_GAIN)
    label = f"{act.__name__}, {norm_label}, lr {lr}"
    if (act, norm_label, seed) not in fresh_nets:               # the same draws for both learning rates
        fresh = deep_mlp(torch.Generator().manual_seed(seed), activation=act, **kw)
        fresh_nets[act, norm_label, seed] = fresh, dead_mask(fresh, D.Xdev)
    fresh, at0 = fresh_nets[act, norm_label, seed]
    m, r = run(label + ("" if seed == settings.SEED else f", seed {seed}"), lr=lr, ud_every=None,
               seed=seed, may_diverge=True, activation=act, **kw)
    end = None if r.diverged_at is not None else dead_mask(m, D.Xdev)
    return dict(init=at0, after=end, loss=summary(m, r)["loss"], model=m, fresh=fresh, result=r)


def dead_text(mask):
    return f"{fmt(mask.sum(1).tolist(), '{}')} ({mask.sum().item()})"


relu_dead = {}
for act, norm_label in [(layers.ReLU, "BatchNorm"), (layers.ReLU, "no norm"), (layers.LeakyReLU, "no norm"),
                        (layers.Sigmoid, "no norm"), (layers.ELU, "no norm")]:
    for lr in (0.1, 1.0):
        relu_dead[f"{act.__name__}, {norm_label}, lr {lr}"] = relu_run(act, norm_label, lr)
report.show_table(["run", f"dead at init, layers 1-{n_layers} (total of {n_layers * n_hidden})", f"dead after {EXP_STEPS:,} steps",
                   "loss, last 100 steps"],
                  [[k, dead_text(v["init"]), dead_text(v["after"]) if v["after"] is not None else "",
                    outcome(v["result"], v["loss"])] for k, v in relu_dead.items()])
print(f"dead-unit runs: {sum(v['result'].seconds for v in relu_dead.values()):.1f} s for {len(relu_dead)} runs")

# %% [markdown]
# The white-columns picture of the ReLU network without normalization at lr 1.0, before and
# after training: one row per dev example (the first 1,000), one column per unit of the five
# layers side by side, white where the unit does not fire. A column white from top to bottom
# is a dead unit.

# %%
worst = relu_dead["ReLU, no norm, lr 1.0"]
pictures = [("at initialization", worst["fresh"])]
if worst["after"] is not None:                                 # a run that blew up has no "after"
    pictures.append((f"after {EXP_STEPS:,} steps", worst["model"]))
for state, m in pictures:                                      # relu_run left the dev set's outputs in .probe_out
    plots.plot_dead_units(torch.cat([l.probe_out for l in act_layers(m)], 1)[:1_000],
                          title=f"ReLU, no normalization, lr 1.0, {state}: white = not firing")

# %% [markdown]
# The same ReLU network without normalization, from seeds 0, 1 and 2 as well, at both
# learning rates:

# %%
relu_seeds = {(settings.SEED, lr): relu_dead[f"ReLU, no norm, lr {lr}"] for lr in (0.1, 1.0)}
for seed in EXTRA_SEEDS:
    for lr in (0.1, 1.0):
        relu_seeds[(seed, lr)] = relu_run(layers.ReLU, "no norm", lr, seed=seed)
report.show_table(["seed", "lr", "dead at init", f"dead after {EXP_STEPS:,} steps", "loss, last 100 steps"],
                  [[s, str(lr), v["init"].sum().item(), "" if v["after"] is None else v["after"].sum().item(),
                    outcome(v["result"], v["loss"])] for (s, lr), v in sorted(relu_seeds.items(), key=lambda kv: kv[0][1])])

# %%
dead_of = lambda v, when: v[when].sum().item()
bn_runs = [v for k, v in relu_dead.items() if "BatchNorm" in k]
bn_dead = max(max(dead_of(v, "init"), dead_of(v, "after") if v["after"] is not None else 0) for v in bn_runs)
bn_blown = sum(v["after"] is None for v in bn_runs)
relu1, relu01, leaky1 = (relu_dead[k] for k in ["ReLU, no norm, lr 1.0", "ReLU, no norm, lr 0.1", "LeakyReLU, no norm, lr 1.0"])
revived = relu01["init"] & ~relu01["after"] if relu01["after"] is not None else torch.zeros_like(relu01["init"])
dead_on_train = never_fires(relu01["fresh"], D.Xtr)           # (5, 100) at initialization, on every training example
high = [v for (s, lr), v in relu_seeds.items() if lr == 1.0]
low = [v for (s, lr), v in relu_seeds.items() if lr == 0.1]
high_dead = [dead_of(v, "after") for v in high if v["after"] is not None]
high_blown = [v["result"].diverged_at for v in high if v["after"] is None]
units = lambda n: f"{n} dead unit{'' if n == 1 else 's'}"
blew = lambda v: f"blows up at step {v['result'].diverged_at:,}"
low_dead = [dead_of(v, "after") for v in low if v["after"] is not None]
report.publish("deep/relu1_result", f"has {dead_of(relu1, 'after')} dead units of 500 after training, against "
               f"{dead_of(relu1, 'init')} at initialization" if relu1["after"] is not None else blew(relu1))
report.publish("deep/relu_high", "; ".join(
    ([f"{len(high_blown)} of the {len(high)} runs blow up (at step{'s' if len(high_blown) > 1 else ''} "
      f"{' and '.join(f'{s:,}' for s in sorted(high_blown))})"]
     if high_blown else [])
    + ([f"{'the other' if high_blown else 'the'} {len(high_dead)} end with {' and '.join(map(str, sorted(high_dead)))} "
        f"dead units"] if high_dead else [])))
report.publish("deep/relu_low", ("no run ends with a dead unit" if max(low_dead, default=0) == 0
                                 else f"no run ends with more than {units(max(low_dead))}")
               + ("" if len(low_dead) == len(low) else f" ({len(low) - len(low_dead)} blew up)"))
report.publish("deep/relu01_init", units(dead_of(relu01, "init")))
report.publish("deep/relu01_after", blew(relu01) if relu01["after"] is None else dead_of(relu01, "after"))
report.publish("deep/relu01_revived", revived.sum().item())
report.publish("deep/relu01_revived_train", (revived & dead_on_train).sum().item())
report.publish("deep/relu_bn", ("no unit is dead" if bn_dead == 0 else f"at most {units(bn_dead)} are dead")
               + (f" ({bn_blown} of the two runs blew up)" if bn_blown else ""))
report.publish("deep/leaky1_result", f"ends with {dead_of(leaky1, 'after')} units that never fire on the dev set, "
               f"against {dead_of(leaky1, 'init')} at initialization" if leaky1["after"] is not None else blew(leaky1))

# %% [markdown]
# What the numbers show. Without normalization, the large learning rate kills units: at
# lr 1.0 the ReLU network of the book's seed {{ value deep/relu1_result }}, and in the
# pictures the after-training one has the full white columns. Over the four seeds at lr 1.0,
# {{ value deep/relu_high }}; at lr 0.1 {{ value deep/relu_low }}.
#
# Dead is not forever: at lr 0.1 the book's seed starts with {{ value deep/relu01_init }} and
# ends with {{ value deep/relu01_after }}. Units dead on the dev set at initialization that
# fire on it after training: {{ value deep/relu01_revived }}; of these, units that did not
# fire on a single training example at initialization either: {{ value deep/relu01_revived_train }}.
# Such a unit's own weights get no gradient at first; it came back because the layers below
# changed its input.
#
# With BatchNorm in front of every ReLU, {{ value deep/relu_bn }} at either learning rate,
# before or after training: a BatchNorm
# re-centres each unit's pre-activation on the batch at every step, so it fires for part of
# every batch unless its $\beta$ is driven far below $-\gamma$.

# %% tags=["remove-cell"]
# dead units, measured over avx512/avx2/default x seeds 2147483647/0/1/2 (ReLU, no normalization):
# lr 1.0: book's seed 1 -> 18 ... 23, seed 2: 4 -> 30 ... 42, seeds 0 and 1 blow up at steps 7 and 3 on every
# kernel set; lr 0.1: 0 after on every seed (book's seed 1 -> 0, that unit dead on the whole training set at init
# as well); with BatchNorm 0 at init and after on every run
claims.check("the large learning rate kills units",
             all(v["after"] is None or dead_of(v, "after") > max(5, 2 * dead_of(v, "init")) for v in high)
             and all(v["after"] is not None and dead_of(v, "after") <= 2 for v in low),
             "; ".join(f"seed {s}, lr {lr}: {dead_of(v, 'init')} -> "
                       f"{'blown up' if v['after'] is None else dead_of(v, 'after')}" for (s, lr), v in relu_seeds.items()))
claims.check("the after-training one has the full white columns", relu1["after"] is not None and dead_of(relu1, "after") > 5,
             f"{'blown up' if relu1['after'] is None else dead_of(relu1, 'after')} dead units")
claims.check("Dead is not forever", revived.sum() > 0, f"dead at init {dead_of(relu01, 'init')}, "
             f"revived {revived.sum().item()}")
claims.check("it came back because the layers below changed its input", (revived & dead_on_train).sum() > 0,
             f"revived {revived.sum().item()}, of which dead on the training set at init {(revived & dead_on_train).sum().item()}")
claims.check("at either learning rate", bn_dead <= 2 and not bn_blown, f"BatchNorm runs: at most {bn_dead} dead, {bn_blown} blown up")

# %% [markdown]
# The leaky ReLU network without normalization at lr 1.0 {{ value deep/leaky1_result }}: the
# leak does not stop a large update from pushing units below zero. But such a unit still
# passes 0.01 of its gradient back to its weights, so it is not dead in the ReLU's sense.

# %% tags=["remove-cell"]
# measured over avx512/avx2/default x 4 seeds: book's seed 1 -> 21 ... 24 (ReLU 18 ... 23), seed 2 4 -> 31 ... 41
claims.check("the leak does not stop a large update from pushing units below zero",
             leaky1["after"] is not None and dead_of(leaky1, "after") > max(5, 2 * dead_of(leaky1, "init")),
             f"leaky {'blown up' if leaky1['after'] is None else dead_of(leaky1, 'after')}")

# %%
smooth = {k: v for k, v in relu_dead.items() if k.startswith(("Sigmoid", "ELU"))}
smooth_dead = max(max(dead_of(v, "init"), 0 if v["after"] is None else dead_of(v, "after")) for v in smooth.values())
smooth_blown = [k for k, v in smooth.items() if v["after"] is None]
sig01 = relu_dead["Sigmoid, no norm, lr 0.1"]
others01 = {k: v["loss"] for k, v in relu_dead.items() if k.endswith("lr 0.1") and not k.startswith("Sigmoid")}
report.publish("deep/smooth_blown", "; ".join(f"the {k.split(',')[0]} network at lr {k.split('lr ')[1]} "
                                              f"{blew(smooth[k])}" for k in smooth_blown) or "no run blows up")
report.publish("deep/sig01_loss", sig01["loss"], ".3f")
report.publish("deep/others01_max", max(others01.values()), ".3f")

# %% [markdown]
# Neither the sigmoid nor the ELU network has a dead unit by the slope criterion, at
# initialization or after any of their runs that finished ({{ value deep/smooth_blown }}).
# The sigmoid pays in another way: its slope is at most 1/4 and its output is not centred on
# 0, and at lr 0.1 it ends with the highest loss of the table ({{ value deep/sig01_loss }},
# against at most {{ value deep/others01_max }} for the other networks at lr 0.1).

# %% tags=["remove-cell"]
# measured over avx512/avx2/default x seeds 2147483647/0/1/2 (no normalization, gain sqrt 2): sigmoid and ELU 0 dead
# at init and after every finished run; the ELU network blows up at lr 1.0 (step 3 or 4) on every seed, the sigmoid
# never; sigmoid loss at lr 0.1 2.826 ... 2.841, ReLU/leaky ReLU/ELU at lr 0.1 <= 2.391
claims.check("Neither the sigmoid nor the ELU network has a dead unit", smooth_dead == 0, f"at most {smooth_dead} dead units; "
             + "; ".join(f"{k}: {dead_text(v['init'])} -> {'blown up' if v['after'] is None else dead_text(v['after'])}"
                         for k, v in smooth.items()))
claims.check("it ends with the highest loss of the table", sig01["loss"] > max(others01.values()) + 0.2,
             f"sigmoid {sig01['loss']:.3f}; " + "; ".join(f"{k} {v:.3f}" for k, v in others01.items()))

# %% [markdown]
# ## Full training of the BatchNorm network
#
# The lecture's schedule for this network: learning rate 0.1, then 0.01 from step 150,000
# (the step counts scaled down in quick mode); no update ratios recorded, to keep the loop lean.

# %%
g = torch.Generator().manual_seed(settings.SEED)
model = deep_mlp(g)
result = train.train(model, D.Xtr, D.Ytr, S.max_steps, g, lr=train.lr_schedule(0.1, 0.01, decay_step),
                     ud_every=None, log_every=S.max_steps // 10, desc="deep MLP + BatchNorm")
print(f"{result.steps:,} steps in {result.seconds:.1f} s ({1e3 * result.seconds / result.steps:.2f} ms per step)")
plots.plot_loss({"deep MLP + BatchNorm": result.lossi}, title="Training loss, deep MLP with BatchNorm",
                window=S.steps(1_000), ylabel=f"log10(loss), mean of {S.steps(1_000):,} steps")
window = S.steps(5_000)                                 # 2.5% of training on either side of the drop
before = sum(result.lossi[decay_step - window:decay_step]) / window
after_drop = sum(result.lossi[decay_step:decay_step + window]) / window
early = sum(result.lossi[:window]) / window
earlier = sum(result.lossi[decay_step - 2 * window:decay_step - window]) / window
report.publish("deep/window", window, ",")
report.publish("deep/decay_step", decay_step, ",")
report.publish("deep/log_before", before, ".4f")
report.publish("deep/log_after", after_drop, ".4f")
report.publish("deep/log_early", early, ".4f")

# %% [markdown]
# What to see: the loss falls fast in the first few percent of training, then slowly. The
# mean log10 loss of the first {{ value deep/window }} steps is {{ value deep/log_early }};
# averaged over {{ value deep/window }} steps, it is {{ value deep/log_before }} just before
# the learning rate drops at step {{ value deep/decay_step }} and {{ value deep/log_after }}
# just after.

# %% tags=["remove-cell"]
claims.check("the loss falls fast in the first few percent of training, then slowly",
             early - before > 5 * (earlier - before),
             f"mean log10 loss {early:.4f} in the first 2.5%, {earlier:.4f} and {before:.4f} in the two windows before the drop")

# %%
train_loss = train.split_loss(model, D.Xtr, D.Ytr)
val_loss = train.split_loss(model, D.Xdev, D.Ydev)
report.record_run("deep MLP with BatchNorm (5 x 100)", S.max_steps, train_loss, val_loss)
names = train.sample(model, D.itos, D.block_size, 20, generator=torch.Generator().manual_seed(settings.SAMPLE_SEED))
print(" ".join(names))
n_deep = sum(p.nelement() for p in model.parameters())
n_mlp = sum(p.nelement() for p in models.MLP(D.vocab_size, generator=torch.Generator().manual_seed(settings.SEED)).parameters())
report.publish("deep/train", train_loss, ".4f")
report.publish("deep/val", val_loss, ".4f")
report.publish("deep/steps", S.max_steps, ",")
report.publish("deep/params_ratio", n_deep / n_mlp, ".1f")
report.publish("deep/params_mlp", n_mlp, ",")
report.publish("deep/val_gap", abs(val_loss - train_loss), ".4f")
report.publish("deep/val_side", "above" if val_loss > train_loss else "below")

# %% [markdown]
# The losses are evaluated in eval mode, with each BatchNorm's running statistics
# (momentum 0.1, so they reflect roughly the last ten minibatches). The results page puts
# them beside the one-hidden-layer MLPs of chapters 2 and 3. The deep network has
# {{ value deep/params_ratio }} times as many parameters as chapter 2's MLP
# ({{ value deep/params }} against {{ value deep/params_mlp }}); its validation loss is
# {{ value deep/val_gap }} {{ value deep/val_side }} its training loss.
#
# ## Exercise E02 on the deep network: folding every BatchNorm
#
# Chapter 3 folded the one BatchNorm of its MLP into the Linear layer before it: in eval mode
# a BatchNorm is a fixed scale and shift of each unit, and a Linear layer followed by a fixed
# affine map is one Linear layer. That fold is the first step here too, applied to each of
# the six Linear -> BatchNorm pairs of the trained network: `Sequential.folded` replaces
# every such pair by chapter 3's `layers.fold` of it and keeps the other layers as they are.

# %%
report.show_source(layers.Sequential.folded)

# %% [markdown]
# The folded network against the trained one in eval mode, on the whole dev set; for scale,
# the trained network's float32 logits against the same network evaluated in float64, as
# chapter 3 does for the one-layer MLP:

# %%
model.eval()
plain = model.folded()
with torch.no_grad():
    logits_bn = model(D.Xdev)                                  # (N_dev, vocab_size)
    logits_folded = plain(D.Xdev)                              # (N_dev, vocab_size)
    logits_64 = in_float64(model)(D.Xdev)                      # (N_dev, vocab_size), float64
fold_diff = (logits_folded - logits_bn).abs().max().item()
fold_rounding = (logits_bn.double() - logits_64).abs().max().item()
kinds = lambda net: ", ".join(f"{sum(isinstance(l, k) for l in net.layers)} {k.__name__}"
                              for k in (layers.Linear, layers.BatchNorm1d))
print(f"trained: {kinds(model)}; folded: {kinds(plain)}; largest |logit| {logits_bn.abs().max().item():.1f}")
report.publish("deep/fold_layers_before", len(model.layers))
report.publish("deep/fold_layers_after", len(plain.layers))
report.publish("deep/fold_diff", fold_diff, ".1e")
report.publish("deep/fold_rounding", fold_rounding, ".1e")

# %% [markdown]
# The folded network has {{ value deep/fold_layers_after }} layers where the trained one has
# {{ value deep/fold_layers_before }}, and no BatchNorm; its logits differ from the trained
# network's by at most {{ value deep/fold_diff }}, against {{ value deep/fold_rounding }}
# between the trained network in float32 and in float64: folding all six BatchNorms changes
# the logits only by float32 rounding.

# %% tags=["remove-cell"]
# fold_diff / fold_rounding over avx512/avx2/default: seeds 2147483647/0/1 after 2,000 steps 1.08 ... 1.78,
# the book's seed after 20,000 steps 1.37 ... 1.53 (both ~2e-6 ... 3e-6)
claims.check("folding all six BatchNorms changes the logits only by float32 rounding",
             fold_diff < 1e-4 and fold_diff < 10 * max(fold_rounding, 1e-7)
             and not any(isinstance(l, layers.BatchNorm1d) for l in plain.layers),
             f"folded vs unfolded {fold_diff:.1e}; float32 vs float64 {fold_rounding:.1e}")

# %% [markdown]
# What the fold saves at inference is the six BatchNorms' elementwise work (subtract, scale,
# shift) on every hidden layer's output; the embedding lookup, the matrix products and the
# tanh are the same in both. Timed on the whole dev set in this one process, alternating the
# two versions over several rounds and keeping each one's fastest:

# %%
def seconds(net):
    """Wall time of one eval-mode forward pass over the dev set."""
    with torch.no_grad():
        started = time.perf_counter()
        net(D.Xdev)
        return time.perf_counter() - started


rounds = 10
times = {"with BatchNorm": [], "folded": []}
for r in range(rounds):
    for name, net in ((("with BatchNorm", model), ("folded", plain))[::1 if r % 2 else -1]):
        times[name].append(seconds(net))
model.train()
t_bn, t_folded = min(times["with BatchNorm"]), min(times["folded"])
report.show_table(["dev-set inference", f"fastest of {rounds} rounds, ms per pass"],
                  [["with BatchNorm (eval mode)", f"{1e3 * t_bn:.1f}"], ["folded", f"{1e3 * t_folded:.1f}"]])
report.publish("deep/time_ratio", t_folded / t_bn, ".2f")

# %% [markdown]
# On this run the folded network took {{ value deep/time_ratio }} times the time of the
# unfolded one.
#
# ## What this chapter showed
#
# - **The instruments.** In the BatchNorm network after 1,000 steps every tanh layer has an
#   activation std between {{ value deep/diag_act_min }} and {{ value deep/diag_act_max }} and at
#   most {{ value deep/diag_sat_max }} saturated outputs, the gradient std of layer 1 is
#   {{ value deep/diag_grad_ratio }} times that of layer 5, and the Linear weights'
#   update-to-data ratios sit between {{ value deep/diag_ud_min }} and
#   {{ value deep/diag_ud_max }} (log10); the run ends at train {{ value deep/diag_train }}, val
#   {{ value deep/diag_val }}.
# - **Breaking it.** Without BatchNorm the gain decides the statistics at initialization: gain
#   0.5 starts with a first-layer gradient {{ value deep/g05_grad_ratio }} times smaller than
#   the last, gain 3 with {{ value deep/g3_sat_min }} or more saturated in every layer. lr 0.001
#   leaves the loss at {{ value deep/lo_loss }} after 1,000 steps; lr 1.0 without BatchNorm
#   ends worse than the uniform guess on each of four seeds, while the BatchNorm network at
#   lr 1.0 reaches {{ value deep/bn1_loss }}.
# - **Zero init (E01).** Only {{ value deep/zero_moved }} of {{ value deep/zero_total }}
#   parameters move, the last BatchNorm's $\beta$, and the training loss stops at
#   {{ value deep/zero_train }}, the entropy of the next character ({{ value deep/H }}) plus
#   {{ value deep/zero_gap }}. A nonzero constant lets the gradient through but keeps the
#   units of a layer identical (training loss {{ value deep/const_train }}).
# - **LayerNorm.** In place of BatchNorm it gives activations as evenly spread and a
#   validation loss within {{ value deep/val_spread }} of BatchNorm's and of the gain-5/3
#   network's after 1,000 steps, and the same logits for an example alone as in a batch.
# - **Depth.** After 1,000 steps (lr 0.1, then 0.01) at 2, 5 and 10 layers, BatchNorm ends
#   {{ value deep/depth_bn_gap }} above the network without normalization, with no advantage
#   that grows with depth; every network gains from 2 to 5 layers, and from 5 to 10 none
#   changes by more than {{ value deep/depth_change }}.
# - **The linear network.** Without the tanh, gain 1 keeps the statistics of every layer and
#   gain 5/3 multiplies the activation std by {{ value deep/lin53_factor }} per layer; the
#   trained stack equals one {{ value deep/map_shape }} map up to {{ value deep/map_diff }},
#   and the tanh is worth {{ value deep/tanh_gain }} of validation loss.
# - **Dead units.** Without normalization, at lr 1.0 the ReLU network of the book's seed
#   {{ value deep/relu1_result }}; over four seeds, {{ value deep/relu_high }}. With BatchNorm
#   {{ value deep/relu_bn }} at either learning rate. Counted as units whose slope stays at
#   most 1% of the steepest, the sigmoid and ELU networks have none.
# - **Full training** ({{ value deep/steps }} steps) of the BatchNorm network: train
#   {{ value deep/train }}, val {{ value deep/val }}, below the 1,000-step diagnostic run's
#   {{ value deep/diag_val }}. Folding its six BatchNorms into the Linear layers (E02) changes
#   its logits by at most {{ value deep/fold_diff }}, float32 rounding.

# %% tags=["remove-cell"]
claims.check("ends worse than the uniform guess on each of four seeds",
             all(r.diverged_at is not None or loss > ln_V + 0.2 for r, loss in nobn1_seeds.values()),
             "; ".join(f"seed {s}: {outcome(r, loss)}" for s, (r, loss) in nobn1_seeds.items()))
claims.check("the training loss stops at", 0 <= zero_train - H < 0.02, f"train {zero_train:.4f}, H {H:.4f}")
claims.check("keeps the units of a layer identical", unit_gap < 1e-4, f"largest column gap {unit_gap:.1e}")
claims.check("the same logits for an example alone as in a batch", ln_diff < 1e-4, f"LayerNorm {ln_diff:.1e}")
claims.check("In place of BatchNorm it gives activations as evenly spread",
             max(ln["act std"]) - min(ln["act std"]) < 0.1 and val_spread < 0.1, f"val spread {val_spread:.3f}")
claims.check("below the 1,000-step diagnostic run's", val_loss < diag_val, f"val {val_loss:.4f} vs {diag_val:.4f}",
             full_training=True)
claims.check("with no advantage that grows with depth", min(bn_gaps) > 0.02 and gap_moves < 0.035,
             f"BatchNorm minus none {fmt(bn_gaps, '{:+.4f}')}")
claims.check("every network gains from 2 to 5 layers, and from 5 to 10 none", drop_2_5 > 0.02 and change_5_10 < 0.04,
             f"2 -> 5: smallest fall {drop_2_5:.4f}; 5 -> 10: largest change {change_5_10:.4f}")
claims.check("gain 1 keeps the statistics of every layer", spread(l1["act"]) < 1.25 and spread(l1["grad"]) < 1.25,
             f"activation std {fmt(l1['act'], '{:.3f}')}")
claims.check("the trained stack equals one", map_diff < 1e-4 and map_diff < 10 * max(map_rounding, 1e-7),
             f"map vs stack {map_diff:.1e}; rounding {map_rounding:.1e}")
claims.check("the sigmoid and ELU networks have none", smooth_dead == 0, f"at most {smooth_dead} dead units")
claims.check("changes its logits by at most", fold_diff < 1e-4 and fold_diff < 10 * max(fold_rounding, 1e-7),
             f"folded vs unfolded {fold_diff:.1e}; float32 vs float64 {fold_rounding:.1e}")
