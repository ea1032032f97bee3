"""Notes that cite the book (makemore_lib/book/notes.py, glued in by docs/hooks/book.py).

The unit tests feed notes.py hand-made notebooks; the build tests build a tiny book (one
chapter of three cells, one note) in tmp_path, as tests/test_site.py does, so each build
takes seconds; the real book's note (docs/notes/hockey-stick.md) is built by test_site's
session build and opened in the browser by test_browser.py.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from makemore_lib import plots, report
from makemore_lib.book import notes

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- notebooks by hand

def _nb(*cells):
    return json.loads(nbformat.writes(nbformat.v4.new_notebook(cells=list(cells))))


def _output_cell(*outputs):
    cell = nbformat.v4.new_code_cell("pass")
    cell.outputs = [nbformat.v4.new_output("display_data", data=data, metadata=meta) for data, meta in outputs]
    return cell


PNG = base64.b64encode(b"\x89PNG fake").decode()


def _run(experiment, val, key=None):
    return {report.RUN_MIME: report.run_record(experiment, 2000, 2.5, val, key)}, {}


def _value(name, text):
    return {report.VALUE_MIME: {"name": name, "text": text, "fmt": ""}}, {}


def _figure(title):
    return {"image/png": PNG}, {plots.FIGURE_META: {"name": plots._slug(title), "title": title}}


@pytest.fixture
def citable():
    return notes.collect([
        ("02_init", _nb(nbformat.v4.new_markdown_cell("# Chapter 2\n\n## The loss at initialization"),
                        _output_cell(_value("init/loss0", "27.8812")),
                        _output_cell(_figure("the hockey stick: first 2,000 steps")),
                        nbformat.v4.new_markdown_cell("## The loss log"),
                        _output_cell(_run("MLP, original init", 2.1750, key="mlp/original"),
                                     _figure("hpreact at init, original"), _figure("hpreact at init, tanh fixed")))),
        ("04_deep_mlp", _nb(_output_cell(_run("deep MLP with BatchNorm (5 x 100)", 2.0727)))),
    ])


def test_every_run_and_published_value_is_citable_by_a_stable_name(citable):
    values = {name: v.text for name, v in citable.values.items()}
    assert values["init/loss0"] == "27.8812"
    assert values["mlp/original.val"] == "2.1750" and values["mlp/original.train"] == "2.5000"
    assert values["mlp/original.steps"] == "2,000"
    assert values["mlp/original.lecture_val"] == "2.1682"             # the lecture's own precision
    assert values["04_deep_mlp/deep-mlp-with-batchnorm-5-x-100.val"] == "2.0727"   # no key: chapter + slug
    assert "04_deep_mlp/deep-mlp-with-batchnorm-5-x-100.lecture_val" not in values
    assert citable.values["mlp/original.val"].section == "The loss log"
    assert citable.problems == []


def test_a_value_recorded_twice_is_a_problem_not_a_silent_overwrite():
    found = notes.collect([("02_init", _nb(_output_cell(_value("x", "1")))),
                           ("03_batchnorm", _nb(_output_cell(_value("x", "2"))))])
    assert found.values["x"].text == "1"
    assert len(found.problems) == 1 and "chapters/03_batchnorm.py" in found.problems[0] and "'x'" in found.problems[0]


def test_a_citation_renders_the_value_and_changes_with_the_record(citable):
    text = "BatchNorm got val {{ value mlp/original.val }}, first loss {{value init/loss0}}.\n"
    out, errors = notes.render(text, citable, "docs/notes/n.md", lambda f: f.uri)
    assert out == "BatchNorm got val 2.1750, first loss 27.8812.\n" and errors == []
    changed = notes.collect([("02_init", _nb(_output_cell(_run("MLP, original init", 2.3001, key="mlp/original"))))])
    assert notes.render(text, changed, "n", lambda f: f.uri)[0].startswith("BatchNorm got val 2.3001,")


def test_citations_in_code_are_left_alone(citable):
    text = ("Inline `{{ value nothing }}` stays.\n"
            "```jinja\n{{ value nothing }} {% if x %}{{ figure a/b }}{% endif %}\n```\n"
            "~~~~make\n%.o: %.c  # {{ value nothing }}\n~~~~\n"
            "But {{ value init/loss0 }} is cited.\n")
    out, errors = notes.render(text, citable, "n", lambda f: f.uri)
    assert errors == []
    assert out == text.replace("But {{ value init/loss0 }}", "But 27.8812")
    assert [c.line for c in notes.citations(text)[0]] == [8]


def test_an_indented_code_block_is_code_but_the_body_of_an_admonition_or_a_list_item_is_prose(citable):
    text = ("Prose {{ value init/loss0 }}.\n"
            "\n"
            "    {{ value nothing }}   # an indented code block\n"
            "\n"
            '!!! tip "In a box"\n'
            "    boxed {{ value init/loss0 }}\n"
            "\n"
            "        {{ value nothing }}   # code inside the box\n"
            "\n"
            "- an item\n"
            "\n"
            "    its second paragraph {{ value init/loss0 }}\n")
    out, errors = notes.render(text, citable, "n", lambda f: f.uri)
    assert errors == [] and out.count("27.8812") == 3 and out.count("{{ value nothing }}") == 2
    assert notes.code_lines(text) == {3, 8}


@pytest.mark.parametrize("piece", ["{{ value mlp/original.val }", "{{ valeu mlp/original.val }}",
                                   "{{ Value mlp/original.val }}", "{{ value {{ value init/loss0 }} }}",
                                   "{{ mlp/original.val }}"])
def test_anything_that_looks_like_a_citation_but_does_not_parse_is_one_message(citable, piece):
    text = f"# Title\n\nVal {piece} here.\n\n`{piece}` in code is fine.\n"
    out, errors = notes.render(text, citable, "docs/notes/n.md", lambda f: f.uri)
    assert len(errors) == 1 and errors[0].startswith("docs/notes/n.md, line 3: '{{"), errors
    assert errors[0].endswith("is not a citation; write {{ value NAME }} or {{ figure CHAPTER/NAME }}, in lower case")


def test_an_unknown_name_is_one_message_naming_note_line_and_nearest_names(citable):
    text = "# Title\n\nok {{ value init/loss0 }}\nval {{ value mlp/orignal.val }} and {{ figure 02_init/hockey }}\n"
    out, errors = notes.render(text, citable, "docs/notes/n.md", lambda f: f.uri, line_offset=3)
    assert errors == [
        "docs/notes/n.md, line 7: no value named 'mlp/orignal.val' "
        "(nearest: mlp/original.val, mlp/original.train, mlp/original.lecture_val)",
        "docs/notes/n.md, line 7: no figure named '02_init/hockey' (nearest: 02_init/the-hockey-stick-first-2-000-steps, "
        "02_init/hpreact-at-init-original, 02_init/hpreact-at-init-tanh-fixed)",
    ]
    assert out.count('<mark class="makemore-missing">') == 2 and "ok 27.8812" in out


def test_a_figure_is_named_by_chapter_and_title_or_a_unique_prefix(citable):
    full = "02_init/the-hockey-stick-first-2-000-steps"
    assert notes.find_figure(citable, full).title == "the hockey stick: first 2,000 steps"
    assert notes.find_figure(citable, "02_init/the-hockey-stick") is citable.figures[full]
    assert "ambiguous" in notes.find_figure(citable, "02_init/hpreact-at-init")
    assert isinstance(notes.find_figure(citable, "02_init/the-hock"), str)   # a prefix ends at a word
    out, _ = notes.render("{{ figure 02_init/the-hockey-stick }}", citable, "n",
                          lambda f: notes.relative_src(f.uri, "notes/n.md"))
    assert out == "![the hockey stick: first 2,000 steps](../assets/figures/02_init/the-hockey-stick-first-2-000-steps.png)"
    assert citable.figures[full].png == b"\x89PNG fake"


def test_two_figures_of_one_title_get_distinct_names():
    found = notes.collect([("01_data", _nb(_output_cell(_figure("t"), _figure("t"))))])
    assert sorted(found.figures) == ["01_data/t", "01_data/t-2"]


def test_backlinks_list_the_notes_that_link_to_or_cite_a_chapter(citable):
    pages = {
        "notes/a.md": "# Note A\n\n[x](../chapters/02_init.ipynb#the-loss-log) and {{ figure 02_init/the-hockey-stick }}\n",
        "notes/b.md": "# Note B\n\n`[x](../chapters/02_init.ipynb)` only in code; {{ value 04_deep_mlp/deep-mlp-with-batchnorm-5-x-100.val }}\n",
        "index.md": "[chapter 2](chapters/02_init.ipynb) from a page that is not a note\n",
    }
    links = notes.backlinks(pages, citable, {"chapters/02_init.ipynb": "02_init", "chapters/04_deep_mlp.ipynb": "04_deep_mlp"})
    assert [(b.note_uri, b.note_title, b.anchors, b.sections) for b in links["02_init"]] == [
        ("notes/a.md", "Note A", ["the-loss-log"], ["The loss at initialization"])]
    assert [b.note_uri for b in links["04_deep_mlp"]] == ["notes/b.md"]
    html = notes.backlinks_html(links["02_init"], lambda uri: "../../notes/a/",
                                {"the-loss-at-initialization": "The loss at initialization", "the-loss-log": "The loss log"})
    assert '<a href="../../notes/a/">Note A</a>' in html
    assert '<a href="#the-loss-log">The loss log</a>, <a href="#the-loss-at-initialization">' in html
    assert notes.backlinks_html([], str, {}) == ""


def test_publish_refuses_a_name_with_spaces_and_formats_as_asked():
    report.publish("init/loss0", 3.29583, fmt=".2f")
    with pytest.raises(ValueError, match="not a value name"):
        report.publish("first loss", 1.0)


# ---------------------------------------------------------------- a tiny book, built

CHAPTER = '''# %% [markdown]
# # A tiny chapter
#
# ## The numbers

# %%
from makemore_lib import plots, report, settings
S = settings.load()
report.show_stamp(S)

# %%
report.record_run("tiny run", 10, 2.5, 2.71828)
report.publish("tiny/answer", ANSWER, fmt=".3f")

# %% [markdown]
# ## The picture

# %%
plots.plot_lines([0, 1], {"a": [0, 1]}, title="a straight line of 10 steps", xlabel="x", ylabel="y")
'''

NOTE = '''# My tiny note

Val {{ value 01_data/tiny-run.val }}, answer {{ value tiny/answer }}.

{{ figure 01_data/a-straight-line }}

See [the numbers](../chapters/01_data.ipynb#the-numbers).
'''


def _tiny_book(base: Path, answer: str = "1.23456", note: str = NOTE) -> Path:
    (base / "chapters").mkdir(parents=True, exist_ok=True)
    (base / "chapters" / "01_data.py").write_text(CHAPTER.replace("ANSWER", answer))
    docs = base / "docs"
    (docs / "notes").mkdir(parents=True, exist_ok=True)
    for shared in ("hooks", "javascripts", "stylesheets"):
        if not (docs / shared).exists():
            (docs / shared).symlink_to(ROOT / "docs" / shared)
    (docs / "index.md").write_text("# Tiny\n")
    (docs / "notes" / "n.md").write_text(note)
    config = (ROOT / "mkdocs.yml").read_text()
    config = config[:config.index("\nnav:")] + "\nnav:\n  - index.md\n  - chapters/01_data.ipynb\n  - notes/n.md\n"
    (base / "mkdocs.yml").write_text(config)
    return base / "mkdocs.yml"


def _env(cache: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEMORE_DATA", "MAKEMORE_CACHE")}
    env.update(MAKEMORE_QUICK="1", MAKEMORE_CACHE=str(cache), NO_MKDOCS_2_WARNING="1")
    return env


def _build(config: Path, cache: Path, strict: bool = True) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "mkdocs", "build", "-f", str(config), "-d", str(config.parent / "site")]
    return subprocess.run(args + (["--strict"] if strict else []), env=_env(cache), capture_output=True,
                          text=True, cwd=config.parent)


def _page(config: Path, uri: str) -> str:
    return (config.parent / "site" / uri / "index.html").read_text(encoding="utf-8")


def _errors(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny book built once (its chapter executed once); tests that change it copy the cache."""
    base = tmp_path_factory.mktemp("tinybook")
    config, cache = _tiny_book(base), base / "cache"
    proc = _build(config, cache)
    assert proc.returncode == 0 and "WARNING" not in proc.stderr, proc.stderr[-3000:]
    cold = float(re.findall(r"Documentation built in ([\d.]+) seconds", proc.stderr)[-1])
    return config, cache, cold          # cold: the build that executed the chapter, in seconds


