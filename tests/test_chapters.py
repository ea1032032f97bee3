"""Every chapter runs as a plain script in quick mode; a failure names the chapter and shows its last output.

The chapters' shape is checked without running them: prose in Markdown cells, no heading inside
code, every claims.check hidden in a cell of its own right below the sentence it quotes, and no
check that cannot fail.
"""
import ast
import os
import re
from pathlib import Path

import pytest

from conftest import CHAPTERS, REPO, SCRIPT_KERNELS, run_python
from makemore_lib.book import chapters, pages

WARNING = re.compile(r'^warning: not borne out by this run \((?P<why>[^)]*)\): "(?P<claim>.*)"', re.M)
SUMMARY = re.compile(r"^claims: (\d+) sentences checked against this run's numbers, (.*)$", re.M)


def test_there_are_five_chapters():
    assert [c.name[:3] for c in CHAPTERS] == ["01_", "02_", "03_", "04_", "05_"]


@pytest.mark.kernels
@pytest.mark.parametrize("chapter_run", [c.stem for c in CHAPTERS], indirect=True)
def test_chapter_runs_as_a_script_in_quick_mode_and_its_sentences_hold(chapter_run):
    """Every sentence that does not depend on the full training holds in quick mode under the AVX2
    kernels (this session's scripts) and the default ones (tests/test_kernel_sets.py); the site
    build checks this machine's own (tests/test_site.py)."""
    r, chapter = chapter_run, chapter_run["chapter"]     # one run per session, shared with tests/test_workbook.py
    tail = "\n".join((r["stdout"] + "\n" + r["stderr"]).splitlines()[-30:])
    assert r["returncode"] == 0, f"{chapter} failed (exit {r['returncode']}); last output:\n{tail}"
    assert "mode: quick" in r["stdout"], f"{chapter} does not print its mode:\n{tail}"
    kernels = os.environ.get("ATEN_CPU_CAPABILITY", SCRIPT_KERNELS)
    assert f"CPU kernels: {kernels.upper()}" in r["stdout"], f"{chapter} did not run on the {kernels} kernels"
    assert "Traceback" not in r["stderr"], f"{chapter} printed a traceback:\n{tail}"
    summary = SUMMARY.findall(r["stdout"])
    assert len(summary) == 1 and int(summary[0][0]) > 0, f"{chapter} checked no sentence:\n{tail}"
    not_preview = [m["claim"] for m in WARNING.finditer(r["stderr"]) if "this quick preview" not in m["why"]]
    assert not_preview == [], f"{chapter}: sentences its quick run does not bear out: {not_preview}"


def test_a_chapter_given_a_missing_data_file_stops_with_one_line(tmp_path):
    missing = tmp_path / "nope.txt"
    r = run_python([str(CHAPTERS[0]), "--data", str(missing)], {"MAKEMORE_QUICK": "1", "MAKEMORE_FIGURES": str(tmp_path)})
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [f"error: {missing}: file not found; set MAKEMORE_DATA (or --data) "
                                             f"to a UTF-8 file with one word per line"]


@pytest.mark.parametrize("chapter, content, option, problem", [
    ("03_batchnorm", "emma\nolivia\nava\n", "--data", "too few words for the 80/10/10 split: train 2 words"),
    ("01_data", "a" * 500 + "\n", "--data", "too few words for the 80/10/10 split: train 0 words"),
    ("04_deep_mlp", None, "--quik", "unknown option '--quik'; the options are --data PATH, --quick and --set NAME=VALUE ..."),
    ("02_init", None, "--dat", "unknown option '--dat'; the options are --data PATH, --quick and --set NAME=VALUE ..."),
], ids=["three-names", "one-long-name", "typo", "abbreviation"])
def test_bad_input_stops_a_chapter_with_one_line_before_any_figure(tmp_path, chapter, content, option, problem):
    words = tmp_path / "words.txt"
    words.write_text(content or "emma\n", encoding="utf-8")
    figures = tmp_path / "figures"
    r = run_python([str(REPO / "chapters" / f"{chapter}.py"), option, str(words)],
                   {"MAKEMORE_QUICK": "1", "MAKEMORE_FIGURES": str(figures)}, cwd=tmp_path, timeout=60)
    assert r.returncode != 0
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and problem in lines[0], r.stderr
    assert (str(words) if content else option) in lines[0]
    assert not figures.exists() or not any(figures.rglob("*.*"))


