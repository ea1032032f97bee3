"""makemore_lib/claims.py, and claims in the site build (docs/hooks/book.py + makemore_lib/book/pages.py).

The unit tests run Claims in this process; the build tests build a one-chapter book in
tmp_path whose chapter trains nothing and reads its numbers from its word list, so that
changing the word list changes the numbers (a few seconds per build).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import NAMES, ROOT, mkdocs_build, run_python
from makemore_lib import claims, settings
from makemore_lib.book import pages


# ---------------------------------------------------------------- the API, in this process

def make_claims(quick: bool) -> claims.Claims:
    return claims.Claims(settings.Settings(quick=quick, data_path=NAMES))


def test_a_check_records_its_verdict_and_returns_nothing(shown):
    c = make_claims(quick=True)
    assert c.check("the tanh fix   ends\nlower", 0.035 > 0, "val 2.0988 vs 2.1332") is None
    assert c.check("the run converged", False, "loss 3.1", full_training=True) is None
    assert c.checked == [
        {"claim": "the tanh fix ends lower", "holds": True, "numbers": "val 2.0988 vs 2.1332",   # one line
         "mode": "quick", "full_training": False, "steps": settings.QUICK_STEPS},
        {"claim": "the run converged", "holds": False, "numbers": "loss 3.1",
         "mode": "quick", "full_training": True, "steps": settings.QUICK_STEPS}]
    assert [r["claim"] for r in c.failed] == ["the run converged"]
    (held, _), (failed, _) = shown                          # in a notebook: the record, and a line if it failed
    assert held["text/plain"] == "" and held[claims.CLAIM_MIME] == c.checked[0]
    assert failed["text/plain"].startswith("warning: not borne out by this run (this quick preview cuts every training run to 1% ")


def test_holds_is_taken_as_a_truth_value(shown):
    import torch
    c = make_claims(quick=True)
    c.check("a tensor comparison", torch.tensor(2.0) > 1.0)
    assert c.checked[0]["holds"] is True                  # a plain bool in the record: JSON-able


@pytest.mark.parametrize("quick", [True, False])
def test_in_a_script_a_failed_check_is_one_warning_line_in_either_mode_and_the_run_goes_on(quick, script, capsys):
    c = make_claims(quick)
    c.check("said and true", True)
    assert capsys.readouterr() == ("", "")
    c.check("the original run recovers", 3.12 < 2.5, "train 3.12")
    out, err = capsys.readouterr()
    mode = "quick" if quick else "full"
    assert out == "" and err == f'warning: not borne out by this run ({mode} mode): "the original run recovers" (train 3.12)\n'


def test_a_quick_preview_is_blamed_only_for_a_sentence_about_the_full_training():
    record = {"claim": "x", "holds": False, "numbers": "", "mode": "quick", "full_training": True, "steps": 2000}
    assert claims.preview_only(record)
    assert not claims.preview_only({**record, "full_training": False})
    assert not claims.preview_only({**record, "mode": "full"})


# ---------------------------------------------------------------- the page: the sentence is marked

def test_a_failed_check_marks_its_sentence_and_a_failed_preview_says_so():
    text = "First sentence.\nThe tanh fix ends\nlower than the softmax fix. Next.\n\nAnother paragraph."
    span = pages.sentence_span("The tanh fix ends lower than", text)
    assert text[span[0]:span[1]] == "The tanh fix ends\nlower than"
    record = {"claim": "The tanh fix ends lower than", "holds": False, "numbers": "val 2.1 vs 2.0",
              "mode": "quick", "full_training": True, "steps": 2000}
    marked = pages.mark(text, span, record, quick=True)
    assert '<mark class="makemore-unsupported">The tanh fix ends\nlower than</mark> the softmax fix. Next.' in marked
    box = marked.index('<div class="admonition warning makemore-unsupported">')
    assert marked.index("Next.") < box < marked.index("Another paragraph.")      # right after its paragraph
    assert "In this quick preview" in marked and "(val 2.1 vs 2.0)" in marked
    own = pages.mark(text, span, {**record, "full_training": False}, quick=True)
    assert "preview" not in own and "Not borne out by this build" in own and "(val 2.1 vs 2.0)" in own
    assert pages.sentence_span("not in the text", text) is None


# ---------------------------------------------------------------- an example chapter

EXAMPLE = '''# %% [markdown]
# # Claims, checked

# %%
from makemore_lib import chapter, report
S, D, claims = chapter.begin()
report.publish("example/names", len(D.words), ",")

# %% [markdown]
# The word list holds **{{ value example/names }} names**, more than thirty.

# %% tags=["remove-cell"]
claims.check("more than thirty", len(D.words) > 30, f"{len(D.words)} names")

# %%
longest = max(D.words, key=len)

# %% [markdown]
# Every name in the list is shorter than twelve letters.

# %% tags=["remove-cell"]
claims.check("shorter than twelve letters", len(longest) < 12, f"longest: {longest}, {len(longest)} letters")
'''


def short_names(n: int) -> list[str]:
    return [w for w in NAMES.read_text().split() if len(w) < 12][:n]


LONG_NAME = max(NAMES.read_text().split(), key=len)


def example_book(tmp_path: Path, words: list[str], chapter: str = EXAMPLE) -> tuple[Path, Path]:
    """A book of one chapter (EXAMPLE) and its word list: the book's config and hook, a docs/ of
    its own (the book's notes cite chapters this book does not have)."""
    root = tmp_path / "book"
    (root / "chapters").mkdir(parents=True)
    (root / "chapters" / "01_claims.py").write_text(chapter)
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


def test_a_false_claim_fails_the_full_build_naming_chapter_sentence_and_numbers(tmp_path):
    config, data = example_book(tmp_path, short_names(60) + [LONG_NAME])
    proc = build(config, data, quick=False)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert errors[0] == (f"ERROR   -  chapters/01_claims.py: claim does not hold in full mode: "
                         f"'shorter than twelve letters' (longest: {LONG_NAME}, {len(LONG_NAME)} letters)"), errors
    assert "1 sentence(s) not borne out by the full-mode run" in errors[1] and len(errors) == 2, errors
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "site" / "chapters").exists()


