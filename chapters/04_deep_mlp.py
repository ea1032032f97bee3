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
def run(steps: int = EXP_STEPS, lr: float = 0.1, ud_every: int = 10, **kw):
    """A fresh deep_mlp(**kw) from the seed, trained `steps` steps at a constant `lr`."""
    g = torch.Generator().manual_seed(settings.SEED)
    model = models.deep_mlp(D.vocab_size, generator=g, **kw)
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

# %% [markdown]
# ## Diagnostics of the BatchNorm network after 1,000 steps
#
# The lecture's diagnostic run: 1,000 steps at learning rate 0.1, recording the update
# ratios at every step.

# %%
model, result = run(ud_every=1)
diag = summary(model, result)
print(f"{result.steps:,} steps in {result.seconds:.1f} s; loss at step 0: {10 ** result.lossi[0]:.4f} "
      f"(uniform over 27: {lecture.EXPECTED_INITIAL_LOSS:.4f}); mean loss of the last 100 steps: {diag['loss']:.4f}")

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
# Every layer looks alike and close to the unit-Gaussian reference: BatchNorm hands each
# tanh inputs of standard deviation about 1, whatever happened in the layers below. The
# U shape is what tanh does to a Gaussian: it folds the tails into the region just inside
# $\pm 1$; only a few percent go beyond $\pm 0.97$. (Each curve is one minibatch of 32
# examples, hence the noise.) In a badly scaled network (below) these histograms either
# pile up at $\pm 1$ or collapse towards 0, and change from layer to layer.
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
# The gradient reaching the first layer is of the same order as the one leaving the last:
# it neither vanishes nor explodes on its way down through five layers. That is the
# backward half of chapter 3's stacking experiment.
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
# The Linear weights have ratios of the same order. The embedding table `C` is the
# exception: its entries are drawn from $N(0, 1)$, about ten times larger than the Linear
# weights ($1/\sqrt{\text{fan-in}}$), and a row of `C` only receives gradient from the
# examples whose context contains that character. A ratio that stands out by orders of
# magnitude would mean that one layer learns much faster or slower than the rest; the
# no-BatchNorm network below shows such a case at initialization.
#
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
# The ratios rise during the first few hundred steps and then level off. At learning
# rate 0.1 the Linear weights sit above the guide line, between about $-2.3$ and $-2$,
# and `C` near it, for the same reason as its small gradient ratio above. The rule of thumb is a guide to the
# order of magnitude: ratios near $-2$ with a loss that still falls smoothly are fine; a
# ratio near $-1$ or $-5$ is a warning. The experiments below show both.
#
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
# - **Gain 1**: the activations shrink layer by layer and nothing saturates; the gradients
#   shrink on their way down to the first layer.
# - **Gain 0.5**: the same, fast: every layer halves the signal on top of the squashing, so
#   the last layers output almost zero and the first layer receives a gradient an order of
#   magnitude smaller than the last. Deeper, this is a vanishing gradient.
# - **Gain 3**: the pre-activations are too wide and a large share of every layer is
#   saturated; now the gradient grows on its way down.
# - **Gain 5/3**: roughly stable statistics from layer to layer, with the first layer more
#   saturated than the rest.
# - **BatchNorm**: identical statistics in every layer by construction, with no gain to
#   choose.
#
# The last column is the lecture's warning about the output layer: without BatchNorm its
# weight was scaled by 0.1, so its gradient is large relative to its data, and at the start
# it learns far faster than the layers below it.
#
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
# Gradient descent partly repairs a bad initialization: with gain 0.5 the activations
# recover part of their spread, and the gradients of all five layers become comparable.
# It does not undo everything: the gain-3 network stays heavily saturated, and the gain-0.5
# network has the highest loss after the same number of steps. With five layers, the
# well-chosen gain and BatchNorm end up close; BatchNorm's advantage is that there was
# nothing to choose, and it keeps working as the network gets deeper.
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
# - **lr 0.001**: the ratios of W1-W6 sit around $-4.5$. Each step moves the weights by a
#   few parts in $10^5$, and after 1,000 steps the loss has hardly left its starting value
#   near 3.3. The ratio says so long before the loss curve does.
# - **lr 1.0 without BatchNorm**: the ratios are near $-1.6$ (every step changes a weight
#   by a few percent), the tanh layers end up mostly saturated, and the loss is worse than
#   the uniform guess: training is destroying the network.
# - **lr 1.0 with BatchNorm** survives, and the column "weight std, end / start" shows
#   how. A BatchNorm makes the loss independent of the length of each column $w$ of the
#   weight matrix in front of it (the weights feeding one normalized neuron), so the
#   gradient of that column is orthogonal to it, and a step $w - \mathrm{lr}\,\nabla w$
#   can only make it longer: $\|w\|^2$ grows by $\mathrm{lr}^2 \|\nabla w\|^2$. Longer
#   weights get proportionally smaller gradients (chapter 3: $\nabla W \propto 1/s$), so
#   the ratio falls by itself as the weights grow; here it starts near $-1.5$ and drifts
#   down. BatchNorm networks tolerate a wide range of learning rates for this reason, but
#   the ratio still reports that each step is a large fraction of the weight.
#
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

# %%
train_loss = train.split_loss(model, D.Xtr, D.Ytr)
val_loss = train.split_loss(model, D.Xdev, D.Ydev)
report.record_run("deep MLP with BatchNorm (5 x 100)", S.max_steps, train_loss, val_loss)
names = train.sample(model, D.itos, D.block_size, 20, generator=torch.Generator().manual_seed(settings.SAMPLE_SEED))
print(" ".join(names))

# %% [markdown]
# The losses are evaluated in eval mode, with each BatchNorm's running statistics
# (momentum 0.1, so they reflect roughly the last ten minibatches). The results page puts
# them beside the one-hidden-layer MLPs of chapters 2 and 3: the deep network has about
# four times as many parameters, and the gap between its training and validation loss says
# how much of that capacity learned structure that carries over to unseen names.
