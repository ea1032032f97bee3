"""Checks of the sentences that read a result, kept beside the sentence and out of the reader's way.

A chapter states a result in a Markdown cell, citing the computed number, and checks it in the
cell right below, tagged "remove-cell" so that the page leaves the check out:

    # %%
    report.publish("init/tanh_gain", gap, ".3f")

    # %% [markdown]
    # Fixing the saturated layer lowers the dev loss by a further {{ value init/tanh_gain }}.

    # %% tags=["remove-cell"]
    claims.check("lowers the dev loss by a further", gap > 0, f"val {soft:.4f} vs {tanh:.4f}")

The first argument is a verbatim piece of the sentence in the Markdown cell above (the build
finds it there, or fails); `holds` is the check; `numbers` is what it was decided on, for the
reader of a failure. `full_training=True` says that the sentence is about the lecture's full
training, which a quick preview (2,000 steps per run) need not bear out.

A check never stops a chapter. A sentence its run does not bear out prints one warning line in a
script and in Jupyter; in the site build the verdict travels with the notebook (CLAIM_MIME), and
the build marks the sentence on the page (quick mode) or fails, naming chapter, sentence and
numbers (full mode: `make publish`, `make deploy`, CI).
"""
from __future__ import annotations

import atexit
import sys
from dataclasses import dataclass, field

from . import knobs
from .settings import FULL_STEPS, in_notebook

CLAIM_MIME = "application/vnd.makemore.claim+json"


@dataclass
class Claims:
    """The checks of one chapter run, in the mode of `settings` (a settings.Settings)."""

    settings: object
    checked: list[dict] = field(default_factory=list)

    @property
    def failed(self) -> list[dict]:
        return [c for c in self.checked if not c["holds"]]

    def check(self, sentence: str, holds, numbers: str = "", *, full_training: bool = False) -> None:
        """Record whether the sentence quoted from the Markdown cell above holds; warn in one line if not."""
        record = {"claim": " ".join(sentence.split()), "holds": bool(holds), "numbers": numbers,
                  "mode": self.settings.mode, "full_training": bool(full_training),
                  "steps": self.settings.max_steps}
        self.checked.append(record)
        warning = "" if record["holds"] else warning_line(record)
        if in_notebook():
            from IPython.display import display
            display({"text/plain": warning, CLAIM_MIME: record}, raw=True)
        elif warning:
            print(warning, file=sys.stderr)

    def summary_at_exit(self) -> None:
        """In a script, print at its end (unless it ended on an error) how many sentences were checked
        and how many its numbers did not bear out."""
        if not in_notebook():
            atexit.register(self._summary)

    def _summary(self) -> None:
        if self.checked and getattr(sys, "last_value", None) is None:
            failed = self.failed
            said = "all hold" if not failed else f"{len(failed)} not borne out (warnings above)"
            mine = f" ({knobs.note()}; the prose describes the book's)" if knobs.note() else ""
            print(f"claims: {len(self.checked)} sentences checked against this run's numbers, {said}{mine}")


def preview_only(record: dict) -> bool:
    """A failed check that a quick preview explains: the sentence is about the full training."""
    return record["mode"] == "quick" and record.get("full_training", False)


def preview_share(record: dict) -> str:
    """How much of its full length a quick preview trains each run: '1%' (2,000 of 200,000 steps)."""
    return f"{record['steps'] / FULL_STEPS:.0%}"


def warning_line(record: dict) -> str:
    """One line: the sentence a run does not bear out, the numbers, and whether a preview explains it."""
    why = (f"this quick preview cuts every training run to {preview_share(record)} of its full length and the "
           f"sentence is about the full training" if preview_only(record) else f"{record['mode']} mode")
    numbers = f" ({record['numbers']})" if record["numbers"] else ""
    return f'warning: not borne out by this run ({why}): "{record["claim"]}"{numbers}'
