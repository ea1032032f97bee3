# %% [markdown]
# # Chapter 4: a deep MLP and its diagnostics
#
# Chapters 2 and 3 worked on a network with one hidden layer, where a bad initialization
# shows up as one bad histogram. Here the layer classes of `makemore_lib.layers` are
# stacked into six layers, and we learn to read the instruments that tell whether a deep
# network is healthy: the distribution of activations and of gradients in every layer, the
# size of each weight's gradient relative to the weight, and how much each step changes
# each weight. Then we break the network on purpose (wrong tanh gain, no BatchNorm, a
# learning rate too small or too large) and watch the instruments respond, before training
# the healthy network in full.

# %%
from contextlib import contextmanager

import torch

from makemore_lib import chapter, layers, lecture, models, plots, report, settings, train

S, D, claims = chapter.begin()
EXP_STEPS = 1_000                 # the diagnostic and experiment runs, the same in both modes
decay_step = S.steps(150_000)
print(f"mode: {S.mode}; diagnostics and experiments: {EXP_STEPS:,} steps each; "
      f"full training: {S.max_steps:,} steps, learning rate 0.1, then 0.01 from step {decay_step:,}")

SATURATED = 0.97                  # |tanh| above this counts as saturated (the lecture's threshold here)


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
# small at initialization, so the first prediction is close to uniform and the loss starts
# near $-\ln(1/27)$ instead of with a hockey stick (chapter 2). Without BatchNorm the same
# job falls to the last Linear's weight, and the other weights get the tanh gain.

# %%
report.show_source(models.deep_mlp)

# %%
g = torch.Generator().manual_seed(settings.SEED)
model = models.deep_mlp(D.vocab_size, generator=g)
rows = []
for i, layer in enumerate(model.layers):
    shape = tuple(layer.weight.shape) if hasattr(layer, "weight") else ""
    rows.append([i, f"{type(layer).__name__} {shape}", f"{sum(p.nelement() for p in layer.parameters()):,}"])
report.show_table(["layer", "kind", "parameters"], rows)
print(f"parameters: {sum(p.nelement() for p in model.parameters()):,}")


# %% [markdown]
# ## Instruments
#
# Every run below trains a fresh copy of the network from the same seed with
# `model.retain_grads = True`, so that after the last step every layer's output still
# holds its gradient `.out.grad`. The functions read what a run leaves behind: the tanh
# outputs and their gradients of the last minibatch, the gradient of every weight matrix
# (2-D parameter), and the update-to-data ratios the training loop recorded,
#
# $$\mathrm{ud}_p = \log_{10}\frac{\mathrm{std}(\mathrm{lr}\cdot\nabla p)}{\mathrm{std}(p)},$$
#
# the size of one step relative to the size of the parameter it changes.

# %%
def run(steps: int = EXP_STEPS, lr: float = 0.1, ud_every: int | None = 10, prepare=None, **kw):
    """A fresh deep_mlp(**kw) from the seed (then `prepare(model)`, if given), trained `steps`
    steps at a constant `lr`."""
    g = torch.Generator().manual_seed(settings.SEED)
    model = models.deep_mlp(D.vocab_size, generator=g, **kw)
    if prepare is not None:
        prepare(model)
    model.retain_grads = True
    w0 = [p.std().item() for _, p in weights(model)]
    result = train.train(model, D.Xtr, D.Ytr, steps, g, lr=train.lr_schedule(lr), ud_every=ud_every,
                         desc=f"{kw} lr {lr}")
    result.w0 = w0                                     # weight std at initialization
    return model, result


