"""What a chapter shows besides figures: the run stamp, tables, and training-run records.

In a notebook (the site build) these display as Markdown; in a script they print as
plain text. `record_run` also attaches a machine-readable copy of the run under the
MIME type RUN_MIME, which the site build collects into the results page.
"""
from __future__ import annotations

from . import knobs, lecture
from .settings import in_notebook

# what the build reads from a chapter's outputs (makemore_lib.book.notes, docs/hooks/book.py)
RUN_MIME = "application/vnd.makemore.run+json"
VALUE_MIME = "application/vnd.makemore.value+json"
FIGURE_META = "makemore/figure"  # output metadata naming a figure on its page (plots.show)
EXPLORABLE_MIME = "application/vnd.makemore.explorable+json"  # a figure's frames over a knob (plots.show_explorable)


def show_markdown(text: str, extra: dict | None = None) -> None:
    if in_notebook():
        from IPython.display import display
        display({"text/markdown": text, "text/plain": text, **(extra or {})}, raw=True)
    else:
        print(text)


def show_source(obj) -> None:
    """Show the library's own code for `obj` (a function or class), never a pasted copy: a Python
    code block on the page (the build renders it highlighted), the plain source in a script."""
    import inspect
    import textwrap
    source = textwrap.dedent(inspect.getsource(obj)).rstrip()
    if in_notebook():
        show_markdown(f"```python\n{source}\n```")
    else:
        print(f"# {obj.__module__}.{obj.__qualname__}\n{source}\n")


def show_stamp(settings) -> None:
    """The first output of every chapter: mode, steps, dataset and its hash, torch, date."""
    if in_notebook():
        show_markdown(f'!!! info "How this page was computed"\n    {settings.stamp()}')
    else:
        print(settings.stamp())


def table(header: list[str], rows: list[list]) -> str:
    """A Markdown table; floats with 4 decimals. A `|` in a cell (|h|) is escaped: unescaped,
    it would split the cell and the whole table would render as a paragraph."""
    fmt = lambda v: (f"{v:.4f}" if isinstance(v, float) else str(v)).replace("|", "\\|")
    lines = ["| " + " | ".join(fmt(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def show_table(header: list[str], rows: list[list]) -> None:
    show_markdown(table(header, rows))


def run_record(experiment: str, steps: int, train_loss: float, val_loss: float, key: str | None = None) -> dict:
    """A training run as the results page stores it; `key` names the lecture's matching run."""
    if key and key not in lecture.RESULTS:
        raise ValueError(f"report.record_run: {key!r} is not a lecture run; lecture.RESULTS has {', '.join(lecture.RESULTS)}")
    ref = lecture.RESULTS[key] if key else None
    return {"experiment": experiment, "steps": steps, "train": train_loss, "val": val_loss,
            "key": key, "lecture_train": ref[1] if ref else None, "lecture_val": ref[2] if ref else None}


def record_run(experiment: str, steps: int, train_loss: float, val_loss: float, key: str | None = None) -> dict:
    """Show one run's train/val loss (beside the lecture's, when `key` names one) and record it."""
    rec = run_record(experiment, steps, train_loss, val_loss, key)
    lect = (f"; lecture: train {rec['lecture_train']}, val {rec['lecture_val']}"
            if key else "")
    mine = f" [{knobs.note()}]" if knobs.note() else ""
    text = f"**{experiment}** ({steps:,} steps): train {train_loss:.4f}, val {val_loss:.4f}{lect}{mine}"
    show_markdown(text, {RUN_MIME: rec})
    return rec


def publish(name: str, value, fmt: str = "") -> None:
    """Offer `value` to the prose as `{{ value NAME }}`, shown as format(value, fmt).

    The chapter chooses the precision once, here. A Markdown cell of any chapter, and any note,
    citing the name shows exactly this text, from the current build (the page drops this output:
    the sentence that cites it shows the number). A script prints `NAME = text`, so a reader of
    the script sees every number the prose cites; Jupyter shows the same line."""
    import re
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_./-]*", name):
        raise ValueError(f"report.publish: {name!r} is not a value name (letters, digits, _ . / - and no spaces)")
    text = format(value, fmt)
    line = f"{name} = {text}"
    if in_notebook():
        from IPython.display import display
        display({"text/plain": line, VALUE_MIME: {"name": name, "text": text, "fmt": fmt}}, raw=True)
    else:
        print(line)
