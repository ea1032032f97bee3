"""makemore_lib/plots.py: what each figure draws, and where `show` sends it.

Most tests replace plots.show by a list, so the figure can be inspected before it is closed;
the tests of `show` itself run it as a script (a PNG under build/figures/<chapter>/) and as
in a Jupyter kernel (`ipykernel` in sys.modules, IPython's display replaced by a list).
"""
from __future__ import annotations

import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from conftest import run_python
from makemore_lib import plots, settings

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def drawn(monkeypatch):
    """The figures the helpers hand to `show`, as (figure, name); closed afterwards."""
    figures = []
    monkeypatch.setattr(plots, "show", lambda fig, name=None: figures.append((fig, name)))
    yield figures
    for fig, _ in figures:
        plt.close(fig)


@pytest.fixture
def script(script, monkeypatch):
    """conftest's plain-script setting, with the figure counter reset."""
    monkeypatch.setattr(plots, "_saved", 0)


def only_axes(drawn):
    [(fig, _)] = drawn
    [ax] = fig.axes
    return ax


# ---------------------------------------------------------------- the helpers

def test_plot_loss_draws_the_window_means_at_their_first_step(drawn):
    lossi = [float(i % 7) for i in range(10)]
    plots.plot_loss({"a": lossi, "b": [2 * v for v in lossi]}, title="loss", window=4)
    ax = only_axes(drawn)
    a, b = ax.get_lines()
    assert a.get_xdata().tolist() == [0, 4]                   # the last 2 steps fill no window and are left out
    np.testing.assert_allclose(a.get_ydata(), [np.mean(lossi[0:4]), np.mean(lossi[4:8])], rtol=1e-6)
    np.testing.assert_allclose(b.get_ydata(), 2 * a.get_ydata(), rtol=1e-6)
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("loss", "training step", "minibatch loss (log10)")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]


def test_plot_loss_without_a_window_draws_every_step_and_one_run_has_no_legend(drawn):
    plots.plot_loss({"run": torch.tensor([3.0, 2.5, 2.25])}, ylabel="loss")
    ax = only_axes(drawn)
    [line] = ax.get_lines()
    assert line.get_xdata().tolist() == [0, 1, 2] and line.get_ydata().tolist() == [3.0, 2.5, 2.25]
    assert ax.get_legend() is None and ax.get_ylabel() == "loss"


def test_plot_hist_counts_every_entry_of_a_matrix_and_labels_several(drawn):
    g = torch.Generator().manual_seed(0)
    h = torch.randn(32, 200, generator=g)                     # (32, 200), as chapters/02_init.py passes hpreact
    plots.plot_hist(h, title="hpreact", xlabel="hpreact", bins=20)
    plots.plot_hist({"hpreact": h, "after BatchNorm": h / 2}, title="two", xlabel="x", bins=20)
    one, two = (fig.axes[0] for fig, _ in drawn)
    assert len(one.patches) == 20 and sum(p.get_height() for p in one.patches) == 32 * 200
    assert one.get_legend() is None and one.get_ylabel() == "entries (count)"
    assert len(two.patches) == 40
    assert [t.get_text() for t in two.get_legend().get_texts()] == ["hpreact", "after BatchNorm"]


