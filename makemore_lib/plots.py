"""Every figure of the book, in one style. The only module that imports matplotlib.

Each helper draws one figure and hands it to `show`: in a notebook (the site build) the
figure is rendered to a PNG and displayed, whatever matplotlib backend the environment
chose (an inherited MPLBACKEND=Agg cannot strip a page of its figures), then closed, so no
`<matplotlib...>` repr is left behind; in a script it is saved as a PNG under
build/figures/<chapter>/ and its path printed. `show_explorable` draws one figure at several
values of a knob, for the page's slider (docs/javascripts/explorable.js).
"""
from __future__ import annotations

import base64
import io
import numbers
import os
import re
import sys
from pathlib import Path

from . import knobs
from .errors import SettingsError
from .report import EXPLORABLE_MIME, FIGURE_META
from .settings import figures_dir, in_notebook

# A script saves its figures and never opens windows, whatever MPLBACKEND says: the variable is
# replaced before matplotlib reads it (an unknown name would stop its import), and a matplotlib
# imported earlier is switched to Agg.
if not in_notebook():
    os.environ["MPLBACKEND"] = "Agg"

import matplotlib  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import ScalarFormatter  # noqa: E402
from PIL import Image  # noqa: E402  (matplotlib's own dependency)

if not in_notebook():
    matplotlib.use("Agg")
import torch

STYLE = {
    "figure.figsize": (8, 3.6),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "savefig.bbox": "tight",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.formatter.use_mathtext": True,   # an axis offset or scale reads x10^-3, never 1e-3
}
plt.rcParams.update(STYLE)

_saved = 0          # figures (and explorable figures) a script saved: their running number
_frames: list[tuple[str, bytes]] | None = None   # while show_explorable draws: (title, PNG) of each figure shown


class PlainTicks(ScalarFormatter):
    """Tick labels as plain text, the axis offset and scale as x10^n (mathtext, the style's
    axes.formatter.use_mathtext). Mathtext for every tick label would double the time a figure
    takes to lay out."""

    def __call__(self, x, pos=None):
        return super().__call__(x, pos).removeprefix(r"$\mathdefault{").removesuffix("}$")


def figure(ncols: int = 1, nrows: int = 1, width: float = 8, height: float = 3.6, **kw):
    """A new figure of the book's size: `fig, ax = figure()`."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), **kw)
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(PlainTicks())
            axis.isDefault_majfmt = True   # still the default: string data or a log scale replaces it
    return fig, axes


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "figure"


def show(fig, name: str | None = None) -> None:
    """Display `fig` inline in a notebook, or save it under build/figures/ in a script; while
    show_explorable draws, keep it as one of its frames instead. A run with the reader's own knobs
    says so under the figure and in its file name."""
    if knobs.note():
        fig.text(0.5, 0.0, knobs.note(), ha="center", va="top", fontsize=8, color="0.35")
    fig.tight_layout()
    title = name or (fig.axes[0].get_title() if fig.axes else "")
    png = _png(fig)
    plt.close(fig)
    if _frames is not None:
        _frames.append((title, png))
    elif in_notebook():
        _display(png, f"[figure: {title}]", title)
    else:
        path = _numbered(title, ".png")
        _write({path: png})
        print(f"[figure saved: {path}]")


def _png(fig) -> bytes:
    """The figure as a PNG of at most 256 colours: a chart has few, and such a PNG takes about a
    third of the bytes of matplotlib's full-colour one, for every page that shows it."""
    rendered = io.BytesIO()
    fig.savefig(rendered, format="png")
    image = Image.open(rendered).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    png = io.BytesIO()
    image.save(png, format="png", optimize=True)
    return png.getvalue()


def show_explorable(knob: str, values: list, draw, book, labels: list[str] | None = None,
                    name: str | None = None) -> None:
    """One figure at several values of a knob, for the reader to step through with a slider.

    `draw(value)` draws the figure at `value` with one helper of this module (exactly one figure
    per call); `book` is the value whose frame is shown first, the book's own choice. In a
    notebook: one output, the book's frame as image/png and every frame under EXPLORABLE_MIME
    (the site turns it into a slider); in a script: each frame saved as <slug of its label>.png
    in a numbered folder of its own under build/figures/<chapter>/."""
    values = list(values)
    if book not in values:
        raise ValueError(f"show_explorable: the book's value {book!r} is not one of the values of "
                         f"{knob!r}: {', '.join(map(repr, values))}")
    labels = [str(label) for label in labels] if labels is not None else [_label(knob, v) for v in values]
    files = [_slug(label) for label in labels]
    if len(labels) != len(values) or len(set(files)) != len(files):
        raise ValueError(f"show_explorable: one distinct label per value of {knob!r} (as file names: "
                         f"{', '.join(files)}), {len(values)} values")
    frames = [_one_frame(draw, value, knob) for value in values]
    initial = values.index(book)
    title = name or frames[initial][0]
    pngs = [png for _, png in frames]
    if in_notebook():
        record = {"knob": knob, "labels": labels, "initial": initial, "title": title,
                  "frames": [base64.b64encode(png).decode("ascii") for png in pngs]}
        _display(pngs[initial], f"[explorable figure: {title}, {len(pngs)} frames over {knob}]", title,
                 {EXPLORABLE_MIME: record})
    else:
        folder = _numbered(title)
        _write({folder / f"{file}.png": png for file, png in zip(files, pngs)})
        print(f"[explorable figure saved: {folder} ({len(pngs)} frames over {knob}; "
              f"the book's: {labels[initial]})]")