def tanh_outputs(model):
    return [layer.out for layer in model.layers if isinstance(layer, layers.Tanh)]


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
        "saturated %": [100 * (t.abs() > SATURATED).float().mean().item() for t in acts],
        "grad std": [t.grad.std().item() for t in acts],
        "grad:data": [(p.grad.std() / p.std()).item() for _, p in weights(model)],
        "ud": None if ud is None else ud[-max(1, len(ud) // 10):].mean(0).tolist(),   # last 10% of training
        "loss": sum(10 ** v for v in result.lossi[-last:]) / last,                     # last 10% of steps
        "w growth": [p.std().item() / w for (_, p), w in zip(weights(model), result.w0)],
    }


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
# lecture's normalised values are $\sqrt{31/32}$ times ours (printed below), so its
# pre-activations are about 1.6% narrower and its numbers here are close to ours, not
# equal. (The lecture's data set is also another year of the same names list.)

# %%
model, result = run(ud_every=1)
diag_model, diag_result = model, result
diag = summary(model, result)
print(f"{result.steps:,} steps in {result.seconds:.1f} s; loss at step 0: {10 ** result.lossi[0]:.4f} "
      f"(uniform over 27: {lecture.EXPECTED_INITIAL_LOSS:.4f}); mean loss of the last 100 steps: {diag['loss']:.4f}")
diag_train, diag_val = split_losses(model)
print(f"after the {EXP_STEPS:,}-step diagnostic run: train {diag_train:.4f}, val {diag_val:.4f} "
      f"(eval mode, running statistics); lecture's xhat / ours = sqrt(31/32) = {(31 / 32) ** 0.5:.4f}")
claims.check("its numbers here are close to ours, not equal", abs(1 - (31 / 32) ** 0.5) < 0.02,
             f"sqrt(31/32) = {(31 / 32) ** 0.5:.4f}")

# %% [markdown]
# ### Activations
#
# For each tanh layer: the mean, the standard deviation and the fraction of outputs beyond
# $\pm 0.97$, where $\tanh' = 1 - \tanh^2 < 0.06$ and gradients barely pass. For comparison,
# the same numbers for $\tanh(z)$ with $z$ a unit Gaussian, which is what a BatchNorm with
# $\gamma = 1, \beta = 0$ feeds the tanh.

# %%
acts = tanh_outputs(model)
z = torch.tanh(torch.randn(1_000_000, generator=torch.Generator().manual_seed(settings.SEED)))
report.show_table(["layer", "mean", "std", "saturated"],
                  [[f"{i + 1} (Tanh)", f"{t.mean():+.3f}", f"{t.std():.3f}", f"{s:.2f}%"]
                   for i, (t, s) in enumerate(zip(acts, diag["saturated %"]))]
                  + [["tanh(unit Gaussian)", f"{z.mean():+.3f}", f"{z.std():.3f}",
                      f"{100 * (z.abs() > SATURATED).float().mean():.2f}%"]])
plots.plot_distributions({f"layer {i + 1}": t for i, t in enumerate(acts)},
                         title="Activation distribution (tanh outputs)", xlabel="tanh output", bins=40)

# %% [markdown]
# What to see: five curves on top of each other, a U shape. Every layer looks alike and
# close to the unit-Gaussian reference: BatchNorm hands each
# tanh inputs of standard deviation about 1, whatever happened in the layers below. The
# U shape is what tanh does to a Gaussian: it folds the tails into the region just inside
# $\pm 1$; only a few percent go beyond $\pm 0.97$. (Each curve is one minibatch of 32
# examples, hence the noise.) In a badly scaled network (below) these histograms either
# pile up at $\pm 1$ or collapse towards 0, and change from layer to layer.

# %%
claims.check("every layer looks alike and close to the unit-Gaussian reference",
             all(abs(s - z.std().item()) < 0.06 for s in diag["act std"]),
             f"act std {fmt(diag['act std'], '{:.3f}')} vs {z.std():.3f}")
claims.check("only a few percent go beyond 0.97", max(diag["saturated %"]) < 6,
             f"saturated % {fmt(diag['saturated %'])}")

# %% [markdown]
#
# ### Gradients
#
# The same for the gradients of the loss with respect to each tanh output.

# %%
report.show_table(["layer", "mean", "std"],
                  [[f"{i + 1} (Tanh)", f"{t.grad.mean():+.2e}", f"{t.grad.std():.2e}"] for i, t in enumerate(acts)])
plots.plot_distributions({f"layer {i + 1}": t.grad for i, t in enumerate(acts)},
                         title="Gradient distribution (tanh outputs)", xlabel="gradient", bins=40)

# %% [markdown]
# In the figure the five curves nearly coincide. The gradient reaching the first layer is
# of the same order as the one leaving the last:
# it neither vanishes nor explodes on its way down through five layers. That is the
# backward half of chapter 3's stacking experiment.

# %%
grad_ratio = diag["grad std"][0] / diag["grad std"][-1]
claims.check("the gradient reaching the first layer is of the same order as the one leaving the last",
             1 / 3 < grad_ratio < 3, f"grad std layer 1 / layer 5 = {grad_ratio:.2f}")

# %% [markdown]
#
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

# %% [markdown]
# In the figure, `C`'s curve is the narrowest peak and W6's the widest. The Linear weights
# have ratios of the same order. The embedding table `C` is the exception: its entries are drawn from $N(0, 1)$, about ten times larger than the Linear
# weights ($1/\sqrt{\text{fan-in}}$), and a row of `C` only receives gradient from the
# examples whose context contains that character. A ratio that stands out by orders of
# magnitude would mean that one layer learns much faster or slower than the rest; the
# no-BatchNorm network below shows such a case at initialization.

# %%
w_ratios, c_ratio = diag["grad:data"][1:], diag["grad:data"][0]
claims.check("the Linear weights have ratios of the same order; C is the exception",
             max(w_ratios) / min(w_ratios) < 3 and c_ratio < min(w_ratios) / 3,
             f"grad:data C {c_ratio:.2e}, W1-W6 {fmt(w_ratios, '{:.2e}')}")

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

# %% [markdown]
# What to see: one line per weight, all rising at first and then flat, the Linear weights
# above the dashed guide line and `C` on it. The ratios rise during the first few hundred
# steps and then level off. At learning
# rate 0.1 the Linear weights sit above the guide line, between about $-2.3$ and $-2$,
# and `C` near it, for the same reason as its small gradient ratio above. The rule of thumb is a guide to the
# order of magnitude: ratios near $-2$ with a loss that still falls smoothly are fine; a
# ratio near $-1$ or $-5$ is a warning. The experiments below show both.

# %%
ud_first = ud[: len(ud) // 10].mean(0)                  # the first 100 steps
claims.check("the ratios rise during the first few hundred steps",
             bool((ud_first[1:] < torch.tensor(diag["ud"][1:])).all()),
             f"W1-W6 first 100 steps {fmt(ud_first[1:].tolist())}, last 100 {fmt(diag['ud'][1:])}")
claims.check("the Linear weights sit between about -2.3 and -2, C near the guide",
             all(-2.4 < v < -1.9 for v in diag["ud"][1:]) and abs(diag["ud"][0] + 3) < 0.3,
             f"C {diag['ud'][0]:.2f}, W1-W6 {fmt(diag['ud'][1:])}")

# %% [markdown]
# ## Experiments
#
# Each experiment is a short run of 1,000 steps from the same seed. For the first set we
# remove BatchNorm and vary the gain that multiplies every hidden Linear weight (the
# output layer's weight is scaled by 0.1 instead). We look at the network twice: at
# initialization (the first step's forward and backward pass, before any update) and
# after 1,000 steps.

# %%
configs = {f"no BatchNorm, gain {name}": dict(batchnorm=False, gain=gain)
           for name, gain in [("5/3", 5 / 3), ("1", 1.0), ("0.5", 0.5), ("3", 3.0)]}
configs["BatchNorm"] = dict(batchnorm=True)

at_init = {label: summary(*run(steps=1, **kw)) for label, kw in configs.items()}
trained = {label: run(**kw) for label, kw in configs.items() if label != "BatchNorm"}
trained["BatchNorm"] = (model, result)                  # the diagnostic run above
after = {label: summary(*mr) for label, mr in trained.items()}

log10 = lambda v: torch.tensor(v).log10().tolist()
report.show_table(["at initialization", "activation std, layers 1-5", "saturated %",
                   "gradient std, 1e-3", "grad:data ratio, W1-W6"],
                  [[k, fmt(v["act std"]), fmt(v["saturated %"], "{:.1f}"),
                    fmt([1e3 * x for x in v["grad std"]]), fmt(v["grad:data"][1:], "{:.3f}")]
                   for k, v in at_init.items()])
plots.plot_layer_stats({"activation std": {k: v["act std"] for k, v in at_init.items()},
                        "saturated %": {k: v["saturated %"] for k, v in at_init.items()},
                        "log10 gradient std": {k: log10(v["grad std"]) for k, v in at_init.items()}},
                       title="Tanh layers 1-5 at initialization")

# %% [markdown]
# Why a gain at all: tanh squashes, so $\tanh(z)$ of a unit Gaussian has standard deviation
# only about 0.63 (the table above). A Linear layer with weights $N(0, 1)/\sqrt{\text{fan-in}}$
# preserves the standard deviation it receives, so each Linear + Tanh pair shrinks the
# signal, and the next layer must amplify it again. The gain 5/3 (what
# `torch.nn.init.calculate_gain('tanh')` returns) roughly compensates.
#
# What the table and the figure show, gain by gain:

# %%
claims.check("tanh of a unit Gaussian has standard deviation only about 0.63", abs(z.std().item() - 0.63) < 0.01,
             f"std {z.std():.4f}")


def spread(v):                                          # last layer's number / first layer's
    return v[-1] / v[0]


a1, a05, a3, a53, bn = (at_init[k] for k in ["no BatchNorm, gain 1", "no BatchNorm, gain 0.5",
                                             "no BatchNorm, gain 3", "no BatchNorm, gain 5/3", "BatchNorm"])
claims.say(f"- **Gain 1**: the activations shrink layer by layer (std {fmt(a1['act std'])}); only the first "
           f"layer saturates at all ({a1['saturated %'][0]:.1f}%, the deeper ones "
           f"{max(a1['saturated %'][1:]):.1f}% at most); the gradients shrink on their way down to the first "
           f"layer ({spread(a1['grad std']):.1f} times smaller at layer 1 than at layer 5).",
           a1["act std"] == sorted(a1["act std"], reverse=True) and max(a1["saturated %"][1:]) < 1
           and a1["grad std"][0] < a1["grad std"][-1], f"act std {fmt(a1['act std'])}")
claims.say(f"- **Gain 0.5**: the same, fast: every layer halves the signal on top of the squashing, so the "
           f"last layer outputs almost zero (std {a05['act std'][-1]:.2f}) and the first layer receives a "
           f"gradient {a05['grad std'][-1] / a05['grad std'][0]:.0f} times smaller than the last. Deeper, this "
           f"is a vanishing gradient.",
           a05["act std"][-1] < 0.05 and a05["grad std"][-1] / a05["grad std"][0] > 5,
           f"grad std {fmt([1e3 * x for x in a05['grad std']])} x10^-3")
claims.say(f"- **Gain 3**: the pre-activations are too wide and {min(a3['saturated %']):.0f}% to "
           f"{max(a3['saturated %']):.0f}% of every layer is saturated; now the gradient grows on its way "
           f"down (layer 1 / layer 5: {a3['grad std'][0] / a3['grad std'][-1]:.1f}).",
           min(a3["saturated %"]) > 25 and a3["grad std"][0] > a3["grad std"][-1], f"saturated {fmt(a3['saturated %'])}")
claims.say(f"- **Gain 5/3**: roughly stable activations from layer to layer (std {fmt(a53['act std'])}), with "
           f"the first layer more saturated than the rest ({a53['saturated %'][0]:.1f}% against "
           f"{max(a53['saturated %'][1:]):.1f}% at most).",
           max(a53["act std"]) / min(a53["act std"]) < 1.3 and a53["saturated %"][0] > max(a53["saturated %"][1:]),
           f"act std {fmt(a53['act std'])}")
claims.say(f"- **BatchNorm**: the same *activation* statistics in every layer by construction (std "
           f"{fmt(bn['act std'])}), with no gain to choose. Not the same gradients: their std falls from "
           f"{1e3 * bn['grad std'][0]:.2f} to {1e3 * bn['grad std'][-1]:.2f} (x10^-3) between layer 1 and "
           f"layer 5, because a BatchNorm normalises the forward pass only.",
           max(bn["act std"]) - min(bn["act std"]) < 0.02 and bn["grad std"][0] > 1.3 * bn["grad std"][-1],
           f"act std {fmt(bn['act std'], '{:.3f}')}; grad std {fmt([1e3 * x for x in bn['grad std']])} x10^-3")

# %% [markdown]
# The last column is the lecture's warning about the output layer: without BatchNorm its
# weight was scaled by 0.1, so its gradient is large relative to its data, and at the start
# it learns far faster than the layers below it.

# %%
claims.check("without BatchNorm the output layer's gradient is large relative to its data",
             all(v["grad:data"][-1] > 10 * max(v["grad:data"][1:-1]) for k, v in at_init.items() if k != "BatchNorm"),
             "; ".join(f"{k}: W6 {v['grad:data'][-1]:.3f}" for k, v in at_init.items()))

# %% [markdown]
# Training changes the picture, because the weights adapt. After 1,000 steps:

# %%
report.show_table(["after 1,000 steps", "activation std", "saturated %", "gradient std, 1e-3",
                   "log10 update/data, W1-W6", "loss, last 100 steps"],
                  [[k, fmt(v["act std"]), fmt(v["saturated %"], "{:.1f}"), fmt([1e3 * x for x in v["grad std"]]),
                    fmt(v["ud"][1:]), f"{v['loss']:.3f}"] for k, v in after.items()])
plots.plot_layer_stats({"activation std": {k: v["act std"] for k, v in after.items()},
                        "saturated %": {k: v["saturated %"] for k, v in after.items()},
                        "log10 gradient std": {k: log10(v["grad std"]) for k, v in after.items()},
                        "log10 update/data (W1-W6)": {k: v["ud"][1:] for k, v in after.items()}},
                       title=f"After {EXP_STEPS:,} steps (tanh layers 1-5; weights W1-W6)")

# %% [markdown]
# In the figure the lines of the five runs have moved together compared with the figure at
# initialization; the gain-3 line stays apart in the saturation panel.

# %%
t05, t3, t53, tbn = (after[k] for k in ["no BatchNorm, gain 0.5", "no BatchNorm, gain 3",
                                        "no BatchNorm, gain 5/3", "BatchNorm"])
claims.say(f"Gradient descent partly repairs a bad initialization: with gain 0.5 the last layer's activation "
           f"std has grown from {a05['act std'][-1]:.2f} to {t05['act std'][-1]:.2f}, and the gradients of all "
           f"five layers are within a factor {max(t05['grad std']) / min(t05['grad std']):.2f} of each other. "
           f"It does not undo everything: the gain-3 network stays heavily saturated "
           f"({min(t3['saturated %']):.0f}% or more in every layer), and the gain-0.5 network has the highest "
           f"loss after the same number of steps ({t05['loss']:.3f}). With five layers, the well-chosen gain and "
           f"BatchNorm end up close ({t53['loss']:.3f} and {tbn['loss']:.3f}); BatchNorm's advantage is that "
           f"there was nothing to choose, and it keeps working as the network gets deeper.",
           t05["act std"][-1] > 2 * a05["act std"][-1] and max(t05["grad std"]) / min(t05["grad std"]) < 2
           and min(t3["saturated %"]) > 25 and t05["loss"] == max(v["loss"] for v in after.values())
           and abs(t53["loss"] - tbn["loss"]) < 0.1,
           "; ".join(f"{k} {v['loss']:.3f}" for k, v in after.items()))
#
# ### Learning rate too small, too large
#
# The update-to-data ratio is the instrument for the learning rate. The BatchNorm network
# with learning rate 0.001 and 1.0 (100 times smaller and 10 times larger than above), and
# for contrast the network without BatchNorm (gain 5/3) at 1.0:

# %%
lr_runs = {"BatchNorm, lr 0.001": run(lr=0.001), "BatchNorm, lr 0.1": (model, result),
           "BatchNorm, lr 1.0": run(lr=1.0), "no BatchNorm, lr 1.0": run(lr=1.0, batchnorm=False)}
lr_after = {k: summary(*mr) for k, mr in lr_runs.items()}
report.show_table(["run", "log10 update/data, W1-W6", "saturated %", "weight std, end / start (W1-W6)",
                   "loss, last 100 steps"],
                  [[k, fmt(v["ud"][1:]), fmt(v["saturated %"], "{:.1f}"), fmt(v["w growth"][1:]), f"{v['loss']:.3f}"]
                   for k, v in lr_after.items()])
panels = {}
for k, (m, r) in lr_runs.items():
    every = 10 // (r.ud_steps[1] - r.ud_steps[0])      # the lr 0.1 run recorded every step: thin it out
    panels[k] = (r.ud_steps[::every], ud_columns(m, r)[::every].tolist())
plots.plot_update_ratio_panels(panels, [name for name, _ in weights(model)],
                               title="Update-to-data ratio at learning rates 0.001, 0.1 and 1.0")

# %% [markdown]
# What to see: the lr 0.001 panel's lines far below the guide, the lr 1.0 panels' lines far
# above it, and in the BatchNorm lr 1.0 panel the lines sloping down.

# %%
lo, bn1, nobn1 = lr_after["BatchNorm, lr 0.001"], lr_after["BatchNorm, lr 1.0"], lr_after["no BatchNorm, lr 1.0"]
bn1_ud = ud_columns(*lr_runs["BatchNorm, lr 1.0"])       # (recorded steps, 7)
bn1_first = bn1_ud[: max(1, len(bn1_ud) // 10)].mean(0)[1:].mean().item()
claims.say(f"- **lr 0.001**: the ratios of W1-W6 sit around $-4.5$ ({fmt(lo['ud'][1:])}). Each step moves the "
           f"weights by a few parts in $10^5$, and after 1,000 steps the loss ({lo['loss']:.3f}) has hardly "
           f"left its starting value near {lecture.EXPECTED_INITIAL_LOSS:.1f}. The ratio says so long before "
           f"the loss curve does.",
           all(abs(v + 4.5) < 0.4 for v in lo["ud"][1:]) and lo["loss"] > 3.1, f"loss {lo['loss']:.3f}")
claims.say(f"- **lr 1.0 without BatchNorm**: the ratios of W1-W5 are near $-1.6$ ({fmt(nobn1['ud'][1:-1])}; "
           f"every step changes a weight by a few percent) and W6's is {nobn1['ud'][-1]:.2f}, the tanh layers "
           f"end up mostly saturated ({min(nobn1['saturated %']):.0f}% or more), and the loss "
           f"({nobn1['loss']:.3f}) is worse than the uniform guess: training is destroying the network.",
           all(abs(v + 1.6) < 0.2 for v in nobn1["ud"][1:-1]) and min(nobn1["saturated %"]) > 50
           and nobn1["loss"] > lecture.EXPECTED_INITIAL_LOSS, f"loss {nobn1['loss']:.3f}")
claims.say(f"- **lr 1.0 with BatchNorm** survives (loss {bn1['loss']:.3f}), and the column \"weight std, end / "
           f"start\" shows how (W1-W6 grew by {fmt(bn1['w growth'][1:])}).",
           bn1["loss"] < 2.6 and min(bn1["w growth"][1:]) > 1.1, f"loss {bn1['loss']:.3f}")

# %% [markdown]
# A BatchNorm makes the loss independent of the length of each column $w$ of the
#   weight matrix in front of it (the weights feeding one normalized neuron), so the
#   gradient of that column is orthogonal to it, and a step $w - \mathrm{lr}\,\nabla w$
#   can only make it longer: $\|w\|^2$ grows by $\mathrm{lr}^2 \|\nabla w\|^2$. Longer
#   weights get proportionally smaller gradients (chapter 3: $\nabla W \propto 1/s$), so
#   the ratio falls by itself as the weights grow. BatchNorm networks tolerate a wide
#   range of learning rates for this reason, but the ratio still reports that each step is
#   a large fraction of the weight.

# %%
claims.say(f"Here the W1-W6 ratio of the BatchNorm run at lr 1.0 averages {bn1_first:.2f} over the first "
           f"100 steps and {sum(bn1['ud'][1:]) / 6:.2f} over the last 100: it drifts down.",
           bn1_first > sum(bn1["ud"][1:]) / 6, f"first {bn1_first:.2f}, last {sum(bn1['ud'][1:]) / 6:.2f}")


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
def zero_init(model):
    """Every Linear weight (and bias, where there is one) set to 0."""
    with torch.no_grad():
        for layer in model.layers:
            if isinstance(layer, layers.Linear):
                layer.weight.zero_()
                if layer.bias is not None:
                    layer.bias.zero_()
    return model


zero0 = zero_init(models.deep_mlp(D.vocab_size, generator=torch.Generator().manual_seed(settings.SEED)))
zero_model, zero_result = run(ud_every=None, prepare=zero_init)
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
# The table reads the last minibatch of the run. Every layer after the embedding outputs the
# same numbers for all 32 examples (standard deviation 0 over the batch). The gradient does
# reach the output of the last Linear layer, amplified by the last BatchNorm's
# $\gamma/\sqrt{\epsilon}$, but the weight gradient $h^\top \nabla y$ of that layer is 0,
# because its input $h = \tanh(\beta) = \tanh(0) = 0$, and the gradient passed further down,
# $\nabla y\, W^\top$, is 0 because $W = 0$. So below the last BatchNorm nothing ever
# receives a gradient, and in the last BatchNorm $\nabla\gamma = \sum \nabla y \cdot \hat{x} = 0$.
# What is left is $\beta$ of the last BatchNorm: 27 numbers that set the logits, the same for
# every context.

# %%
bias_name = zero_model.named_parameters()[-1][0]              # the last BatchNorm's beta
claims.say(f"Of the {n_total:,} parameters, {n_moved} moved in {EXP_STEPS:,} steps, all of them in "
           f"`{bias_name}`: the network learned one fixed distribution over the next character.",
           n_moved == D.vocab_size and all(v == 0 for n, v in moved.items() if n != bias_name),
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
print(f"zero init: final train loss {zero_train:.4f}, {n_moved} of {n_total:,} parameters moved "
      f"(val {zero_val:.4f}; entropy of the next character {H:.4f}; "
      f"max |softmax(beta) - p| = {(p_learned - p_next).abs().max():.4f})")
claims.say(f"After {EXP_STEPS:,} steps the zero-initialised network's training loss is {zero_train:.4f}, "
           f"{zero_train - H:.4f} above the entropy of the next character, {H:.4f}: it has learned the "
           f"character frequencies (softmax of its 27 output biases is within "
           f"{(p_learned - p_next).abs().max():.3f} of them) and nothing else. The trained network of this "
           f"chapter reaches {diag_train:.4f} after the same number of steps.",
           0 <= zero_train - H < 0.02 and diag_train < H - 0.2,
           f"train {zero_train:.4f}, H {H:.4f}, diagnostic run {diag_train:.4f}")

# %% [markdown]
# Without BatchNorm the outcome is the same: with every weight and bias 0, only the last
# Linear's bias gets a gradient, for the same reason (checked below on the network without
# BatchNorm, trained the same 1,000 steps).

# %%
plain0 = zero_init(models.deep_mlp(D.vocab_size, batchnorm=False, generator=torch.Generator().manual_seed(settings.SEED)))
plain_model, _ = run(ud_every=None, prepare=zero_init, batchnorm=False)
plain_moved = [n for (n, p), (_, p0) in zip(plain_model.named_parameters(), plain0.named_parameters()) if (p != p0).any()]
claims.check("without BatchNorm only the last Linear's bias gets a gradient",
             plain_moved == [plain_model.named_parameters()[-1][0]] and plain_moved[0].endswith("Linear.bias"),
             f"moved: {plain_moved}")

# %% [markdown]
# Any constant would do in place of 0 as
# long as it is the same for every unit of a layer: the units then stay identical forever,
# and the layer is as good as one unit. Random initialization is what breaks the symmetry.
#
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
norm_runs = {"BatchNorm": (diag_model, diag_result), "LayerNorm": run(norm="layer"),
             "no normalization (gain 5/3)": trained["no BatchNorm, gain 5/3"]}
norm_stats = {}
for k, (m, r) in norm_runs.items():
    norm_stats[k] = summary(m, r)
    norm_stats[k]["train"], norm_stats[k]["val"] = split_losses(m)
print(f"LayerNorm run: {EXP_STEPS:,} steps in {norm_runs['LayerNorm'][1].seconds:.1f} s")
report.show_table(["after 1,000 steps", "activation std", "saturated %", "gradient std, x10^-3",
                   "grad:data ratio, W1-W6", "train", "val"],
                  [[k, fmt(v["act std"]), fmt(v["saturated %"], "{:.1f}"), fmt([1e3 * x for x in v["grad std"]]),
                    fmt(v["grad:data"][1:], "{:.3f}"), f"{v['train']:.4f}", f"{v['val']:.4f}"]
                   for k, v in norm_stats.items()])
for k, v in norm_stats.items():
    report.record_run(f"deep MLP, {k}, lr 0.1", EXP_STEPS, v["train"], v["val"])
plots.plot_layer_stats({"activation std": {k: v["act std"] for k, v in norm_stats.items()},
                        "saturated %": {k: v["saturated %"] for k, v in norm_stats.items()},
                        "log10 gradient std": {k: log10(v["grad std"]) for k, v in norm_stats.items()}},
                       title=f"BatchNorm, LayerNorm, none: tanh layers 1-5 after {EXP_STEPS:,} steps")

# %%
bnn, ln, non = (norm_stats[k] for k in ["BatchNorm", "LayerNorm", "no normalization (gain 5/3)"])
best = min(norm_stats, key=lambda k: norm_stats[k]["val"])
val_spread = max(v["val"] for v in norm_stats.values()) - min(v["val"] for v in norm_stats.values())
claims.say(f"What to see in the figure: the BatchNorm and LayerNorm lines nearly coincide, and the network "
           f"without normalization stands apart, more saturated ({fmt(non['saturated %'], '{:.0f}')}%) and "
           f"with larger gradients. LayerNorm keeps every tanh layer's activations as evenly spread as BatchNorm does (std "
           f"{fmt(ln['act std'])} against {fmt(bnn['act std'])}), and after {EXP_STEPS:,} steps the three "
           f"validation losses lie within {val_spread:.3f} of each other, lowest for {best.split(' (')[0]} "
           f"({norm_stats[best]['val']:.4f}). At this depth and length a well-chosen gain does as well as "
           f"either normalization; what the normalizations buy is that nothing had to be chosen.",
           max(ln["act std"]) - min(ln["act std"]) < 0.1 and val_spread < 0.1
           and max(abs(a - b) for a, b in zip(ln["act std"], bnn["act std"])) < 0.05
           and min(non["saturated %"]) > max(ln["saturated %"] + bnn["saturated %"])
           and non["val"] <= min(ln["val"], bnn["val"]) + 0.02
           and all(a > b for a, b in zip(non["grad std"], bnn["grad std"])),
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
print(f"LayerNorm, one example at a time vs the batch of 32: max |logit difference| = {ln_diff:.1e}")
print(f"BatchNorm (training mode), the same example in two batches: max |logit difference| = {bn_diff:.3f}")
print(f"BatchNorm (training mode), a batch of one: {bn_one}")
claims.check("the LayerNorm network gives each example the same logits alone as inside a batch; "
             "the BatchNorm network gives different logits depending on the batch",
             ln_diff < 1e-4 and bn_diff > 0.01, f"LayerNorm {ln_diff:.1e}, BatchNorm {bn_diff:.3f}")

# %% [markdown]
# (The LayerNorm difference is float32 rounding of the matrix products at different batch
# sizes, not a dependence on the batch.)
#
# ## Dead units: ReLU and leaky ReLU
#
# Tanh units die by saturating (chapter 2's white columns). A ReLU, $\max(0, x)$, has no
# saturation on the positive side but is flat at 0 on the negative side: a unit whose
# pre-activation is negative for every input outputs 0 and passes no gradient to its
# weights, so nothing can bring it back. It can be born so, or be pushed there by one
# large update. A leaky ReLU keeps a slope of 0.01 on the negative side, so such a unit
# still receives a little gradient.

# %%
report.show_source(layers.ReLU)
report.show_source(layers.LeakyReLU)

# %% [markdown]
# We count, in each of the five hidden layers of 100 units, the units that do not fire
# (output $\le 0$) for any of the dev set's examples, the dev set passed as one batch (so
# each BatchNorm normalises with the dev set's own statistics, at initialization as after
# training). The runs: ReLU and leaky ReLU in place of
# tanh, with BatchNorm and without (weights scaled by the ReLU gain $\sqrt{2}$), at the
# lecture's learning rate 0.1 and at 1.0; 1,000 steps each, from the same seed.

# %%
RELU_GAIN = 2 ** 0.5                                           # Kaiming gain for ReLU


def relu_outputs(model):
    return [l.out for l in model.layers if isinstance(l, (layers.ReLU, layers.LeakyReLU))]


def dead_units(model, X):
    """Per hidden layer, the units whose output is <= 0 for every row of X, with X as one batch
    (each BatchNorm normalises with the statistics of X; its running statistics are restored)."""
    with torch.no_grad(), kept(model):
        model.train()(X)
        outs = relu_outputs(model)
    for l, h in zip([l for l in model.layers if isinstance(l, (layers.ReLU, layers.LeakyReLU))], outs):
        l.dev_out = h                                          # (N, 100), for the picture
    return [int(((h > 0).sum(0) == 0).sum()) for h in outs]


relu_rows, relu_dead = [], {}
for act in (layers.ReLU, layers.LeakyReLU):
    for norm_label, kw in [("BatchNorm", {}), ("no norm", dict(batchnorm=False, gain=RELU_GAIN))]:
        for lr in (0.1, 1.0):
            label = f"{act.__name__}, {norm_label}, lr {lr}"
            fresh = models.deep_mlp(D.vocab_size, generator=torch.Generator().manual_seed(settings.SEED),
                                    activation=act, **kw)
            at0 = dead_units(fresh, D.Xdev)
            m, r = run(lr=lr, ud_every=None, activation=act, **kw)
            loss = summary(m, r)["loss"]
            end = dead_units(m, D.Xdev)
            relu_dead[label] = dict(init=at0, after=end, loss=loss, model=m, fresh=fresh, seconds=r.seconds)
            relu_rows.append([label, f"{fmt(at0, '{}')} ({sum(at0)})", f"{fmt(end, '{}')} ({sum(end)})", f"{loss:.3f}"])
report.show_table(["run", "dead at init, layers 1-5 (total of 500)", f"dead after {EXP_STEPS:,} steps",
                   "loss, last 100 steps"], relu_rows)
print(f"ReLU runs: {sum(v['seconds'] for v in relu_dead.values()):.1f} s for {len(relu_dead)} x {EXP_STEPS:,} steps")

# %% [markdown]
# The white-columns picture of the worst run, ReLU without normalization at lr 1.0, before
# and after training: one row per dev example (the first 1,000), one column per unit of
# the five layers side by side, white where the unit does not fire. A column white from top
# to bottom is a dead unit.

# %%
worst = relu_dead["ReLU, no norm, lr 1.0"]
for state, m in [("at initialization", worst["fresh"]), (f"after {EXP_STEPS:,} steps", worst["model"])]:
    dead_units(m, D.Xdev)                                      # leaves the dev set's outputs in .dev_out
    plots.plot_dead_units(torch.cat([l.dev_out for l in m.layers if hasattr(l, "dev_out")], 1)[:1_000],
                          title=f"ReLU, no normalization, lr 1.0, {state}: white = not firing")

# %%
dead_of = lambda label, when: sum(relu_dead[label][when])
bn_max = max(dead_of(k, when) for k in relu_dead if "BatchNorm" in k for when in ("init", "after"))
r0, r1 = dead_of("ReLU, no norm, lr 1.0", "init"), dead_of("ReLU, no norm, lr 1.0", "after")
r01 = dead_of("ReLU, no norm, lr 0.1", "after")
l1 = dead_of("LeakyReLU, no norm, lr 1.0", "after")
claims.say(f"What the numbers show: without normalization, the large learning rate kills units. At lr 1.0 "
           f"the ReLU network has {r1} dead units of 500 after training, against {r0} at initialization "
           f"(at lr 0.1: {r01}); in the pictures the after-training one has the full white columns. With "
           f"BatchNorm in front of every ReLU, "
           f"{'none of the four runs has a dead unit' if bn_max == 0 else f'no run has more than {bn_max} dead units'}"
           f", at lr 1.0 too: "
           f"a BatchNorm re-centres each unit's pre-activation on the batch at every step, so it fires for "
           f"part of every batch unless its $\\beta$ is driven far below $-\\gamma$.",
           r1 > max(5, 2 * r0) and r1 > r01 and bn_max <= 2, f"no norm lr 1.0: {r0} -> {r1}; BatchNorm max {bn_max}")
claims.say(f"The leaky ReLU network at lr 1.0 has {l1} units that never fire on the dev set either, a count "
           f"{'close to' if abs(l1 - r1) <= max(3, r1 // 4) else 'unlike'} the ReLU's {r1}: the leak does not "
           f"stop a large update from pushing units below zero, but such a unit still passes 0.01 of its "
           f"gradient, so it is not dead in the ReLU's sense and can come back.",
           True, f"leaky {l1}, ReLU {r1}")

# %% [markdown]
# ## Full training of the BatchNorm network
#
# The lecture's schedule for this network: learning rate 0.1, then 0.01 from step 150,000
# (both scaled down in quick mode); no update ratios recorded, to keep the loop lean.

# %%
g = torch.Generator().manual_seed(settings.SEED)
model = models.deep_mlp(D.vocab_size, generator=g)
result = train.train(model, D.Xtr, D.Ytr, S.max_steps, g, lr=train.lr_schedule(0.1, 0.01, decay_step),
                     ud_every=None, log_every=S.max_steps // 10, desc="deep MLP + BatchNorm")
print(f"{result.steps:,} steps in {result.seconds:.1f} s ({1e3 * result.seconds / result.steps:.2f} ms per step)")
plots.plot_loss({"deep MLP + BatchNorm": result.lossi}, title="Training loss, deep MLP with BatchNorm",
                window=S.steps(1_000), ylabel=f"log10(loss), mean of {S.steps(1_000):,} steps")

# %% [markdown]
# What to see: the loss falls fast in the first few percent of training, then slowly; the
# numbers below say how much it moves where the learning rate drops to 0.01.

# %%
window = S.steps(5_000)                                 # 2.5% of training on either side of the drop
before = sum(result.lossi[decay_step - window:decay_step]) / window
after_drop = sum(result.lossi[decay_step:decay_step + window]) / window
claims.say(f"Averaged over {window:,} steps, the log10 loss is {before:.4f} just before the learning rate "
           f"drops at step {decay_step:,} and {after_drop:.4f} just after.", True,
           f"{before:.4f} -> {after_drop:.4f}")
early = sum(result.lossi[:window]) / window
claims.check("the loss falls fast in the first few percent of training, then slowly",
             early - before > 5 * (before - (sum(result.lossi[decay_step - 2 * window:decay_step - window]) / window)),
             f"mean log10 loss {early:.4f} in the first 2.5%, {before:.4f} before the drop")

# %%
train_loss = train.split_loss(model, D.Xtr, D.Ytr)
val_loss = train.split_loss(model, D.Xdev, D.Ydev)
report.record_run("deep MLP with BatchNorm (5 x 100)", S.max_steps, train_loss, val_loss)
names = train.sample(model, D.itos, D.block_size, 20, generator=torch.Generator().manual_seed(settings.SAMPLE_SEED))
print(" ".join(names))

# %% [markdown]
# The losses are evaluated in eval mode, with each BatchNorm's running statistics
# (momentum 0.1, so they reflect roughly the last ten minibatches). The results page puts
# them beside the one-hidden-layer MLPs of chapters 2 and 3; the gap between the deep
# network's training and validation loss says how much of its capacity learned structure
# that carries over to unseen names.

# %%
n_deep = sum(p.nelement() for p in model.parameters())
n_mlp = sum(p.nelement() for p in models.MLP(D.vocab_size, generator=torch.Generator().manual_seed(settings.SEED)).parameters())
claims.say(f"The deep network has {n_deep / n_mlp:.1f} times as many parameters as chapter 2's MLP "
           f"({n_deep:,} against {n_mlp:,}); its validation loss is {val_loss - train_loss:.4f} above its "
           f"training loss.", 3.5 < n_deep / n_mlp < 4.5 and val_loss > train_loss,
           f"train {train_loss:.4f}, val {val_loss:.4f}")

# %% [markdown]
# ## What this chapter showed

# %%
claims.say(f"- **The instruments.** In the BatchNorm network after {EXP_STEPS:,} steps every tanh layer has an "
           f"activation std between {min(diag['act std']):.2f} and {max(diag['act std']):.2f} and at most "
           f"{max(diag['saturated %']):.1f}% saturated units, the gradient std changes by a factor "
           f"{grad_ratio:.2f} from layer 1 to layer 5, and the Linear weights' update-to-data ratios sit "
           f"between {min(diag['ud'][1:]):.2f} and {max(diag['ud'][1:]):.2f} (log10); the run ends at train "
           f"{diag_train:.4f}, val {diag_val:.4f}.",
           max(diag["saturated %"]) < 6 and 1 / 3 < grad_ratio < 3, f"act std {fmt(diag['act std'])}")
claims.say(f"- **Breaking it.** Without BatchNorm the gain decides everything: gain 0.5 starts with a first-layer "
           f"gradient {a05['grad std'][-1] / a05['grad std'][0]:.0f} times smaller than the last, gain 3 with "
           f"{min(a3['saturated %']):.0f}% or more saturated in every layer; lr 0.001 leaves the loss at "
           f"{lo['loss']:.3f} after {EXP_STEPS:,} steps, and lr 1.0 without BatchNorm ends at {nobn1['loss']:.3f}, "
           f"worse than uniform, while the BatchNorm network at lr 1.0 reaches {bn1['loss']:.3f}.",
           nobn1["loss"] > lecture.EXPECTED_INITIAL_LOSS > lo["loss"] > bn1["loss"], f"losses {lo['loss']:.3f}, "
           f"{nobn1['loss']:.3f}, {bn1['loss']:.3f}")
claims.say(f"- **Zero init (E01).** Only {n_moved} of {n_total:,} parameters move, the last BatchNorm's $\\beta$, "
           f"and the loss stops at {zero_train:.4f}, the entropy of the next character ({H:.4f}) plus "
           f"{zero_train - H:.4f}.", n_moved == D.vocab_size and 0 <= zero_train - H < 0.02,
           f"{n_moved}, {zero_train:.4f} vs {H:.4f}")
claims.say(f"- **LayerNorm.** In place of BatchNorm it gives the same healthy statistics and a validation loss "
           f"of {ln['val']:.4f} against {bnn['val']:.4f} after {EXP_STEPS:,} steps, and the same logits for an "
           f"example alone as in a batch (max difference {ln_diff:.1e}; BatchNorm in training mode: {bn_diff:.3f}).",
           abs(ln["val"] - bnn["val"]) < 0.05 and ln_diff < 1e-4 < bn_diff, f"val {ln['val']:.4f} vs {bnn['val']:.4f}")
claims.say(f"- **Dead ReLUs.** Without normalization lr 1.0 leaves {r1} of 500 ReLU units that never fire on the "
           f"dev set (at init: {r0}); with BatchNorm at most {bn_max}.", r1 > max(5, 2 * r0) and bn_max <= 2,
           f"{r0} -> {r1}; BatchNorm {bn_max}")
claims.say(f"- **Full training** ({S.max_steps:,} steps) of the BatchNorm network: train {train_loss:.4f}, "
           f"val {val_loss:.4f}, below the {EXP_STEPS:,}-step diagnostic run's {diag_val:.4f}.",
           val_loss < diag_val, f"val {val_loss:.4f} vs {diag_val:.4f}")
