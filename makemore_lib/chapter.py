"""What every chapter does first: read the settings and the knobs, stamp the page, load the word list.

    S, D, claims = chapter.begin(globals())

`S` is the run's settings.Settings (mode, steps, data file), `D` the data.Splits of the word
list (Xtr/Xdev/Xte, vocabulary), `claims` the chapter's claims.Claims, through which every
sentence that reads a result is checked (a script ends with one line counting them). Bad
settings, a bad knob or a bad word list stop the chapter here, before its first output, with
one line (settings.load, knobs.apply). `globals()` holds the chapter's knobs, assigned in its
`parameters` cell: `--set` changes them there, and the splits use its `block_size`.
"""
from __future__ import annotations

from typing import NamedTuple

import sys
from pathlib import Path

from . import data, knobs, report, settings
from .claims import Claims


class Opening(NamedTuple):
    S: settings.Settings
    D: data.Splits
    claims: Claims


def begin(namespace: dict | None = None, argv: list[str] | None = None) -> Opening:
    """Settings and knobs, then the stamp (the page's first output), then the splits."""
    S = settings.load(argv)
    namespace = {} if namespace is None else namespace
    name = Path(namespace.get("__file__") or sys.argv[0]).stem if not settings.in_notebook() else "this chapter"
    knobs.apply(namespace, list(S.assignments), name)
    report.show_stamp(S)
    claims = Claims(S)
    claims.summary_at_exit()
    context = {"block_size": namespace["block_size"]} if "block_size" in namespace else {}
    return Opening(S, data.load_splits(S.data_path, **context), claims)
