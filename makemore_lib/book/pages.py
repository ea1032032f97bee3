"""A chapter's page: the executed notebook as the site shows it.

    page_notebook(nb, citable, where, quick) -> (notebook, problems)

- every citation ({{ value NAME }}, {{ figure CHAPTER/NAME }}) in a Markdown cell is filled from
  what this build computed (makemore_lib.book.notes: one mechanism for chapters and notes);
- a sentence whose check (makemore_lib.claims, a cell tagged "remove-cell" right below it) does
  not hold is marked where it stands, with the numbers the check was decided on; the check cell
  itself stays in the notebook and mkdocs-jupyter's remove_tag_config leaves it out of the page;
- outputs meant for the build only (published values, check verdicts) are dropped, Markdown
  outputs (tables, library code) are rendered with the site's Markdown, the first admonition is
  the page's stamp, an explorable figure becomes a slider over its frames (files beside the
  figure's PNG, which the hook adds to the site), and solution cells are folded.

`problems` are one line each: a citation of nothing, a check that names no sentence of the
Markdown cell above it. The hook logs them as errors, which fail a strict build.
No MkDocs import here: the hook and the tests both use this module.
"""
from __future__ import annotations

import html
import json
import posixpath
import re
from pathlib import PurePosixPath

import markdown
import nbformat

from makemore_lib import claims, report

from . import notes
from .chapters import SOLUTION_TAG, percent_cells

CHECK_TAG = "remove-cell"          # the Jupyter Book tag; mkdocs.yml's remove_tag_config removes these cells
DOWNLOADS_TOKEN = "@@MAKEMORE_DOWNLOADS@@"
BUILD_ONLY = (report.VALUE_MIME, claims.CLAIM_MIME)   # outputs the prose shows instead
OUTPUT_MARKDOWN = dict(extensions=["admonition", "tables", "pymdownx.arithmatex", "pymdownx.superfences",
                                   "pymdownx.highlight"],
                       extension_configs={"pymdownx.arithmatex": {"generic": True}})


def page_notebook(nb, citable: notes.Citable, where: str, quick: bool, figure_src=None, source_text: str = ""):
    """The executed notebook `nb` as its page shows it, and the problems found (see the module).

    `where` names the chapter file (chapters/<stem>.py) in messages; with its text, `source_text`,
    they give the line of the .py a citation stands on. `figure_src(figure)` is a figure's
    address from the page."""
    nb = nbformat.from_dict(nb)   # a copy: the cache keeps the notebook as executed
    figure_src = figure_src or (lambda f: f"../../{f.uri}")
    problems = mark_claims(nb, where, quick)
    starts = [c.start for c in percent_cells(source_text)] if source_text else []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            offset = _first_line(cell.source, source_text, starts[i]) if len(starts) == len(nb.cells) else None
            label = where if offset is not None else f"{where}, cell {i + 1}"
            cell.source, errors = notes.render(cell.source, citable, label, figure_src, offset or 0)
            problems += errors
    render_outputs(nb, lambda name: frame_srcs(citable.figures[f"{PurePosixPath(where).stem}/{name}"], figure_src))
    nb.cells = fold_solutions(nb.cells)
    return nb, problems


def _first_line(cell_source: str, source_text: str, body_start: int) -> int | None:
    """The 0-based line of the .py where the Markdown cell's first line stands (jupytext drops
    the `# ` of each line and any blank lines before the text), or None if it cannot be found."""
    first = cell_source.splitlines()[0] if cell_source else ""
    for n, line in enumerate(source_text.splitlines()[body_start:body_start + 50], start=body_start):
        if line.removeprefix("#").removeprefix(" ") == first:
            return n
    return None


# ---------------------------------------------------------------- checks and their sentences

def verdicts(cell) -> list[dict]:
    """The check records (claims.CLAIM_MIME) a cell's outputs carry."""
    return [dict(out["data"][claims.CLAIM_MIME]) for out in cell.get("outputs", [])
            if claims.CLAIM_MIME in out.get("data", {})]


def sentence_span(sentence: str, text: str) -> tuple[int, int] | None:
    """Where `sentence` (whitespace normalised) stands in the Markdown `text`, or None."""
    words = sentence.split()
    if not words:
        return None
    m = re.search(r"\s+".join(map(re.escape, words)), text)
    return m.span() if m else None


def mark_claims(nb, where: str, quick: bool) -> list[str]:
    """Find each check's sentence in the Markdown cell right above its cell; mark it where the
    check failed (quick mode: the preview's numbers; full mode fails the build anyway)."""
    problems = []
    for i, cell in enumerate(nb.cells):
        records = verdicts(cell)
        if not records:
            continue
        if CHECK_TAG not in cell.metadata.get("tags", []):
            problems.append(f"{where}, cell {i + 1}: claims.check must stand in a cell tagged {CHECK_TAG!r}, "
                            f"which the page leaves out")
        above = i - 1
        while above >= 0 and nb.cells[above].cell_type == "code" and CHECK_TAG in nb.cells[above].metadata.get("tags", []):
            above -= 1
        prose = nb.cells[above] if above >= 0 and nb.cells[above].cell_type == "markdown" else None
        for record in records:
            span = sentence_span(record["claim"], prose.source) if prose is not None else None
            if span is None:
                problems.append(f"{where}, cell {i + 1}: the check of {record['claim']!r} names no sentence of "
                                f"the Markdown cell right above it; quote the sentence it guards")
            elif not record["holds"]:
                prose.source = mark(prose.source, span, record, quick)
    return problems


