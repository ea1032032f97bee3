"""Every chapter runs as a plain script in quick mode; a failure names the chapter and shows its last output.

The chapters' shape is checked without running them: prose in Markdown cells, no heading inside
code, every claims.check hidden in a cell of its own right below the sentence it quotes, and no
check that cannot fail.
"""
import ast
import os
import re

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
    ("04_deep_mlp", None, "--quik", "unknown option '--quik'; the options are --data PATH and --quick"),
    ("02_init", None, "--dat", "unknown option '--dat'; the options are --data PATH and --quick"),
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
