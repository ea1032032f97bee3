"""A chapter's knobs: the settings a reader may turn, declared once in the chapter's first code
cell, tagged `parameters` (papermill's convention), at the book's values:

    # %% tags=["parameters"]
    n_layers = 5
    gain = 5 / 3

A script turns them with `--set n_layers=10 gain=1.0`; papermill with `-p gain 1.0` on the
paired notebook (it adds a cell after the parameters cell). `chapter.begin(globals())` then
checks every knob against the type of its book value, applies `--set`, and remembers what
differs from the book, which the stamp, the run lines and the saved figures repeat. The site
is always built with the book's values (a kernel ignores `--set`).
"""
from __future__ import annotations

import re
from pathlib import Path

from .errors import SettingsError

CELL = re.compile(r"^# %% tags=\[\"parameters\"\]\n(.*?)(?=^# %%|\Z)", re.M | re.S)

_changed: dict[str, tuple] = {}   # name -> (value, book value) for the knobs this run turned


def declared(source: str) -> dict:
    """The book's knobs of a chapter's .py source: the names its `parameters` cell assigns."""
    match = CELL.search(source)
    return {} if match is None else _assigned(match.group(1))


def _assigned(cell: str) -> dict:
    namespace: dict = {}
    exec(compile(cell, "<parameters cell>", "exec"), {"__builtins__": {}}, namespace)
    return {k: v for k, v in namespace.items() if not k.startswith("_")}


def book_values(namespace: dict) -> dict:
    """The book's knobs of the chapter running in `namespace`: from its file in a script, from
    the first cell the kernel ran (the parameters cell) in Jupyter or papermill."""
    path = namespace.get("__file__")
    if path:
        return declared(Path(path).read_text(encoding="utf-8"))
    history = namespace.get("In") or []
    first = next((cell for cell in history if cell.strip()), "")
    try:
        return _assigned(first)
    except Exception:   # the first cell run was not the parameters cell: no knobs to compare
        return {}


def describe(book: dict) -> str:
    return ", ".join(f"{k}={_show(v)}" for k, v in book.items())


def _show(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def parse(text: str, name: str, book, chapter: str, book_knobs: dict):
    """`text` as a value of the type of `book`; SettingsError listing the chapter's knobs if it is not one."""
    kind = type(book)
    try:
        if kind is bool:
            lowered = text.strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return lowered in ("true", "1", "yes")
        if kind in (int, float):
            value = kind(text)
            if not value > 0:
                raise ValueError
            return value
        return kind(text)
    except ValueError:
        raise SettingsError(f"--set {name}={text!r}: {name} takes {_kind_name(kind)}; the knobs of {chapter} "
                            f"(book values) are {describe(book_knobs)}") from None


def _kind_name(kind) -> str:
    return {bool: "true or false", int: "a whole number above 0", float: "a number above 0"}.get(kind, "text")


def apply(namespace: dict, assignments: list[str], chapter: str) -> dict:
    """Check the knobs in `namespace` against the book's, apply `assignments` (NAME=VALUE) to it,
    and remember what differs. Returns {name: (value, book value)} of the turned knobs."""
    book = book_values(namespace)
    for item in assignments:
        name, sep, text = item.partition("=")
        if not sep or name not in book:
            what = f"no knob {name!r}" if sep else f"{item!r} is not NAME=VALUE"
            listed = f"the knobs of {chapter} (book values) are {describe(book)}" if book else f"{chapter} has no knobs"
            raise SettingsError(f"--set: {what}; {listed}")
        namespace[name] = parse(text, name, book[name], chapter, book)
    changed = {}
    for name, value in book.items():
        current = namespace.get(name, value)
        if isinstance(value, float) and isinstance(current, int) and not isinstance(current, bool):
            current = namespace[name] = float(current)
        if type(current) is not type(value) or (type(value) in (int, float) and not current > 0):
            raise SettingsError(f"{name}={current!r}: {name} takes {_kind_name(type(value))}; the knobs of "
                                f"{chapter} (book values) are {describe(book)}")
        if current != value:
            changed[name] = (current, value)
    _changed.clear()
    _changed.update(changed)
    return changed


def note() -> str:
    """'' for the book's settings, else 'your knobs: n_layers=10, gain=1 (book: n_layers=5, gain=1.667)'."""
    if not _changed:
        return ""
    mine = ", ".join(f"{k}={_show(v)}" for k, (v, _) in _changed.items())
    book = ", ".join(f"{k}={_show(b)}" for k, (_, b) in _changed.items())
    return f"your knobs: {mine} (book: {book})"


def suffix() -> str:
    """'' for the book's settings, else a file-name suffix such as '--n_layers=10--gain=1'."""
    return "".join(f"--{k}={_show(v)}" for k, (v, _) in _changed.items())
