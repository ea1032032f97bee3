"""Sentences that read a result, checked against that result where they are written.

A sentence such as "the tanh fix ends lower than the softmax fix" is true of one set of
numbers, not of every run: quick mode trains 2,000 steps, another machine rounds float32
differently, a reader swaps the word list. So a chapter never states such a sentence in a
Markdown cell alone; it either renders it from the result, or writes it beside a check:

    claims = Claims(S)                                  # once per chapter (chapter.begin makes it)
    claims.say(f"The tanh fix ends {d:.3f} lower than the softmax fix.",  # rendered as prose
               d > 0, f"val {tanh_val:.4f} vs {soft_val:.4f}")
    claims.check("the original init saturates more than half the units",  # the prose is above
                 frac > 0.5, f"saturated fraction {frac:.1%}")

`holds` is the check; `numbers` is what it was decided on, for the reader of a failure.
What happens when a claim does not hold depends on the mode:
- full mode (the publication build, the lecture's training): ClaimFailed is raised, naming
  the claim and the numbers, so the build fails and a false sentence cannot be published;
- quick mode (tests, previews): the page shows a note at the claim saying that this
  preview's numbers do not bear it out, and the build log lists it.
Every verdict is also attached to the output under CLAIM_MIME, from which the site build
logs `chapters/NN_x.py: N claims checked, M failed`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import report
from .errors import MakemoreError

CLAIM_MIME = "application/vnd.makemore.claim+json"


class ClaimFailed(MakemoreError):
    """A sentence of the chapter does not hold for the numbers of a full-mode run."""


@dataclass
class Claims:
    """The claims of one chapter run, in the mode of `settings` (a settings.Settings)."""

    settings: object
    checked: list[dict] = field(default_factory=list)

    @property
    def failed(self) -> list[dict]:
        return [c for c in self.checked if not c["holds"]]

    def say(self, text: str, holds, numbers: str = "") -> bool:
        """Show `text` (Markdown) as the chapter's prose, checked by `holds`; returns `holds`."""
        return self._verdict(text, bool(holds), numbers, rendered=True)

    def check(self, text: str, holds, numbers: str = "") -> bool:
        """Check a sentence written in the prose beside this call; shows nothing when it holds."""
        return self._verdict(text, bool(holds), numbers, rendered=False)

    def _verdict(self, text: str, holds: bool, numbers: str, rendered: bool) -> bool:
        record = {"claim": " ".join(text.split()), "holds": holds, "numbers": numbers,
                  "mode": self.settings.mode}
        self.checked.append(record)
        if not holds and not self.settings.quick:
            raise ClaimFailed(f"claim does not hold: {record['claim']!r} ({numbers or 'no numbers given'})")
        shown = text if rendered else ""
        if not holds:
            shown += ("\n\n" if shown else "") + quick_note(numbers, self.settings.max_steps)
        if shown or report.in_notebook():   # in a page the record travels even when nothing shows
            report.show_markdown(shown, {CLAIM_MIME: record})
        return holds


def quick_note(numbers: str, steps: int) -> str:
    """The note shown at a claim that this quick preview's numbers do not bear out."""
    said = f" ({numbers})" if numbers else ""
    return (f'!!! warning "In this quick preview"\n'
            f"    This preview trained {steps:,} steps per run, and its numbers{said} do not bear out the "
            f"sentence above. The publication build trains in full and fails if the sentence does not "
            f"hold there.")
