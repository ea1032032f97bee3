"""The workbook generator (makemore_lib/book/workbook.py) and the workbook of chapter 5: blank as generated,
it runs to the end and reports every exercise unfilled; filled with one wrong gradient, it names that gradient;
the chapter itself reports every gradient matching."""
import ast
import re

import jupytext

import pytest

from conftest import REPO, run_python
from makemore_lib.book import workbook as wb

CHAPTER = REPO / "chapters" / "05_backprop.py"


EXAMPLE = '''# %% [markdown]
# Exercise: compute dx = 2 * x.

# %%
x = 3.0  # given

# %% tags=["solution"]
dx = 2 * x  # (scalar)
dy = (x
      + 1)

# %% tags=["solution"]
def backward(x):
    dz = x * 4
    return [dz]

# %% tags=["solution", "other"]
da, db = 1, 2

# %%
print(dx, backward(x))
'''

EXPECTED = '''# %% [markdown]
# Exercise: compute dx = 2 * x.

# %%
x = 3.0  # given

# %% tags=["solution"]
dx = ...  # TODO  # (scalar)
dy = ...  # TODO

# %% tags=["solution"]
def backward(x):
    dz = ...  # TODO
    return [dz]

# %% tags=["solution", "other"]
da, db = ..., ...  # TODO

# %%
print(dx, backward(x))
'''


def test_a_marked_cell_is_blanked_and_everything_else_kept():
    assert wb.make_workbook(EXAMPLE) == EXPECTED


def test_generating_twice_gives_the_same_text_and_a_workbook_is_its_own_workbook():
    once = wb.make_workbook(EXAMPLE)
    assert wb.make_workbook(EXAMPLE) == once
    assert wb.make_workbook(once) == once


def test_has_solutions():
    assert wb.has_solutions(EXAMPLE)
    assert not wb.has_solutions(EXAMPLE.replace('tags=["solution"', 'tags=["exercise"'))
    assert not wb.has_solutions("# %% [markdown] tags=[\"solution\"]\n# text\n")


def test_unmarked_code_with_assignments_is_untouched():
    text = "# %%\na = 1\n\n# %% tags=[\"hide\"]\nb = 2\n"
    assert wb.make_workbook(text) == text


def test_a_solution_that_cannot_be_blanked_fails_loudly_naming_its_line():
    with pytest.raises(wb.WorkbookError, match="line 3: a solution may only assign to names"):
        wb.make_workbook('# %% tags=["solution"]\nx = [0]\nx[0] = 1\n')
    with pytest.raises(wb.WorkbookError, match="own line"):
        wb.make_workbook('# %% tags=["solution"]\nx = 1; y = 2\n')


def test_line_endings_are_kept():
    text = '# %% tags=["solution"]\r\ndx = 2  # (1,)\r\n# %%\r\nprint(1)\r\n'
    assert wb.make_workbook(text) == '# %% tags=["solution"]\r\ndx = ...  # TODO  # (1,)\r\n# %%\r\nprint(1)\r\n'


def test_a_solution_cell_that_shows_or_calls_a_solution_keeps_none_of_it():
    text = ('# %% tags=["solution"]\nreport.show_source(backprop.backward)\n\n\n'
            'def f(x):\n    """Kept: a docstring."""\n    print(backprop.embedding_backward(x,\n'
            '                                      x))  # gone\n    return x\n\n\n'
            'g = backprop.backward  # a comment\n# %%\nprint(1)\n')
    assert wb.make_workbook(text) == (
        '# %% tags=["solution"]\n...  # TODO\n\n\n'
        'def f(x):\n    """Kept: a docstring."""\n    ...  # TODO\n    return x\n\n\n'
        'g = ...  # TODO  # a comment\n# %%\nprint(1)\n')
    assert wb.make_workbook(wb.make_workbook(text)) == wb.make_workbook(text)
    with pytest.raises(wb.WorkbookError, match="line 2: put each statement of a solution on its own line"):
        wb.make_workbook('# %% tags=["solution"]\nprint(1); print(2)\n')


def solution_cells(text):
    """Read by Jupytext itself, not by the generator's parser."""
    return [c.source for c in jupytext.reads(text, fmt="py:percent").cells if "solution" in c.metadata.get("tags", [])]