def test_plot_bars_one_bar_per_label_of_the_values_given(drawn):
    freq = torch.tensor([5, 0, 7])                            # an int tensor, as torch.bincount gives
    plots.plot_bars([".", "a", "b"], freq, title="targets", xlabel="token", ylabel="examples")
    ax = only_axes(drawn)
    assert [p.get_height() for p in ax.patches] == [5, 0, 7]
    assert [t.get_text() for t in ax.get_xticklabels()] == [".", "a", "b"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("token", "examples")


def test_plot_saturation_and_plot_dead_units_are_white_where_the_unit_saturates_or_does_not_fire(drawn):
    h = torch.tensor([[0.995, -0.999, 0.2], [0.0, -0.5, 1.0]])  # (2 examples, 3 units)
    plots.plot_saturation(h, title="saturated")
    plots.plot_dead_units(h, title="dead")
    (sat, _), (dead, _) = drawn
    assert sat.axes[0].get_images()[0].get_array().tolist() == [[True, True, False], [False, False, True]]
    assert "0.99" in sat.axes[0].get_xlabel()
    assert dead.axes[0].get_images()[0].get_array().tolist() == [[False, True, False], [True, True, False]]


def test_plot_lines_draws_each_curve_against_xs_and_the_guide_line(drawn):
    plots.plot_lines(range(1, 4), {"std": [1.0, 0.5, 0.25]}, title="t", xlabel="layer", ylabel="std", hline=1.0)
    ax = only_axes(drawn)
    curve, guide = ax.get_lines()
    assert curve.get_xdata().tolist() == [1, 2, 3] and curve.get_ydata().tolist() == [1.0, 0.5, 0.25]
    assert list(guide.get_ydata()) == [1.0, 1.0] and guide.get_linestyle() == "--"


def test_plot_distributions_one_density_per_tensor_even_one_that_requires_grad(drawn):
    g = torch.Generator().manual_seed(0)
    act = torch.randn(100, 50, generator=g).requires_grad_() * 2   # a non-leaf activation, as chapters/04 keeps them
    plots.plot_distributions({"layer 1": act, "layer 2": act.detach() / 4}, title="acts", xlabel="value", bins=40)
    ax = only_axes(drawn)
    lines = ax.get_lines()
    assert [l.get_label() for l in lines] == ["layer 1", "layer 2"]
    for line in lines:
        x, density = line.get_xdata(), line.get_ydata()
        assert len(x) == 40 and np.sum(density) * (x[1] - x[0]) == pytest.approx(1.0, rel=1e-4)


def test_plot_update_ratios_one_line_per_parameter_and_the_guide_at_minus_3(drawn):
    steps, ud = [0, 10, 20], [[-3.0, -2.5], [-3.1, -2.6], [-3.2, -2.7]]   # (steps, parameters)
    plots.plot_update_ratios(steps, ud, ["W1", "W2"], title="ud")
    ax = only_axes(drawn)
    w1, w2, guide = ax.get_lines()
    assert list(w1.get_xdata()) == steps and list(w2.get_ydata()) == pytest.approx([-2.5, -2.6, -2.7])
    assert list(guide.get_ydata()) == [-3.0, -3.0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["W1", "W2", "guide: ratio $10^{-3}$"]


def test_plot_update_ratio_panels_one_panel_per_run_on_a_shared_y_axis(drawn):
    runs = {"lr 0.001": ([0, 10], [[-5.0, -4.0], [-5.1, -4.1]]), "lr 1.0": ([0, 10], [[-1.0, -0.5], [-1.1, -0.6]])}
    plots.plot_update_ratio_panels(runs, ["W1", "W2"], title="three learning rates")
    [(fig, name)] = drawn
    first, second = fig.axes
    assert [first.get_title(), second.get_title()] == ["lr 0.001", "lr 1.0"] and name == "three learning rates"
    assert len(first.get_lines()) == len(second.get_lines()) == 3
    assert first.get_shared_y_axes().joined(first, second)
    assert first.get_ylabel() == "update-to-data ratio (log10)" and second.get_ylabel() == ""
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["W1", "W2", "guide: ratio $10^{-3}$"]


def test_plot_heatmap_shows_the_matrix_with_a_labelled_colour_bar(drawn):
    t = torch.tensor([[0.1, -0.9], [0.3, 0.6]])
    plots.plot_heatmap(t, title="dlogits", xlabel="character", ylabel="example", clabel="n * dlogits")
    [(fig, _)] = drawn
    ax, bar = fig.axes
    np.testing.assert_allclose(ax.get_images()[0].get_array(), t.numpy())
    assert bar.get_ylabel() == "n * dlogits"


def test_plot_layer_stats_one_panel_per_statistic_one_line_per_run_x_from_layer_1(drawn):
    panels = {"activation std": {"a": [1, 2, 3, 4, 5], "b": [5, 4, 3, 2, 1]},
              "saturated %": {"a": [0, 1, 2, 3, 4], "b": [4, 3, 2, 1, 0]}}
    plots.plot_layer_stats(panels, title="per layer")
    [(fig, name)] = drawn
    assert [ax.get_title() for ax in fig.axes] == ["activation std", "saturated %"]
    assert fig._suptitle.get_text() == name == "per layer"
    for ax in fig.axes:
        assert [l.get_xdata().tolist() for l in ax.get_lines()] == [[1, 2, 3, 4, 5]] * 2
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["a", "b"]


def test_plot_scatter_draws_the_points_and_the_diagonal_over_their_range(drawn):
    bnmean, bnmean_running = torch.tensor([[0.0, 2.0, -1.0]]), torch.tensor([[0.1, 1.9, -1.2]])   # (1, 3) like BatchNorm stats
    plots.plot_scatter({"mean": (bnmean, bnmean_running), "std": (bnmean.abs(), bnmean_running.abs())},
                       title="running vs batch", xlabel="batch", ylabel="running")
    [(fig, _)] = drawn
    mean = fig.axes[0]
    [diagonal] = mean.get_lines()
    assert diagonal.get_xdata() == pytest.approx([-1.2, 2.0]) and diagonal.get_ydata() == pytest.approx([-1.2, 2.0])
    np.testing.assert_allclose(mean.collections[0].get_offsets(), [[0.0, 0.1], [2.0, 1.9], [-1.0, -1.2]], rtol=1e-6)
    assert len(fig.axes) == 2


def test_an_axis_scale_reads_x10_to_the_minus_5_not_1e_5(drawn):
    plots.plot_lines([0, 1], {"grad std": [1e-5, 3e-5]}, title="t", xlabel="x", ylabel="y")
    ax = only_axes(drawn)
    ax.figure.canvas.draw()
    offset = ax.yaxis.get_offset_text().get_text()
    assert "10^{−5}" in offset and "1e" not in offset, offset


# ---------------------------------------------------------------- where show sends a figure

@pytest.mark.parametrize("title, slug", [
    ("|h| > 0.99 (white) at init, original", "h-0-99-white-at-init-original"),
    ("???", "figure"),
    ("x" * 80, "x" * 60),
])
def test_a_figures_name_is_its_title_as_a_slug(title, slug):
    assert plots._slug(title) == slug


def test_a_script_saves_numbered_pngs_under_build_figures_of_its_chapter(script, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(settings, "REPO_ROOT", tmp_path)
    monkeypatch.delenv("MAKEMORE_FIGURES", raising=False)
    monkeypatch.setattr(sys, "argv", ["chapters/02_init.py"])
    plots.plot_lines([0, 1], {"a": [0, 1]}, title="first line", xlabel="x", ylabel="y")
    plots.plot_hist(torch.ones(4, 3), title="second, a histogram", xlabel="x")
    out = tmp_path / "build" / "figures" / "02_init"
    paths = [out / "01-first-line.png", out / "02-second-a-histogram.png"]
    assert sorted(out.iterdir()) == paths
    assert all(p.read_bytes().startswith(PNG_MAGIC) for p in paths)
    assert capsys.readouterr().out.splitlines() == [f"[figure saved: {p}]" for p in paths]
    assert plt.get_fignums() == []                            # closed: nothing left to pile up


def test_a_script_uses_agg_whatever_MPLBACKEND_says_and_MAKEMORE_FIGURES_moves_the_pngs(tmp_path):
    """MPLBACKEND=svg (a backend matplotlib honours even headless, unlike TkAgg) must not reach a script."""
    script = tmp_path / "07_demo.py"
    script.write_text("import matplotlib\nfrom makemore_lib import plots\n"
                      "plots.plot_lines([0, 1], {'a': [0, 1]}, title='A line', xlabel='x', ylabel='y')\n"
                      "print(matplotlib.get_backend())\n")
    figures = tmp_path / "figures"
    r = run_python([str(script)], {"MPLBACKEND": "svg", "MAKEMORE_FIGURES": str(figures)}, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.lower().splitlines() == [f"[figure saved: {figures / '07_demo' / '01-a-line.png'}]".lower(), "agg"]
    assert (figures / "07_demo" / "01-a-line.png").read_bytes().startswith(PNG_MAGIC)


def test_in_a_kernel_a_figure_is_displayed_as_png_with_its_name_even_under_MPLBACKEND_agg(shown, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")                   # as a headless build inherits it
    plots.plot_layer_stats({"std": {"a": [1, 2]}}, title="Per-layer std, 2 layers")
    [(obj, kw)] = shown
    assert obj["image/png"].startswith(PNG_MAGIC) and kw["raw"] is True
    assert obj["text/plain"] == "[figure: Per-layer std, 2 layers]"    # the title, not the first panel's "std"
    assert kw["metadata"] == {plots.FIGURE_META: {"name": "per-layer-std-2-layers", "title": "Per-layer std, 2 layers"}}
    assert plt.get_fignums() == []                            # closed: no <matplotlib...> repr on the page


# ---------------------------------------------------------------- explorable figures

def _line_at(n):
    """An explorable's draw: one figure per value of the knob (a number, or "three")."""
    plots.plot_lines([0, 1], {"a": [0, {"three": 3}.get(n, n)]}, title=f"a line rising to {n}", xlabel="x", ylabel="y")


def test_a_script_saves_each_frame_as_the_figure_show_would_save(script, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("MAKEMORE_FIGURES", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["chapters/02_init.py"])
    plots.show_explorable("n", [1, 2.5, "three"], _line_at, book=2.5, name="rising lines")
    _line_at(2.5)                                             # the same figure, drawn and saved directly
    out = tmp_path / "02_init"
    folder = out / "01-rising-lines"
    assert sorted(p.name for p in folder.iterdir()) == ["n-1.png", "n-2-5.png", "n-three.png"]
    assert (folder / "n-2-5.png").read_bytes() == (out / "02-a-line-rising-to-2-5.png").read_bytes()
    assert capsys.readouterr().out.splitlines() == [
        f"[explorable figure saved: {folder} (3 frames over n; the book's: n = 2.5)]",
        f"[figure saved: {out / '02-a-line-rising-to-2-5.png'}]"]
    assert plt.get_fignums() == []


def test_an_explorable_that_cannot_be_saved_is_one_line_naming_the_folder(script, monkeypatch, tmp_path):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("MAKEMORE_FIGURES", str(tmp_path / "a-file"))
    with pytest.raises(settings.SettingsError, match="cannot save a figure in .*a-file.*MAKEMORE_FIGURES"):
        plots.show_explorable("n", [1, 2], _line_at, book=1)


def test_the_books_value_must_be_one_of_the_values(script):
    with pytest.raises(ValueError, match=r"the book's value 4 is not one of the values of 'n': 1, 2"):
        plots.show_explorable("n", [1, 2], _line_at, book=4)


@pytest.mark.parametrize("draw, count", [(lambda n: None, 0), (lambda n: (_line_at(n), _line_at(n)), 2)],
                         ids=["no figure", "two figures"])
def test_each_draw_must_show_exactly_one_figure(script, draw, count, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("MAKEMORE_FIGURES", str(tmp_path))
    with pytest.raises(ValueError, match=f"draw\\(1\\) showed {count} figures at n = 1; it must draw exactly one"):
        plots.show_explorable("n", [1, 2], draw, book=1)
    assert plt.get_fignums() == []
    _line_at(1)                                               # show is itself again: the figure is saved
    assert capsys.readouterr().out.startswith("[figure saved: ")


def test_in_a_kernel_an_explorable_is_one_output_the_books_frame_and_every_frame(shown):
    import base64
    plots.show_explorable("n", [1, 2, 3], _line_at, book=2, labels=["one", "two", "three"])
    [(obj, kw)] = shown
    record = obj[plots.EXPLORABLE_MIME]
    frames = [base64.b64decode(f) for f in record["frames"]]
    assert {k: v for k, v in record.items() if k != "frames"} == {
        "knob": "n", "labels": ["one", "two", "three"], "initial": 1, "title": "a line rising to 2"}
    assert len(frames) == 3 and all(f.startswith(PNG_MAGIC) for f in frames) and len(set(frames)) == 3
    assert obj["image/png"] == frames[1] and kw["raw"] is True
    assert obj["text/plain"] == "[explorable figure: a line rising to 2, 3 frames over n]"
    assert kw["metadata"] == {plots.FIGURE_META: {"name": "a-line-rising-to-2", "title": "a line rising to 2"}}
    assert plt.get_fignums() == []
