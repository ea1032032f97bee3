"""makemore_lib/report.py: what a chapter shows besides figures, and the records the site build reads.

In a script every helper prints; in a kernel it hands IPython's display a Markdown text and,
for runs and published values, a record that the results page (docs/hooks/book.py) and the
notes (makemore_lib/book/notes.py) read back. The kernel is simulated: `ipykernel` in
sys.modules (what settings.in_notebook checks) and IPython's display replaced by a list.
"""
from __future__ import annotations

import ast
import hashlib
import inspect
import json
import sys
import textwrap
import types
from pathlib import Path

import markdown
import nbformat
import pytest

from conftest import NAMES, REPO
from makemore_lib import lecture, report, settings
from makemore_lib.book import execute, notes, pages

sys.path.insert(0, str(REPO / "docs" / "hooks"))   # the MkDocs hook is a file MkDocs loads, not a package
import book  # noqa: E402


def executed(shown_calls) -> dict:
    """The displays as a chapter's executed notebook stores them (one cell, through JSON, as in the cache)."""
    cell = nbformat.v4.new_code_cell("pass")
    cell.outputs = [nbformat.v4.new_output("display_data", data=obj, metadata=kw.get("metadata", {}))
                    for obj, kw in shown_calls]
    return json.loads(nbformat.writes(nbformat.v4.new_notebook(cells=[cell])))


# ---------------------------------------------------------------- record_run

def test_record_run_in_a_script_prints_one_line_with_four_decimals(script, capsys):
    rec = report.record_run("MLP, tiny", 12_000, 2.123456, 2.2, key=None)
    assert capsys.readouterr().out == "**MLP, tiny** (12,000 steps): train 2.1235, val 2.2000\n"
    assert rec == {"experiment": "MLP, tiny", "steps": 12_000, "train": 2.123456, "val": 2.2,
                   "key": None, "lecture_train": None, "lecture_val": None}


def test_record_run_with_a_lecture_key_shows_the_lectures_numbers_as_published(script, capsys):
    _, train, val = lecture.RESULTS["mlp/softmax_fixed"]
    rec = report.record_run("softmax fixed", 2000, 2.5, 2.6, key="mlp/softmax_fixed")
    assert (rec["lecture_train"], rec["lecture_val"]) == (train, val)
    assert capsys.readouterr().out.rstrip("\n").endswith(f"val 2.6000; lecture: train {train}, val {val}")


def test_a_key_the_lecture_does_not_have_is_refused_not_shown_as_none(script, capsys):
    with pytest.raises(ValueError, match="'mlp/kaiming_typo' is not a lecture run"):
        report.record_run("Kaiming", 2000, 2.5, 2.6, key="mlp/kaiming_typo")
    assert "None" not in capsys.readouterr().out


def test_a_recorded_run_is_what_the_results_page_and_the_notes_read(shown, monkeypatch):
    rec = report.record_run("Kaiming init", 2000, 2.123456, 2.17, key="mlp/kaiming")
    [(obj, kw)] = shown
    assert kw.get("raw") is True
    assert obj["text/markdown"] == obj["text/plain"] and obj["text/markdown"].startswith("**Kaiming init** (2,000 steps)")
    nb = executed(shown)
    assert execute.records(nbformat.reads(json.dumps(nb), as_version=4), report.RUN_MIME) == [rec]

    values = notes.collect([("02_init", nb)]).values
    assert {name: v.text for name, v in values.items()} == {
        "mlp/kaiming.steps": "2,000", "mlp/kaiming.train": "2.1235", "mlp/kaiming.val": "2.1700",
        "mlp/kaiming.lecture_train": "2.0377", "mlp/kaiming.lecture_val": str(lecture.RESULTS["mlp/kaiming"][2])}

    chapter = book.Chapter(Path("chapters/02_init.py"), Path("unused.ipynb"), "chapters/02_init.ipynb", runs=[rec])
    monkeypatch.setattr(book, "BOOK", types.SimpleNamespace(
        chapters=[chapter], settings=settings.Settings(quick=True, data_path=NAMES)))
    assert (f"| [02_init](chapters/02_init.ipynb) | Kaiming init | 2,000 | 2.1235 | 2.1700 "
            f"| 2.0377 | {lecture.RESULTS['mlp/kaiming'][2]} |") in book.results_table().splitlines()


# ---------------------------------------------------------------- publish

def test_publish_in_a_kernel_records_the_text_in_the_chosen_format_and_shows_it_as_plain_text(shown):
    assert report.publish("init/loss0", 3.295836866, fmt=".4f") is None   # nothing for Jupyter to echo
    [(obj, _)] = shown
    assert obj == {"text/plain": "init/loss0 = 3.2958",                   # Jupyter shows the line
                   report.VALUE_MIME: {"name": "init/loss0", "text": "3.2958", "fmt": ".4f"}}
    [value] = notes.collect([("02_init", executed(shown))]).values.values()
    assert (value.name, value.text, value.chapter) == ("init/loss0", "3.2958", "02_init")