def test_every_solution_line_of_chapter_5_is_blanked():
    source = CHAPTER.read_text(encoding="utf-8")
    workbook = wb.make_workbook(source)
    cells = solution_cells(workbook)
    assert len(cells) == len(solution_cells(source)) >= 7
    assigned = 0
    for body in cells:
        for node in ast.walk(ast.parse(body)):
            if isinstance(node, ast.Assign):
                assigned += 1
                values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]   # a, b = ..., ...
                assert all(isinstance(v, ast.Constant) and v.value is Ellipsis for v in values), ast.unparse(node)
    assert assigned >= 40
    # outside the solution cells the workbook is the chapter, byte for byte
    strip = lambda t: re.sub(r'(# %% tags=\["solution"\]\n)(.*?)(?=^# %%)', r"\1", t, flags=re.M | re.S)
    assert strip(workbook) == strip(source)


def _expressions(tree) -> set[str]:
    return {ast.unparse(node) for node in ast.walk(tree) if isinstance(node, ast.expr)}


def test_no_solution_of_any_exercise_survives_in_the_workbook():
    """Nothing a solution cell computes, shows or calls is left in the workbook: no right-hand side of a
    solution's assignments and no solution's call appears anywhere in it (compared as parsed code, so a
    reformatted copy counts too), no backward function of the library is shown, called or referred to,
    and train_manual is never left to its default, the library's finished backward."""
    source = CHAPTER.read_text(encoding="utf-8")
    workbook = wb.make_workbook(source)
    tree = ast.parse(workbook)
    left = _expressions(tree)
    solution_code = set()
    for body in solution_cells(source):
        for node in ast.walk(ast.parse(body)):
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and node.value is not None:
                solution_code.add(ast.unparse(node.value))
            elif isinstance(node, ast.Expr) and not isinstance(node.value, ast.Constant):
                solution_code.add(ast.unparse(node.value))
    assert len(solution_code) >= 25
    assert not solution_code & left, sorted(solution_code & left)
    code = "\n".join(c.source for c in jupytext.reads(workbook, fmt="py:percent").cells if c.cell_type == "code")
    for line in (l.strip() for body in solution_cells(source) for l in body.splitlines()):   # not even in a comment
        rhs = line.split(" = ", 1)[1].split("  #")[0].strip() if " = " in line else ""
        assert len(rhs) < 25 or rhs not in code, rhs     # a formula, not a name a docstring may mention
    backward_names = {name for name in dir(wb_backprop()) if name.endswith("backward")}
    assert {"backward", "embedding_backward", "batchnorm_backward"} <= backward_names
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "backprop":
            assert node.attr not in backward_names, f"the workbook uses backprop.{node.attr}: {ast.unparse(node)}"
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "backprop.train_manual":
            assert any(k.arg == "backward" for k in node.keywords), ast.unparse(node)
    shown = [ast.unparse(n) for n in ast.walk(tree)
             if isinstance(n, ast.Call) and ast.unparse(n.func) == "report.show_source"]
    assert shown and not any("backward" in s for s in shown), shown


def wb_backprop():
    from makemore_lib import backprop
    return backprop


SUMMARY = re.compile(r"^exercise (.+?): (\d+) gradients?: (\d+) exact, (\d+) approximate, (\d+) wrong, "
                     r"(\d+) not yet written$", re.M)


def run_quick(path, tmp_path):
    r = run_python([str(path)], {"MAKEMORE_QUICK": "1", "MAKEMORE_FIGURES": str(tmp_path / "figures")},
                   cwd=tmp_path, timeout=600)
    tail = "\n".join((r.stdout + r.stderr).splitlines()[-20:])
    assert r.returncode == 0 and "Traceback" not in r.stderr, f"{path.name} failed:\n{tail}"
    return r.stdout