def mark(text: str, span: tuple[int, int], record: dict, quick: bool) -> str:
    """`text` with the sentence at `span` highlighted and, after its paragraph, a box saying
    which numbers do not bear it out."""
    start, end = span
    para_end = text.find("\n\n", end)
    para_end = len(text) if para_end < 0 else para_end
    numbers = f" ({html.escape(record['numbers'])})" if record.get("numbers") else ""
    if claims.preview_only(record):
        title = "In this quick preview"
        body = (f"This preview cut every training run to {claims.preview_share(record)} of its full length (the "
                f"lecture's {claims.FULL_STEPS:,} steps became {record['steps']:,}), and its numbers{numbers} do not bear "
                f"out the marked sentence. The publication build trains in full and fails if the sentence "
                f"does not hold there.")
    else:
        title = "Not borne out by this build"
        body = (f"The numbers of this build{numbers} do not bear out the marked sentence"
                + (" (it does not depend on the length of training)." if quick else "."))
    box = (f'\n\n<div class="admonition warning makemore-unsupported"><p class="admonition-title">{title}</p>'
           f"<p>{body}</p></div>\n\n")
    return (text[:start] + '<mark class="makemore-unsupported">' + text[start:end] + "</mark>"
            + text[end:para_end] + box + text[para_end:].lstrip("\n"))


# ---------------------------------------------------------------- outputs and solutions

def build_only(out) -> bool:
    """An output for the build, not the reader: a published value or a check's verdict."""
    return any(mime in out.get("data", {}) for mime in BUILD_ONLY)


def render_outputs(nb, frames_of) -> None:
    """Drop build-only outputs; render Markdown outputs as HTML; the first admonition is the stamp;
    an explorable figure (plots.show_explorable) becomes its slider, `frames_of(name)` giving the
    addresses of its frames (name: the figure's, notes.figure_name)."""
    stamped, seen = False, {}
    for cell in nb.cells:
        if cell.get("outputs"):
            cell.outputs = [out for out in cell.outputs if not build_only(out)]
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            name = notes.figure_name(out, seen)
            if report.EXPLORABLE_MIME in data:
                out["data"] = {"text/html": explorable_html(data[report.EXPLORABLE_MIME], frames_of(name))}
            elif "text/markdown" in data and "text/html" not in data:
                text = data.pop("text/markdown")
                rendered = markdown.markdown(text, **OUTPUT_MARKDOWN)
                if not stamped and text.startswith("!!! info"):  # report.show_stamp: the first admonition
                    rendered = (f'<div class="makemore-stamp">{rendered}'
                                f'<p class="makemore-downloads">{DOWNLOADS_TOKEN}</p></div>')
                    stamped = True
                data["text/html"] = rendered


def frame_srcs(figure: notes.Figure, figure_src) -> list[str]:
    """The address of each frame of an explorable figure from the page, beside the figure's own."""
    here, there = posixpath.dirname(figure_src(figure)), posixpath.dirname(figure.uri)
    return [posixpath.join(here, posixpath.relpath(figure.frame_uri(k), there)) for k in range(len(figure.frames))]


def explorable_html(record: dict, srcs: list[str]) -> str:
    """An explorable figure on the page: the book's frame as an image, a slider over the frames
    (files of the site, not inlined) and the current frame's label; docs/javascripts/explorable.js
    swaps the frames."""
    k, labels = record["initial"], record["labels"]
    attr = lambda v: html.escape(v if isinstance(v, str) else json.dumps(v), quote=True)
    return (f'<figure class="makemore-explorable" data-frames="{attr(srcs)}" data-labels="{attr(labels)}">'
            f'<img src="{attr(srcs[k])}" alt="{attr(record["title"])}">'
            f'<figcaption><input type="range" min="0" max="{len(srcs) - 1}" step="1" value="{k}" '
            f'aria-label="{attr(record["knob"])}" aria-valuetext="{attr(labels[k])}" '
            f'autocomplete="off">'   # no form restore on going back in the history: slider and image agree
            f'<output>{html.escape(labels[k])}</output></figcaption></figure>')


def fold_solutions(cells):
    """Wrap each run of cells tagged "solution" in a <details> that opens with one click."""
    folded, inside = [], False
    opening = '<details class="success solution"><summary>Solution</summary>'
    for cell in cells:
        is_solution = cell.cell_type == "code" and SOLUTION_TAG in cell.metadata.get("tags", [])
        if is_solution and not inside:
            folded.append(_raw_html(opening, f"solution-{len(folded)}-open"))
        if inside and not is_solution:
            folded.append(_raw_html("</details>", f"solution-{len(folded)}-close"))
        folded.append(cell)
        inside = is_solution
    if inside:
        folded.append(_raw_html("</details>", f"solution-{len(folded)}-close"))
    return folded


def _raw_html(text: str, cell_id: str):
    """A raw HTML cell with a fixed id: the same page notebook, byte for byte, on every build."""
    cell = nbformat.v4.new_raw_cell(text, metadata={"raw_mimetype": "text/html"})
    cell.id = cell_id
    return cell