# ---------------------------------------------------------------- the chapters' shape, read without running them

def cells(source):
    return chapters.notebook_from_source(source).cells


def check_calls(code: str) -> list[ast.Call]:
    return [n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call)
            and ast.unparse(n.func) == "claims.check"]


def hidden(cell) -> bool:
    return pages.CHECK_TAG in cell.metadata.get("tags", [])


@pytest.mark.parametrize("source", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_no_markdown_heading_stands_in_a_code_cell(source):
    headings = [(i, line) for i, cell in enumerate(cells(source), start=1) if cell.cell_type == "code"
                for line in cell.source.splitlines() if re.match(r"#\s*#{1,6}\s+\w", line)]
    assert headings == [], f"{source.name}: a heading inside a code cell renders as a comment (cell, line): {headings}"


@pytest.mark.parametrize("source", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_every_check_is_hidden_right_below_the_sentence_it_quotes(source):
    nb_cells, problems, found = cells(source), [], 0
    for i, cell in enumerate(nb_cells):
        if cell.cell_type != "code":
            continue
        calls = check_calls(cell.source)
        if hidden(cell) and not calls:
            problems.append(f"cell {i + 1} is hidden but checks nothing")
        if hidden(cell) and re.search(r"\b(report|plots)\.", cell.source):
            problems.append(f"cell {i + 1} is hidden but shows or publishes something")
        if not calls:
            continue
        found += len(calls)
        if not hidden(cell):
            problems.append(f"cell {i + 1} checks a claim in view of the reader: tag it {pages.CHECK_TAG!r}")
        above = i - 1
        while above >= 0 and nb_cells[above].cell_type == "code" and hidden(nb_cells[above]):
            above -= 1
        prose = nb_cells[above].source if above >= 0 and nb_cells[above].cell_type == "markdown" else ""
        for call in calls:
            sentence, holds = call.args[0], call.args[1]
            if not (isinstance(sentence, ast.Constant) and isinstance(sentence.value, str)):
                problems.append(f"cell {i + 1}: the sentence must be a plain string quoted from the prose")
            elif pages.sentence_span(sentence.value, prose) is None:
                problems.append(f"cell {i + 1}: {sentence.value!r} is not in the Markdown cell right above")
            if not any(isinstance(n, ast.Name) for n in ast.walk(holds)) or isinstance(holds, ast.Constant):
                problems.append(f"cell {i + 1}: the check of {ast.unparse(sentence)} cannot fail: "
                                f"{ast.unparse(holds)}")
    assert found > 0 and problems == [], f"{source.name}: " + "; ".join(problems)


def test_a_word_list_with_another_alphabet_gets_its_own_vocabulary_through_chapter_2(tmp_path):
    """Accented names: 30 tokens, not the lecture's 27. Chapter 2's expected first loss, its
    shapes and its prose follow the list; nothing of the lecture's 27 stands in for it."""
    import math
    names = [w for w in (REPO / "data" / "names.txt").read_text().split() if len(w) > 3][:400]
    accented = [w.replace("e", "é", 1) if i % 3 == 0 else w.replace("a", "ä", 1) if i % 3 == 1
                else w.replace("n", "ñ", 1) for i, w in enumerate(names)]
    words = tmp_path / "accented.txt"
    words.write_text("\n".join(accented) + "\n", encoding="utf-8")
    vocab = len(set("".join(accented))) + 1
    assert vocab == 30
    r = run_python([str(REPO / "chapters" / "02_init.py"), "--data", str(words), "--quick"],
                   {"MAKEMORE_FIGURES": str(tmp_path / "figures")}, cwd=tmp_path, timeout=300)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert f"init/vocab_size = {vocab}\n" in r.stdout
    assert f"init/ln_vocab = {math.log(vocab):.4f}\n" in r.stdout
    assert "3.2958" not in r.stdout                      # ln 27, the lecture's vocabulary
    assert SUMMARY.search(r.stdout)                      # it ran to its end; sentences about the book's list may warn


# ---------------------------------------------------------------- a reader's own knobs

VALUE = re.compile(r"^(?P<name>[A-Za-z0-9_][A-Za-z0-9_./-]*) = (?P<text>.*)$", re.M)
KNOBS = ["batch_size=64", "n_hidden=32"]
TIMED = re.compile(r"_us$|_seconds$|loop_vs_|_vs_autograd$")   # wall-clock timings: they differ between any two runs
KNOBS_NOTE = "your knobs: n_hidden=32, batch_size=64 (book: n_hidden=64, batch_size=32)"


def _published(stdout: str) -> dict:
    return {m["name"]: m["text"] for m in VALUE.finditer(stdout) if "/" in m["name"]}


def _run_with_knobs(tmp_path):
    return run_python([str(REPO / "chapters" / "05_backprop.py"), "--set", *KNOBS],
                      {"MAKEMORE_QUICK": "1", "MAKEMORE_FIGURES": str(tmp_path / "figures"),
                       "ATEN_CPU_CAPABILITY": SCRIPT_KERNELS}, cwd=tmp_path)


@pytest.mark.parametrize("chapter_run", ["05_backprop"], indirect=True)
def test_set_changes_the_numbers_and_every_output_says_whose_knobs_they_are(chapter_run, tmp_path):
    r = _run_with_knobs(tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    mine, book = _published(r.stdout), _published(chapter_run["stdout"])
    assert mine.keys() == book.keys()
    differ = [k for k in book if mine[k] != book[k]]
    assert len(differ) >= 3, f"--set {' '.join(KNOBS)} changed only {differ}"
    stamp = r.stdout.splitlines()[0]
    assert stamp.endswith(f"; {KNOBS_NOTE}") and KNOBS_NOTE not in chapter_run["stdout"]
    runs = [line for line in r.stdout.splitlines() if line.startswith("**") and "steps): train" in line]
    assert runs and all(line.endswith(f"[{KNOBS_NOTE}]") for line in runs), runs
    assert SUMMARY.search(r.stdout)[0].endswith(f"({KNOBS_NOTE}; the prose describes the book's)")
    figures = sorted((tmp_path / "figures" / "05_backprop").rglob("*.png"))
    assert figures and all("--n_hidden=32--batch_size=64" in f.name for f in figures), [f.name for f in figures]


@pytest.mark.parametrize("items, problem", [
    (["n_layers=10"], "--set: no knob 'n_layers'"),
    (["batch_size=big"], "--set batch_size='big': batch_size takes a whole number above 0"),
])
def test_a_knob_the_chapter_lacks_or_a_bad_value_is_refused_in_one_line(tmp_path, items, problem):
    r = run_python([str(REPO / "chapters" / "05_backprop.py"), "--set", *items],
                   {"MAKEMORE_QUICK": "1", "MAKEMORE_FIGURES": str(tmp_path)}, cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.splitlines() == [f"error: {problem}; the knobs of 05_backprop (book values) are "
                                     f"block_size=3, n_embd=10, n_hidden=64, batch_size=32"]


def test_papermill_on_the_paired_notebook_gives_the_numbers_of_set(tmp_path):
    import nbformat
    from makemore_lib import report

    notebook = tmp_path / "05_backprop.ipynb"       # the README's route: jupytext, then papermill -p
    r = run_python(["-m", "jupytext", "--to", "ipynb", "--set-kernel", "python3", "-o", str(notebook),
                    str(REPO / "chapters" / "05_backprop.py")])
    assert r.returncode == 0, r.stderr[-2000:]
    script = _run_with_knobs(tmp_path)
    parameters = [arg for item in KNOBS for arg in ["-p", *item.split("=")]]
    r = run_python(["-m", "papermill", str(notebook), str(tmp_path / "out.ipynb"), *parameters,
                    "--cwd", str(tmp_path), "--no-progress-bar"],
                   {"MAKEMORE_QUICK": "1", "ATEN_CPU_CAPABILITY": SCRIPT_KERNELS}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    outputs = [out for cell in nbformat.read(tmp_path / "out.ipynb", as_version=4).cells for out in cell.get("outputs", [])]
    values = {out["data"][report.VALUE_MIME]["name"]: out["data"][report.VALUE_MIME]["text"]
              for out in outputs if report.VALUE_MIME in out.get("data", {})}
    untimed = lambda published: {k: v for k, v in published.items() if not TIMED.search(k)}
    assert script.returncode == 0 and len(untimed(values)) > 30 and untimed(values) == untimed(_published(script.stdout))
    stamp = next(out["data"]["text/plain"] for out in outputs if "How this page was computed" in out.get("data", {}).get("text/plain", ""))
    assert KNOBS_NOTE in stamp


# ---------------------------------------------------------------- explorable figures

DIRECT = '''
import sys
import torch
import torch.nn.functional as F
from makemore_lib import data, layers, models, plots, settings, train

D = data.load_splits(settings.DEFAULT_DATA)
V = D.vocab_size
tanh_outs = lambda m: [l.out for l in m.layers if isinstance(l, layers.Tanh)]


def at_gain(gain):                       # chapter 4: the network without BatchNorm, one pass at lr 0
    g = torch.Generator().manual_seed(settings.SEED)
    m = models.deep_mlp(V, batchnorm=False, gain=gain, generator=g)
    m.retain_grads = True
    train.train(m, D.Xtr, D.Ytr, 1, g, lr=train.lr_schedule(0.0, 0.0), ud_every=None)
    return tanh_outs(m)


figure = sys.argv[1]
if figure == "gain":
    lim = 4 * max(t.grad.std().item() for t in at_gain(5 / 3))
    plots.plot_layer_histograms({f"layer {i + 1}": t for i, t in enumerate(at_gain(3.0))},
                                title="No BatchNorm at initialization, gain 3", grad_lim=lim)
elif figure == "step":                   # chapter 4: the BatchNorm network trained 100 steps from the start
    g = torch.Generator().manual_seed(settings.SEED)
    m = models.deep_mlp(V, generator=g)
    m.retain_grads = True
    r = train.train(m, D.Xtr, D.Ytr, 100, g, lr=train.lr_schedule(0.1), ud_every=1)
    mats = [(name, p) for name, p in m.named_parameters() if p.ndim == 2]
    keep = [j for j, (_, p) in enumerate(m.named_parameters()) if p.ndim == 2]
    names = [("C" if k == 0 else f"W{k}") + f" {tuple(p.shape)}" for k, (_, p) in enumerate(mats)]
    plots.plot_training_snapshot({f"layer {i + 1}": a for i, a in enumerate(tanh_outs(m))},
                                 torch.tensor(r.ud)[:, keep].tolist(), names, steps=1000,
                                 title="BatchNorm network, lr 0.1, after 100 steps")
else:                                    # chapter 2: the first minibatch at W1 scale 0.5
    g = torch.Generator().manual_seed(settings.SEED)
    model = models.MLP(V, init="kaiming", w1_scale=0.5, generator=g)
    ix = torch.randint(0, D.Xtr.shape[0], (32,), generator=g)
    with torch.no_grad():
        loss = F.cross_entropy(model(D.Xtr[ix]), D.Ytr[ix]).item()
    plots.plot_tanh_units(model.h, title=f"W1 scale 0.5: loss at initialization {loss:.3f}")
'''


@pytest.mark.parametrize("chapter_run, figure, frame", [
    ("04_deep_mlp", "gain", "*-tanh-gain-explorer/gain-3.png"),
    ("04_deep_mlp", "step", "*-training-step-explorer/after-100-steps.png"),
    ("02_init", "w1", "*-w1-scale-explorer/w1-scale-0-5.png"),
], indirect=["chapter_run"], ids=["ch4-gain-3", "ch4-step-100", "ch2-w1-scale-0.5"])
def test_a_slider_frame_is_the_figure_computed_directly_at_its_value(chapter_run, figure, frame, tmp_path):
    """One frame of each explorable figure against the figure drawn from scratch at that value with
    the library alone (a fresh network, its own training run), on the chapter run's CPU kernels."""
    stem = Path(chapter_run["chapter"]).stem
    saved = list((Path(chapter_run["figures"]) / stem).glob(frame))
    assert len(saved) == 1, f"{chapter_run['chapter']} saved no frame {frame}"
    r = run_python(["-c", DIRECT, figure], {"MAKEMORE_FIGURES": str(tmp_path),
                                             "ATEN_CPU_CAPABILITY": os.environ.get("ATEN_CPU_CAPABILITY", SCRIPT_KERNELS)})
    assert r.returncode == 0, r.stderr[-2000:]
    direct = list(tmp_path.rglob("*.png"))
    assert len(direct) == 1 and direct[0].read_bytes() == saved[0].read_bytes(), \
        f"the frame {saved[0].name} differs from the figure computed directly at its value"