def test_the_blank_workbook_runs_to_the_end_and_reports_every_exercise_unfilled(tmp_path):
    path = tmp_path / "05_backprop_workbook.py"
    path.write_text(wb.make_workbook(CHAPTER.read_text(encoding="utf-8")), encoding="utf-8")
    out = run_quick(path, tmp_path)
    summaries = SUMMARY.findall(out)
    assert [s[0] for s in summaries] == ["1", "2", "3"]
    for exercise, total, exact, approx, wrong, missing in summaries:
        assert (exact, approx, wrong) == ("0", "0", "0") and missing == total, exercise
    assert summaries[0][1] == "26"
    assert "waiting for a backward pass" in out and "nothing was trained" in out
    assert "exercise 4: no gradients to check yet" in out
    assert re.search(r"^backprop/autograd_us = \d+$", out, re.M), out[-2000:]   # the cells after exercise 4 ran too
    assert "backprop/loop_us = nan" in out and "backprop/vectorised_us = nan" in out
    # the verdicts the prose cites, in the words of the tables
    for name, text in [("ex1", "0 of 26 gradients written so far"), ("ex2", "not written yet"),
                       ("ex3", "not written yet"), ("ex4", "0 of 7 gradients written so far"),
                       ("ex1to3", "0 of 28 gradients written so far")]:
        assert f"backprop/{name}_verdict = {text}\n" in out, name


MANUAL_BACKWARD = re.compile(r'^# %% tags=\["solution"\]\ndef manual_backward\(.*?(?=^# %%)', re.M | re.S)
WARNING = re.compile(r'^warning: not borne out by this run \((?P<why>[^)]*)\): "(?P<claim>.*)" \((?P<numbers>.*)\)$', re.M)


def test_a_workbook_with_one_wrong_gradient_is_told_which_and_never_blamed_on_the_preview(tmp_path):
    """Exercise 4 filled in with the chapter's solution but dW1 32 times too large: the verdict the
    prose cites names W1, as the table does, and no warning lays the misses on the quick preview."""
    source = CHAPTER.read_text(encoding="utf-8")
    solution = MANUAL_BACKWARD.search(source).group(0)
    right = "    dW1 = embcat.T @ dhprebn "
    assert solution.count(right) == 1
    wrong = solution.replace(right, "    dW1 = 32 * (embcat.T @ dhprebn) ")
    workbook = wb.make_workbook(source)
    blank = wb.make_workbook(solution)
    assert blank != solution and workbook.count(blank) == 1
    path = tmp_path / "05_backprop_workbook.py"
    path.write_text(workbook.replace(blank, wrong), encoding="utf-8")
    r = run_python([str(path)], {"MAKEMORE_QUICK": "1", "MAKEMORE_FIGURES": str(tmp_path / "figures")},
                   cwd=tmp_path, timeout=600)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    out = r.stdout
    steps = [s for s in SUMMARY.findall(out) if s[0].startswith("4, step")]
    assert len(steps) == 3 and all(s[4] == "1" for s in steps), steps       # the table: W1 wrong at every step
    assert "backprop/ex4_verdict = 1 of 7 gradients wrong: W1\n" in out
    assert "trained 2,000 steps with the manual backward pass" in out
    assert "preview" not in r.stderr and "preview" not in out
    warnings = WARNING.findall(r.stderr)
    assert warnings and all(why == "quick mode" for why, _, _ in warnings), warnings
    named = [claim for _, claim, numbers in warnings if numbers == "1 of 7 gradients wrong: W1"]
    assert any("The verdict on exercise 4's `manual_backward`" in c for c in named), warnings
    assert any("within 0.02 of the lecture's" in claim and "1 of 7 gradients wrong: W1" in numbers
               for _, claim, numbers in warnings), warnings


@pytest.mark.kernels
@pytest.mark.parametrize("chapter_run", [CHAPTER.stem], indirect=True)
def test_the_chapter_itself_reports_every_gradient_matching(chapter_run):
    run = chapter_run                                      # the same run tests/test_chapters.py checks
    assert run["returncode"] == 0 and "Traceback" not in run["stderr"], run["stderr"][-2000:]
    out = run["stdout"]
    summaries = SUMMARY.findall(out)
    assert [s[0] for s in summaries] == ["1", "2", "3", "4, step 0", "4, step 1", "4, step 2"]
    for exercise, total, exact, approx, wrong, missing in summaries:
        assert (wrong, missing) == ("0", "0") and int(exact) + int(approx) == int(total), exercise
    assert "waiting for a backward pass" not in out and "trained 2,000 steps with the manual backward pass" in out