def _label(knob: str, value) -> str:
    return f"{knob} = {value:g}" if isinstance(value, numbers.Real) else f"{knob} = {value}"


def _one_frame(draw, value, knob: str) -> tuple[str, bytes]:
    """(title, PNG) of the one figure `draw(value)` shows."""
    global _frames
    _frames = []
    try:
        draw(value)
        shown = _frames
    finally:
        _frames = None
    if len(shown) != 1:
        raise ValueError(f"show_explorable: draw({value!r}) showed {len(shown)} figures at {knob} = {value!r}; "
                         f"it must draw exactly one")
    return shown[0]


def _display(png: bytes, text: str, title: str, extra: dict | None = None) -> None:
    """One figure output of a notebook: the PNG, its text, its name for citations."""
    from IPython.display import display
    display({"image/png": png, "text/plain": text, **(extra or {})}, raw=True,
            metadata={FIGURE_META: {"name": _slug(title), "title": title}})


def _numbered(title: str, suffix: str = "") -> Path:
    """The next path of a script's figures: build/figures/<chapter>/<NN>-<slug of title><knobs><suffix>,
    where <knobs> names the knobs the reader turned (knobs.suffix)."""
    global _saved
    _saved += 1
    chapter = Path(sys.argv[0]).stem or "interactive"
    return figures_dir() / chapter / f"{_saved:02d}-{_slug(title)}{knobs.suffix()}{suffix}"


def _write(files: dict[Path, bytes]) -> None:
    """Write each file, making its folder; a failure is one line naming the folder."""
    for path, content in files.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        except OSError as e:   # settings.read checked the folder; it may have gone since
            raise SettingsError(f"cannot save a figure in {path.parent} ({e.strerror}); set MAKEMORE_FIGURES to a "
                                f"writable folder") from None


def _t(x) -> torch.Tensor:
    return torch.as_tensor(x).detach().float()