def test_publish_in_a_script_prints_the_name_and_the_text(script, capsys):
    report.publish("batchnorm/val", 2.1, fmt=".3f")
    report.publish("runs", 12000, fmt=",")
    assert capsys.readouterr().out == "batchnorm/val = 2.100\nruns = 12,000\n"


@pytest.mark.parametrize("name", ["first loss", "", "-x", ".x", "a{b}", "loss\n"])
def test_publish_refuses_what_a_citation_cannot_name(script, name):
    with pytest.raises(ValueError, match="is not a value name"):
        report.publish(name, 1.0)


# ---------------------------------------------------------------- tables

def test_a_table_shows_floats_with_4_decimals_and_everything_else_as_given(script, capsys):
    report.show_table(["init", "loss", "steps", "note"], [["kaiming", 2.0377149, 2000, "1.5e-03"], ["zero", 3.0, 7, ""]])
    assert capsys.readouterr().out.splitlines() == [
        "| init | loss | steps | note |",
        "|---|---|---|---|",
        "| kaiming | 2.0377 | 2000 | 1.5e-03 |",
        "| zero | 3.0000 | 7 |  |"]


@pytest.mark.parametrize("header", [
    ["", "per-neuron mean", "per-neuron std", "tanh saturated (|h| > 0.99)"],      # chapters/03_batchnorm.py
    ["layer", "max |gradient of the output|"],                                   # chapters/04_deep_mlp.py
])
def test_a_table_renders_as_a_table_with_a_pipe_in_a_cell(header):
    html = markdown.markdown(report.table(header, [["|x|", *[1.5] * (len(header) - 1)]]), **pages.OUTPUT_MARKDOWN)
    assert html.count("<th>") == len(header) and html.count("<td>") == len(header), html
    assert "|h| &gt; 0.99" in html or "max |gradient" in html
    assert "<td>|x|</td>" in html


# ---------------------------------------------------------------- source and stamp

@pytest.mark.parametrize("obj", [report.table, settings.Settings.stamp, settings.Settings])
def test_show_source_prints_the_objects_own_source_dedented_under_its_name(script, capsys, obj):
    report.show_source(obj)
    header, code = capsys.readouterr().out.split("\n", 1)
    assert header == f"# {obj.__module__}.{obj.__qualname__}"
    assert code == textwrap.dedent(inspect.getsource(obj)).rstrip() + "\n\n"
    assert code.startswith(("def ", "class ", "@"))
    ast.parse(code)   # a method's source, dedented, is valid Python on its own


@pytest.mark.parametrize("obj", [report.table, settings.Settings])
def test_on_the_page_library_code_is_a_highlighted_code_block_not_a_literal_fence(shown, obj):
    report.show_source(obj)
    [(data, _)] = shown
    html = markdown.markdown(data["text/markdown"], **pages.OUTPUT_MARKDOWN)
    assert html.startswith('<div class="highlight"><pre>') and "```" not in html
    assert '<span class="k">def</span>' in html or '<span class="k">class</span>' in html


def test_the_stamp_names_mode_steps_data_and_its_hash(script, capsys, tmp_path):
    words, content = tmp_path / "words.txt", b"emma\nolivia\n"
    words.write_bytes(content)
    report.show_stamp(settings.Settings(quick=True, data_path=words))
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.startswith("mode: quick (2,000 steps per full training run), ")
    assert f"data: {words} (sha256 {hashlib.sha256(content).hexdigest()[:12]})" in out

    report.show_stamp(settings.Settings(quick=False, data_path=NAMES))
    out = capsys.readouterr().out
    assert "mode: full (200,000 steps" in out and "data: data/names.txt (sha256 " in out  # inside the repo: relative


def test_in_a_kernel_the_stamp_is_the_info_admonition_the_site_marks_as_the_stamp(shown):
    S = settings.Settings(quick=True, data_path=NAMES)
    report.show_stamp(S)
    [(obj, _)] = shown
    assert obj["text/markdown"] == f'!!! info "How this page was computed"\n    {S.stamp()}'
    page, problems = pages.page_notebook(nbformat.reads(json.dumps(executed(shown)), as_version=4),
                                         notes.Citable(), "chapters/02_init.py", quick=True)
    assert problems == [] and 'class="makemore-stamp"' in page.cells[0].outputs[0]["data"]["text/html"]
    assert "CPU kernels: " in S.stamp()