def test_a_note_shows_the_cited_values_and_figure_of_the_build(tiny):
    config, cache, _ = tiny
    page = _page(config, "notes/n")
    assert "Val 2.7183, answer 1.235." in page
    [src] = re.findall(r'<img alt="a straight line of 10 steps" src="([^"]+)"', page)
    assert src == "../../assets/figures/01_data/a-straight-line-of-10-steps.png"
    [entry] = (cache / "chapters").glob("01_data.quick.*.ipynb")
    [png] = [out["data"]["image/png"] for c in nbformat.read(entry, as_version=4).cells
             for out in c.get("outputs", []) if "image/png" in out.get("data", {})]
    assert (config.parent / "site" / "assets" / "figures" / "01_data" / "a-straight-line-of-10-steps.png"
            ).read_bytes() == base64.b64decode(png)


def test_the_chapter_page_ends_with_its_backlinks(tiny):
    config, _, _ = tiny
    page = _page(config, "chapters/01_data")
    [section] = re.findall(r'<section class="makemore-backlinks">(.*?)</section>', page, re.S)
    assert '<a href="../../notes/n/">My tiny note</a>' in section
    assert '<a href="#the-numbers">The numbers</a>' in section and '<a href="#the-picture">The picture</a>' in section
    assert page.index("makemore-backlinks") > page.rindex("jupyter-wrapper")   # at the end of the page
    assert 'id="the-picture"' in page and 'id="the-numbers"' in page