def plot_loss(curves: dict[str, list[float]], title: str = "training loss", window: int = 1,
              ylabel: str = "minibatch loss (log10)") -> None:
    """One line per run of log10(minibatch loss), averaged over `window` steps."""
    fig, ax = figure()
    for label, lossi in curves.items():
        y = _t(lossi)
        if window > 1:
            y = y[: len(y) // window * window].view(-1, window).mean(1)
        x = torch.arange(len(y)) * window
        ax.plot(x.numpy(), y.numpy(), label=label, lw=1)
    ax.set(title=title, xlabel="training step", ylabel=ylabel)
    if len(curves) > 1:
        ax.legend()
    show(fig)


def plot_hist(values: dict[str, torch.Tensor] | torch.Tensor, title: str, xlabel: str, bins: int = 50,
              marks: dict[str, float] | None = None, ylabel: str = "entries (count)") -> None:
    """Histogram(s) of the entries of one or more tensors; `marks` draws a labelled vertical line
    at each value (e.g. the split losses against a histogram of minibatch losses)."""
    if not isinstance(values, dict):
        values = {"": values}
    fig, ax = figure()
    for label, v in values.items():
        ax.hist(_t(v).view(-1).numpy(), bins=bins, alpha=0.6 if len(values) > 1 else 1, label=label or None)
    styles = ["--", ":", "-.", "-"]
    for k, (label, x) in enumerate((marks or {}).items()):
        ax.axvline(x, color="k", ls=styles[k % len(styles)], lw=1.2, label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if len(values) > 1 or marks:
        ax.legend()
    show(fig)


def plot_bars(labels: list, values, title: str, xlabel: str, ylabel: str = "count") -> None:
    """One bar per label (e.g. words per length, or examples per character)."""
    fig, ax = figure()
    ax.bar([str(x) for x in labels], _t(values).numpy())
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(False, axis="x")
    show(fig)


def plot_saturation(h: torch.Tensor, title: str, threshold: float = 0.99) -> None:
    """The 'white columns' picture: one row per example, one column per neuron,
    white where |h| > threshold. A column white from top to bottom is a dead neuron."""
    fig, ax = figure(height=3.0)
    ax.imshow((_t(h).abs() > threshold).numpy(), cmap="gray", interpolation="nearest", aspect="auto", vmin=0, vmax=1)
    ax.set(title=title, xlabel=f"hidden unit (white: |h| > {threshold:g})", ylabel="example in the batch")
    ax.grid(False)
    show(fig)


def plot_lines(xs, curves: dict[str, list[float]], title: str, xlabel: str, ylabel: str,
               hline: float | None = None) -> None:
    """Several curves against a shared x; an optional dashed guide line."""
    fig, ax = figure()
    for label, y in curves.items():
        ax.plot(_t(xs).numpy(), _t(y).numpy(), label=label)
    if hline is not None:
        ax.axhline(hline, color="k", ls="--", lw=1)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if len(curves) > 1:
        ax.legend()
    show(fig)


def plot_distributions(tensors: dict[str, torch.Tensor], title: str, xlabel: str, bins: int = 100) -> None:
    """The lecture's per-layer histograms drawn as lines (one per layer), for activations or gradients."""
    fig, ax = figure()
    for label, t in tensors.items():
        counts, edges = torch.histogram(_t(t).view(-1), bins=bins, density=True)
        ax.plot(((edges[:-1] + edges[1:]) / 2).numpy(), counts.numpy(), label=label)
    ax.set(title=title, xlabel=xlabel, ylabel="density")
    ax.legend()
    show(fig)


def plot_update_ratios(steps: list[int], ud: list[list[float]], names: list[str], title: str,
                       guide: float = -3.0) -> None:
    """log10 update-to-data ratio of each parameter over training, with the guide line at 10^-3."""
    fig, ax = figure()
    ud_t = _t(ud)  # (recorded steps, parameters)
    for j, name in enumerate(names):
        ax.plot(steps, ud_t[:, j].numpy(), label=name, lw=1)
    ax.axhline(guide, color="k", ls="--", lw=1, label=f"guide: ratio $10^{{{guide:.0f}}}$")
    ax.set(title=title, xlabel="training step", ylabel="update-to-data ratio (log10)")
    ax.legend(ncol=2)
    show(fig)


def plot_heatmap(t: torch.Tensor, title: str, xlabel: str, ylabel: str, cmap: str = "gray",
                 clabel: str = "value") -> None:
    """A matrix as an image (e.g. dlogits: one row per example, one column per character);
    `clabel` names what the colour bar measures."""
    fig, ax = figure(height=4.0)
    im = ax.imshow(_t(t).numpy(), cmap=cmap, interpolation="nearest", aspect="auto")
    fig.colorbar(im, ax=ax, label=clabel)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(False)
    show(fig)


def _legend_cols(n: int) -> int:
    return n if n <= 4 else min(4, (n + 1) // 2)


def plot_layer_stats(panels: dict[str, dict[str, list[float]]], title: str, xlabel: str = "layer") -> None:
    """Per-layer numbers of several runs: one panel per statistic, one line per run (x = layer 1, 2, ...)."""
    from matplotlib.ticker import MaxNLocator

    fig, axes = figure(ncols=len(panels), width=min(3.6 * len(panels), 12), height=3.4, squeeze=False)
    for ax, (stat, runs) in zip(axes[0], panels.items()):
        for label, y in runs.items():
            y = _t(y)
            ax.plot(range(1, len(y) + 1), y.numpy(), marker="o", ms=3, lw=1, label=label)
        ax.set(title=stat, xlabel=xlabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=_legend_cols(len(labels)))
    show(fig, name=title)


def plot_scatter(panels: dict[str, tuple], title: str, xlabel: str, ylabel: str) -> None:
    """y against x, one panel per entry, with the diagonal y = x: two estimates of the same numbers."""
    fig, axes = figure(ncols=len(panels), width=min(4 * len(panels), 12), height=3.6, squeeze=False)
    for ax, (name, (x, y)) in zip(axes[0], panels.items()):
        x, y = _t(x).view(-1), _t(y).view(-1)
        lo, hi = min(x.min(), y.min()).item(), max(x.max(), y.max()).item()
        ax.plot([lo, hi], [lo, hi], color="k", ls="--", lw=1, label="y = x")
        ax.scatter(x.numpy(), y.numpy(), s=6, alpha=0.7)
        ax.set(title=name, xlabel=xlabel, ylabel=ylabel)
        ax.legend()
    fig.suptitle(title, fontsize=11)
    show(fig, name=title)


def plot_update_ratio_panels(runs: dict[str, tuple[list[int], list[list[float]]]], names: list[str],
                             title: str, guide: float = -3.0) -> None:
    """plot_update_ratios for several runs side by side on a shared y axis: runs maps a label to
    (recorded steps, log10 ratios (steps, len(names)))."""
    fig, axes = figure(ncols=len(runs), width=min(4 * len(runs), 12), height=3.6, squeeze=False, sharey=True)
    for ax, (label, (steps, ud)) in zip(axes[0], runs.items()):
        ud_t = _t(ud)
        for j, name in enumerate(names):
            ax.plot(steps, ud_t[:, j].numpy(), label=name, lw=1)
        ax.axhline(guide, color="k", ls="--", lw=1, label=f"guide: ratio $10^{{{guide:.0f}}}$")
        ax.set(title=label, xlabel="training step")
    axes[0][0].set_ylabel("update-to-data ratio (log10)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=_legend_cols(len(labels)))
    show(fig, name=title)


def plot_dead_units(h: torch.Tensor, title: str) -> None:
    """The white-columns picture for ReLU-like units: one row per example, one column per unit,
    white where the unit does not fire (output <= 0). A column white from top to bottom is a
    unit that never fires on these examples: a dead ReLU."""
    fig, ax = figure(height=3.0)
    ax.imshow((_t(h) <= 0).numpy(), cmap="gray", interpolation="nearest", aspect="auto", vmin=0, vmax=1)
    ax.set(title=title, xlabel="unit", ylabel="dev example")
    ax.grid(False)
    show(fig)


def plot_tanh_units(h: torch.Tensor, title: str, threshold: float = 0.99) -> None:
    """A tanh layer on one minibatch: the histogram of its outputs `h` (left) and the white-columns
    picture (right: one row per example, one column per unit, white where |h| > threshold)."""
    fig, (left, right) = figure(ncols=2, width=10)
    left.hist(_t(h).view(-1).numpy(), bins=50, range=(-1, 1))
    left.set(xlabel="h = tanh(hpreact)", ylabel="entries (count)", xlim=(-1, 1))
    right.imshow((_t(h).abs() > threshold).numpy(), cmap="gray", interpolation="nearest", aspect="auto", vmin=0, vmax=1)
    right.set(xlabel=f"hidden unit (white: |h| > {threshold:g})", ylabel="example in the batch")
    right.grid(False)
    fig.suptitle(title, fontsize=11)
    show(fig, title)


def _layer_lines(ax, tensors: dict[str, torch.Tensor], lim: tuple[float, float] | None, bins: int) -> None:
    for label, t in tensors.items():
        counts, edges = torch.histogram(_t(t).view(-1), bins=bins, range=lim, density=True)
        ax.plot(((edges[:-1] + edges[1:]) / 2).numpy(), counts.numpy(), label=label)


def plot_layer_histograms(acts: dict[str, torch.Tensor], title: str, grad_lim: float | None = None,
                          bins: int = 100) -> None:
    """The lecture's central picture: every tanh layer's output histogram (left, over [-1, 1]) and
    the histogram of its gradient `.grad` (right, over [-grad_lim, grad_lim] when given, so that
    frames of an explorable share one axis); `bins` for the gradients, half as many for the
    activations, whose range is fixed."""
    fig, (left, right) = figure(ncols=2, width=10)
    _layer_lines(left, acts, (-1.0, 1.0), bins // 2)
    left.set(xlabel="tanh output", ylabel="density", xlim=(-1, 1), title="activations")
    _layer_lines(right, {k: t.grad for k, t in acts.items()}, (-grad_lim, grad_lim) if grad_lim else None, bins)
    right.set(xlabel="gradient of the tanh output", title="gradients")
    if grad_lim:
        right.set_xlim(-grad_lim, grad_lim)
    right.legend()
    fig.suptitle(title, fontsize=11)
    show(fig, title)


def plot_training_snapshot(acts: dict[str, torch.Tensor], ud: list[list[float]], names: list[str], steps: int,
                           title: str, guide: float = -3.0, ud_lim: tuple[float, float] = (-4.5, -1.0)) -> None:
    """One moment of a training run: the tanh layers' output histograms at that step (left) and the
    log10 update-to-data ratio of every weight recorded so far (right, x from 0 to `steps`)."""
    fig, (left, right) = figure(ncols=2, width=10)
    _layer_lines(left, acts, (-1.0, 1.0), 50)
    left.set(xlabel="tanh output", ylabel="density", xlim=(-1, 1), title="activations")
    left.legend()
    ud_t = _t(ud)                                           # (steps so far, weights)
    for j, name in enumerate(names):
        right.plot(range(len(ud_t)), ud_t[:, j].numpy(), label=name, lw=1)
    right.axhline(guide, color="k", ls="--", lw=1)
    right.set(xlabel="training step", ylabel="update-to-data ratio (log10)", xlim=(0, steps), ylim=ud_lim,
              title="update-to-data ratio")
    right.legend(ncol=2)
    fig.suptitle(title, fontsize=11)
    show(fig, title)
