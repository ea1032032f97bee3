"""makemore_lib/claims.py, and claims in the site build (docs/hooks/book.py + makemore_lib/book/).

The unit tests run Claims in this process; the build tests build a one-chapter book in
tmp_path whose chapter trains nothing and reads its numbers from its word list, so that
changing the word list changes the numbers (a few seconds per build).
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from conftest import NAMES, ROOT, mkdocs_build, run_python
from makemore_lib import claims, report, settings


# ---------------------------------------------------------------- the API, in this process

def make_claims(quick: bool) -> claims.Claims:
    return claims.Claims(settings.Settings(quick=quick, data_path=NAMES))


@pytest.fixture
def shown(monkeypatch):
    """What claims displays in a notebook: (markdown, extra MIME data) per display."""
    seen = []
    monkeypatch.setattr(report, "in_notebook", lambda: True)
    monkeypatch.setattr(report, "show_markdown", lambda text, extra=None: seen.append((text, extra or {})))
    return seen


@pytest.mark.parametrize("quick", [True, False])
def test_a_claim_that_holds_is_recorded_and_shown_only_when_said(quick, shown):
    c = make_claims(quick)
    assert c.say("The tanh fix ends **0.035** lower.", 0.035 > 0, "val 2.0988 vs 2.1332") is True
    assert c.check("the original init   saturates\nmore", True, "61% saturated") is True
    assert c.failed == []
    assert c.checked == [
        {"claim": "The tanh fix ends **0.035** lower.", "holds": True, "numbers": "val 2.0988 vs 2.1332",
         "mode": "quick" if quick else "full"},
        {"claim": "the original init saturates more", "holds": True, "numbers": "61% saturated",  # one line
         "mode": "quick" if quick else "full"}]
    (said, said_data), (checked, checked_data) = shown
    assert said == "The tanh fix ends **0.035** lower." and "!!!" not in said
    assert checked == ""                                   # check shows nothing: the prose is above it
    assert said_data[claims.CLAIM_MIME] == c.checked[0] and checked_data[claims.CLAIM_MIME] == c.checked[1]


def test_in_quick_mode_a_false_claim_shows_a_note_at_the_claim_and_goes_on(shown):
    c = make_claims(quick=True)
    assert c.say("The tanh fix ends lower.", False, "val 2.359 vs 2.332") is False
    assert c.check("the original run recovers", 3.12 < 2.5, "train 3.12") is False
    assert [r["claim"] for r in c.failed] == ["The tanh fix ends lower.", "the original run recovers"]
    (said, _), (checked, _) = shown
    assert said.startswith("The tanh fix ends lower.\n\n!!! warning")     # the sentence, then the note
    assert checked.startswith('!!! warning "In this quick preview"')        # the note alone
    for text, numbers in ((said, "val 2.359 vs 2.332"), (checked, "train 3.12")):
        assert f"({numbers})" in text and f"{settings.QUICK_STEPS:,} steps" in text


def test_in_full_mode_a_false_claim_raises_one_line_with_claim_and_numbers(shown):
    c = make_claims(quick=False)
    with pytest.raises(claims.ClaimFailed) as raised:
        c.check("the tanh fix ends\n  lower than the softmax fix", 2.1 < 2.0, "val 2.1000 vs 2.0000")
    assert str(raised.value) == ("claim does not hold: 'the tanh fix ends lower than the softmax fix' "
                                 "(val 2.1000 vs 2.0000)")
    assert c.failed == c.checked and len(c.checked) == 1
    assert shown == []                                    # nothing reaches a page that will not be built
    with pytest.raises(claims.ClaimFailed, match=r"\(no numbers given\)"):
        c.say("Lower.", False)


def test_holds_is_taken_as_a_truth_value(shown):
    import torch
    c = make_claims(quick=True)
    assert c.check("a tensor comparison", torch.tensor(2.0) > 1.0) is True
    assert c.checked[0]["holds"] is True                  # a plain bool in the record: JSON-able


def test_in_a_script_a_claim_prints_and_a_holding_check_prints_nothing(capsys, monkeypatch):
    monkeypatch.setattr(report, "in_notebook", lambda: False)
    c = make_claims(quick=True)
    c.say("Said.", True)
    c.check("checked", True)
    assert capsys.readouterr().out == "Said.\n"
    c.check("checked but false", False, "x = 1")
    assert capsys.readouterr().out.startswith('!!! warning "In this quick preview"')


# ---------------------------------------------------------------- an example chapter

EXAMPLE = '''# %% [markdown]
# # Claims, checked

# %%
from makemore_lib import chapter
S, D, claims = chapter.begin()

# %%
claims.say(f"The word list holds **{len(D.words):,} names**, more than thirty.", len(D.words) > 30,
           f"{len(D.words)} names")

# %% [markdown]
# Every name in the list is shorter than twelve letters.

# %%
longest = max(D.words, key=len)
claims.check("every name is shorter than twelve letters", len(longest) < 12,
             f"longest: {longest}, {len(longest)} letters")
'''
CHECK_CELL = 5    # the claims.check cell, counting from 1


def short_names(n: int) -> list[str]:
    return [w for w in NAMES.read_text().split() if len(w) < 12][:n]


LONG_NAME = max(NAMES.read_text().split(), key=len)


def example_book(tmp_path: Path, words: list[str]) -> tuple[Path, Path]:
    """A book of one chapter (EXAMPLE) and its word list: the book's config and hook, a docs/ of
    its own (the book's notes cite chapters this book does not have)."""
    root = tmp_path / "book"
    (root / "chapters").mkdir(parents=True)
    (root / "chapters" / "01_claims.py").write_text(EXAMPLE)
    docs = root / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# A book of claims\n")
    for part in ("hooks", "javascripts", "stylesheets"):
        (docs / part).symlink_to(ROOT / "docs" / part)
    (root / "mkdocs.yml").write_text(f"INHERIT: {ROOT / 'mkdocs.yml'}\n"
                                     "nav:\n  - index.md\n  - chapters/01_claims.ipynb\n")
    data = tmp_path / "names.txt"
    data.write_text("\n".join(words) + "\n")
    return root / "mkdocs.yml", data


def build(config: Path, data: Path, quick: bool):
    tmp = config.parent.parent
    return mkdocs_build(config, tmp / "site", tmp / "cache", quick=quick, env_extra={"MAKEMORE_DATA": str(data)})


def page(config: Path) -> str:
    return (config.parent.parent / "site" / "chapters" / "01_claims" / "index.html").read_text(encoding="utf-8")


def test_a_false_claim_fails_the_full_build_with_one_line(tmp_path):
    config, data = example_book(tmp_path, short_names(60) + [LONG_NAME])
    proc = build(config, data, quick=False)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, proc.stderr
    line = errors[0]
    assert f"chapters/01_claims.py failed in cell {CHECK_CELL}" in line, line
    assert "ClaimFailed: claim does not hold: 'every name is shorter than twelve letters'" in line, line
    assert f"(longest: {LONG_NAME}, {len(LONG_NAME)} letters)" in line, line
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "site" / "chapters").exists()
    assert not list((tmp_path / "cache" / "chapters").glob("*.ipynb"))   # nothing cached to publish later


