"""The workbook: a chapter with its solutions blanked, for the reader to fill in.

A chapter marks the code a reader is asked to write as code cells tagged "solution"
(jupytext percent format: a header line `# %% tags=["solution"]`), and so is any cell that
shows or uses a finished solution (a `report.show_source` of the library's backward pass, a
call of it). `make_workbook` keeps the chapter text byte for byte except inside those cells,
where every assignment statement, at any depth (also inside a function), becomes
`target = ...  # TODO` (a shape comment that ended the statement's last line is kept after
the TODO), and every expression statement (a call such as `report.show_source(f)`; a
docstring stays) becomes `...  # TODO`, so nothing it would show or compute survives.
Lines that are neither (a `def`, a `return`, comments) stay, so the cell still runs and
hands back `...` wherever a gradient is missing.

    make_workbook(source: str) -> str     deterministic: the same chapter gives the same text
    has_solutions(source: str) -> bool

Assignment targets must be names (or tuples of names): anything else in a solution cell raises
WorkbookError naming the line, since blanking `x[i] = ...` could not run.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

from .chapters import SOLUTION_TAG, ChapterFormatError, percent_cells

PLACEHOLDER = "...  # TODO"


class WorkbookError(ValueError):
    """A solution cell the generator cannot blank safely."""


def _solution_cells(text: str):
    try:
        return [c for c in percent_cells(text) if c.kind == "code" and SOLUTION_TAG in c.tags]
    except ChapterFormatError as exc:
        raise WorkbookError(str(exc)) from None


def has_solutions(source: str) -> bool:
    """True if the chapter has at least one code cell tagged "solution"."""
    return bool(_solution_cells(source))


def _target_text(target: ast.expr, where: str) -> str:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Name) for e in target.elts):
        return ", ".join(e.id for e in target.elts)
    raise WorkbookError(f"{where}: a solution may only assign to names, not {ast.unparse(target)!r}")


def _placeholder(node: ast.stmt, where: str) -> str:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    texts = [_target_text(t, where) for t in targets]
    value = PLACEHOLDER
    if isinstance(targets[0], (ast.Tuple, ast.List)):   # a, b = ..., ...  keeps the unpacking valid
        value = ", ".join(["..."] * len(targets[0].elts)) + "  # TODO"
    return " = ".join(texts) + " = " + value


def _blank_cell(body: list[str], first_line: int) -> list[str]:
    """The cell's lines with each assignment statement replaced by its placeholder line."""
    code = "".join(body)
    try:
        tree = ast.parse(code)
    except SyntaxError as e:
        raise WorkbookError(f"line {first_line + (e.lineno or 1)}: solution cell does not parse: {e.msg}") from None
    out = list(body)
    statements = [n for n in ast.walk(tree) if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign))
                  or (isinstance(n, ast.Expr) and not isinstance(n.value, ast.Constant))]
    for node in sorted(statements, key=lambda n: n.lineno, reverse=True):
        where = f"line {first_line + node.lineno}"
        first, last = node.lineno - 1, node.end_lineno - 1
        indent = body[first][: len(body[first]) - len(body[first].lstrip())]
        if node.col_offset != len(indent.encode()):
            raise WorkbookError(f"{where}: put each statement of a solution on its own line")
        newline = "\r\n" if body[last].endswith("\r\n") else ("\n" if body[last].endswith("\n") else "")
        if isinstance(node, ast.Expr):         # a call shows or computes the solution: none of it stays
            out[first:last + 1] = [indent + PLACEHOLDER + newline]
            continue
        tail = body[last].encode()[node.end_col_offset:].decode().strip()   # ast offsets count UTF-8 bytes
        if tail.startswith("# TODO"):          # already a placeholder: blanking is idempotent
            tail = tail[len("# TODO"):].strip()
        comment = "  " + tail if tail.startswith("#") else ""
        out[first:last + 1] = [indent + _placeholder(node, where) + comment + newline]
    return out


def make_workbook(source: str) -> str:
    """The chapter with every assignment in its solution cells replaced by `name = ...  # TODO`
    and every expression statement there by `...  # TODO`."""
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    pos = 0
    for cell in _solution_cells(source):
        out += lines[pos:cell.start]
        out += _blank_cell(lines[cell.start:cell.end], cell.start)
        pos = cell.end
    out += lines[pos:]
    return "".join(out)


def main(argv: list[str] | None = None) -> None:
    """python -m makemore_lib.book.workbook CHAPTER.py > WORKBOOK.py"""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.exit("usage: python -m makemore_lib.book.workbook CHAPTER.py > WORKBOOK.py")
    try:
        text = Path(args[0]).read_text(encoding="utf-8")
    except OSError as exc:
        sys.exit(f"error: {args[0]}: {exc.strerror}")
    sys.stdout.write(make_workbook(text))


if __name__ == "__main__":
    main()
