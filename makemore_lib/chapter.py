"""What every chapter does first: read the settings, stamp the page, load the word list.

    S, D, claims = chapter.begin()

`S` is the run's settings.Settings (mode, steps, data file), `D` the data.Splits of the word
list (Xtr/Xdev/Xte, vocabulary), `claims` the chapter's claims.Claims, through which every
sentence that reads a result is checked (a script ends with one line counting them). Bad settings or a bad word list stop the chapter
here, before its first output, with one line (settings.load).
"""
from __future__ import annotations

from typing import NamedTuple

from . import data, report, settings
from .claims import Claims


class Opening(NamedTuple):
    S: settings.Settings
    D: data.Splits
    claims: Claims


def begin(argv: list[str] | None = None) -> Opening:
    """Settings, then the stamp (the page's first output), then the splits."""
    S = settings.load(argv)
    report.show_stamp(S)
    claims = Claims(S)
    claims.summary_at_exit()
    return Opening(S, data.load_splits(S.data_path), claims)