def test_quick_builds_render_claims_from_the_results_and_mark_the_false_one(tmp_path):
    config, data = example_book(tmp_path, short_names(60))
    proc = build(config, data, quick=True)
    assert proc.returncode == 0 and "WARNING" not in proc.stderr, proc.stderr
    assert "chapters/01_claims.py: 2 claims checked, 0 failed" in proc.stderr
    text = page(config)
    assert "The word list holds <strong>60 names</strong>, more than thirty." in text
    assert "In this quick preview" not in text
    page_nb = nbformat.read(tmp_path / "cache" / "page-notebooks" / "chapters" / "01_claims.ipynb", as_version=4)
    assert page_nb.cells[CHECK_CELL - 1].outputs == []   # a check that holds shows nothing, not even a record
    said = page_nb.cells[CHECK_CELL - 3].outputs           # the sentence; not the True that say() returned
    assert [(o.output_type, "text/html" in o.data) for o in said] == [("display_data", True)]

    # the result changes: 75 names, one of them long; the same cache, so only the data file differs
    data.write_text("\n".join(short_names(74) + [LONG_NAME]) + "\n")
    proc = build(config, data, quick=True)
    assert proc.returncode == 0 and "WARNING" not in proc.stderr, proc.stderr
    assert "executing chapters/01_claims.py" in proc.stderr
    assert "chapters/01_claims.py: 2 claims checked, 1 failed" in proc.stderr
    listed = [l for l in proc.stderr.splitlines() if "not borne out by this quick preview" in l]
    assert listed == [f"INFO    -  chapters/01_claims.py: claim not borne out by this quick preview: "
                      f"'every name is shorter than twelve letters' (longest: {LONG_NAME}, {len(LONG_NAME)} letters)"]
    text = page(config)
    assert "The word list holds <strong>75 names</strong>" in text and "60 names" not in text
    note = re.search(r'<div class="admonition warning">\s*<p class="admonition-title">In this quick preview</p>'
                     r"(.*?)</div>", text, re.S)
    assert note, "no rendered warning admonition on the page"
    assert f"longest: {LONG_NAME}, {len(LONG_NAME)} letters" in note.group(1)
    assert "!!! warning" not in text                                  # rendered, not shown as source
    assert text.index("shorter than twelve letters.</p>") < note.start()   # at the claim: right below it


def test_the_example_chapter_as_a_script(tmp_path):
    data = tmp_path / "names.txt"
    data.write_text("\n".join(short_names(60) + [LONG_NAME]) + "\n")
    script = tmp_path / "01_claims.py"
    script.write_text(EXAMPLE)
    quick = run_python([str(script)], {"MAKEMORE_QUICK": "1", "MAKEMORE_DATA": str(data)}, cwd=tmp_path)
    assert quick.returncode == 0, quick.stderr
    assert "The word list holds **61 names**, more than thirty.\n" in quick.stdout
    assert '!!! warning "In this quick preview"' in quick.stdout and f"{len(LONG_NAME)} letters" in quick.stdout
    full = run_python([str(script)], {"MAKEMORE_QUICK": "0", "MAKEMORE_DATA": str(data)}, cwd=tmp_path)
    assert full.returncode == 1
    assert full.stderr.strip().splitlines() == [
        f"error: claim does not hold: 'every name is shorter than twelve letters' "
        f"(longest: {LONG_NAME}, {len(LONG_NAME)} letters)"], full.stderr
