"""What a chapter file is: chapters/NN_slug.py in Jupytext's percent format.

    chapter_sources(chapters_dir)  the chapters, in order
    percent_cells(text)            every cell: its header line, its body's lines, its tags
    notebook_from_text(text)       the chapter as an un-executed notebook, the same bytes every time
    ipynb_text(text)               that notebook as .ipynb JSON (cached by the text)

A cell tagged SOLUTION_TAG (a header `# %% tags=["solution"]`) is code the reader is asked to
write: folded on the page, blanked in the workbook.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import jupytext

SOLUTION_TAG = "solution"
KERNEL = "python3"
_HEADER = re.compile(r"^# %%(?P<rest>.*)$")
_TAGS = re.compile(r"\btags=(\[[^\]]*\])")


class ChapterFormatError(ValueError):
    """A chapter file that cannot be read as percent-format cells."""


@dataclass
class Cell:
    header: int | None      # 0-based line of the `# %%` header; None for text before the first header
    start: int              # 0-based first line of the body
    end: int                # 0-based end of the body, exclusive
    kind: str               # "code", "markdown" or "raw"
    tags: list[str]


def _tags(rest: str, line: str) -> list[str]:
    found = _TAGS.search(rest)
    if not found:
        return []
    try:
        return list(json.loads(found[1]))
    except json.JSONDecodeError:
        raise ChapterFormatError(f"cannot read the tags of cell header {line!r}") from None


def percent_cells(text: str) -> list[Cell]:
    """The cells of a percent-format script, with the lines they span (the notebook's cells, in order)."""
    lines = text.splitlines(keepends=True)
    headers = [i for i, line in enumerate(lines) if _HEADER.match(line.rstrip("\r\n"))]
    cells = []
    if headers and any(l.strip() for l in lines[:headers[0]]):   # jupytext makes that text a cell of its own
        cells.append(Cell(None, 0, headers[0], "code", []))
    for h, end in zip(headers, headers[1:] + [len(lines)]):
        line = lines[h].rstrip("\r\n")
        rest = _HEADER.match(line)["rest"]
        kind = "markdown" if "[markdown]" in rest else "raw" if "[raw]" in rest else "code"
        cells.append(Cell(h, h + 1, end, kind, _tags(rest, line)))
    return cells


def notebook_from_text(text: str):
    """A percent-format chapter as an un-executed notebook (nbformat v4), the same on every call:
    cell ids are numbered (nbformat would draw random ones) and the kernel is named."""
    nb = jupytext.reads(text, fmt="py:percent")
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    for i, cell in enumerate(nb.cells, start=1):
        cell.id = f"cell-{i}"
    return nb


@functools.lru_cache(maxsize=32)
def ipynb_text(text: str) -> str:
    """notebook_from_text as .ipynb JSON. Cached by the text: `mkdocs serve` rebuilds the
    downloads on every save of a note, and the chapters rarely change meanwhile."""
    return jupytext.writes(notebook_from_text(text), fmt="ipynb")


def notebook_from_source(source: Path):
    """The chapter file as an un-executed notebook."""
    return notebook_from_text(Path(source).read_text(encoding="utf-8"))


def chapter_sources(chapters_dir: Path) -> list[Path]:
    """chapters/NN_slug.py, in order."""
    return sorted(p for p in Path(chapters_dir).glob("*.py") if re.match(r"\d\d_", p.name))