def test_quick_builds_fill_citations_hide_checks_and_mark_the_false_sentence(tmp_path):
    config, data = example_book(tmp_path, short_names(60))
    proc = build(config, data, quick=True)
    assert proc.returncode == 0 and "WARNING" not in proc.stderr, proc.stderr
    assert "chapters/01_claims.py: 2 claims checked, 0 failed" in proc.stderr
    text = page(config)
    assert "The word list holds <strong>60 names</strong>, more than thirty." in text
    assert "claims.check" not in text and "{{" not in text and "example/names = 60" not in text
    assert "makemore-unsupported" not in text

    # the result changes: 75 names, one of them long; the same cache, so only the data file differs
    data.write_text("\n".join(short_names(74) + [LONG_NAME]) + "\n")
    proc = build(config, data, quick=True)
    assert proc.returncode == 0 and "WARNING" not in proc.stderr, proc.stderr
    assert "executing chapters/01_claims.py" in proc.stderr
    assert "chapters/01_claims.py: 2 claims checked, 1 failed" in proc.stderr
    listed = [l for l in proc.stderr.splitlines() if "not borne out" in l]
    assert listed == [f"INFO    -  chapters/01_claims.py: claim not borne out by this build: "
                      f"'shorter than twelve letters' (longest: {LONG_NAME}, {len(LONG_NAME)} letters)"]
    text = page(config)
    assert "The word list holds <strong>75 names</strong>" in text and "60 names" not in text
    mark = text.index('<mark class="makemore-unsupported">shorter than twelve letters</mark>')
    box = re.search(r'<div class="admonition warning makemore-unsupported"><p class="admonition-title">'
                    r"Not borne out by this build</p>(.*?)</div>", text, re.S)
    assert box and f"longest: {LONG_NAME}, {len(LONG_NAME)} letters" in box.group(1)
    assert mark < box.start() and "claims.check" not in text


def test_a_check_must_quote_the_markdown_cell_right_above_it(tmp_path):
    moved = EXAMPLE.replace("claims.check(\"shorter than twelve letters\"", "claims.check(\"shorter than ten letters\"")
    config, data = example_book(tmp_path, short_names(60), moved)
    proc = build(config, data, quick=True)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert errors == ["ERROR   -  chapters/01_claims.py, cell 7: the check of 'shorter than ten letters' names no "
                      "sentence of the Markdown cell right above it; quote the sentence it guards"], proc.stderr


def test_the_example_chapter_as_a_script_warns_and_goes_on_in_both_modes(tmp_path):
    data = tmp_path / "names.txt"
    data.write_text("\n".join(short_names(60) + [LONG_NAME]) + "\n")
    script = tmp_path / "01_claims.py"
    script.write_text(EXAMPLE)
    for mode in ("1", "0"):
        run = run_python([str(script)], {"MAKEMORE_QUICK": mode, "MAKEMORE_DATA": str(data)}, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        assert "example/names = 61\n" in run.stdout                     # every cited number is printed
        assert run.stderr.splitlines() == [
            f'warning: not borne out by this run ({"quick" if mode == "1" else "full"} mode): '
            f'"shorter than twelve letters" (longest: {LONG_NAME}, {len(LONG_NAME)} letters)'], run.stderr
        assert run.stdout.splitlines()[-1] == ("claims: 2 sentences checked against this run's numbers, "
                                               "1 not borne out (warnings above)")