def test_the_cited_value_changes_when_the_chapter_re_executes(tiny, tmp_path):
    config, cache, _ = tiny
    shutil.copytree(cache, tmp_path / "cache")
    changed = _tiny_book(tmp_path, answer="2.5")
    proc = _build(changed, tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "executing chapters/01_data.py" in proc.stderr
    assert "answer 2.500." in _page(changed, "notes/n")


def test_a_malformed_citation_and_a_note_that_is_not_utf8_each_fail_the_strict_build_with_one_line(tiny, tmp_path):
    _, cache, _ = tiny
    config = _tiny_book(tmp_path, note=NOTE.replace("{{ value tiny/answer }}", "{{ Value tiny/answer }}"))
    proc = _build(config, cache)
    assert proc.returncode != 0 and _errors(proc) == [
        "ERROR   -  docs/notes/n.md, line 3: '{{ Value tiny/answer }}' is not a citation; write "
        "{{ value NAME }} or {{ figure CHAPTER/NAME }}, in lower case"], proc.stderr
    (tmp_path / "docs" / "notes" / "n.md").write_bytes(NOTE.encode() + "caf\u00e9\n".encode("latin-1"))
    proc = _build(config, cache)
    assert proc.returncode != 0 and _errors(proc) == [
        f"ERROR   -  docs/notes/n.md: not UTF-8 (bad byte at line {NOTE.count(chr(10)) + 1}); save it as UTF-8"], proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_unknown_name_fails_the_strict_build_with_one_line(tiny, tmp_path):
    _, cache, _ = tiny
    note = "---\ntitle: front matter shifts lines\n---\n" + NOTE.replace("tiny/answer", "tiny/anser")
    config = _tiny_book(tmp_path, note=note)
    proc = _build(config, cache)
    assert proc.returncode != 0
    assert "executing" not in proc.stderr                 # citing never re-executes a chapter
    [error] = _errors(proc)
    assert error.startswith("ERROR   -  docs/notes/n.md, line 6: no value named 'tiny/anser' (nearest: tiny/answer, "), error
    assert len(error.split("nearest: ")[1].split(", ")) == 3


def test_without_strict_the_same_line_is_logged_and_shown_on_the_page(tiny, tmp_path):
    """`mkdocs serve` builds without --strict: the build goes on, the message is on the page."""
    _, cache, _ = tiny
    config = _tiny_book(tmp_path, note=NOTE.replace("01_data/a-straight-line", "01_data/a-crooked-line"))
    proc = _build(config, cache, strict=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    [error] = _errors(proc)
    message = error.split("-  ", 1)[1]
    assert message.startswith("docs/notes/n.md, line 5: no figure named '01_data/a-crooked-line' (nearest: 01_data/a-straight")
    page = _page(config, "notes/n")
    assert f'<mark class="makemore-missing">{message.replace(chr(39), "&#x27;")}</mark>' in page
    assert "answer 1.235" in page


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode("utf-8")


def test_mkdocs_serve_keeps_serving_a_note_with_an_unknown_name_and_re_renders_it_fast(tiny, tmp_path):
    _, cache, cold = tiny
    config = _tiny_book(tmp_path, note=NOTE.replace("tiny/answer", "tiny/anser"))
    port = _free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "mkdocs", "serve", "-f", str(config), "-a", f"127.0.0.1:{port}"],
                                env=_env(cache), cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/notes/n/"
        deadline = time.time() + 90
        while "Serving on" not in log_path.read_text() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, log_path.read_text()
        assert "no value named &#x27;tiny/anser&#x27;" in _get(url)
        assert "ERROR   -  docs/notes/n.md, line 3: no value named 'tiny/anser'" in log_path.read_text()

        note = tmp_path / "docs" / "notes" / "n.md"
        note.write_text(NOTE)                                              # the reader fixes the note
        # the page is written before the rebuild logs its time: wait for both. The watcher starts
        # in its own thread and may not see a write made as the server comes up: save again
        # every 10 s until it does, as a reader would.
        def rebuilt():
            return ("answer 1.235" in _get(url)
                    and len(re.findall(r"Documentation built in", log_path.read_text())) >= 2)
        saved = time.time()
        while not rebuilt() and proc.poll() is None and time.time() < deadline:
            if time.time() - saved > 10:
                note.write_text(NOTE)
                saved = time.time()
            time.sleep(0.2)
        assert proc.poll() is None and "answer 1.235" in _get(url), log_path.read_text()
        built = re.findall(r"Documentation built in ([\d.]+) seconds", log_path.read_text())
        print(f"mkdocs serve: rebuild after saving the note {built[-1]} s; the cold build {cold} s")
        assert len(built) >= 2 and float(built[-1]) < cold / 2      # a ratio: the machine may be loaded
        assert "executing" not in log_path.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
