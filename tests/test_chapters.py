"""Every chapter runs as a plain script in quick mode; a failure names the chapter and shows its last output."""
import pytest

from conftest import CHAPTERS, REPO, run_python


def test_there_are_five_chapters():
    assert [c.name[:3] for c in CHAPTERS] == ["01_", "02_", "03_", "04_", "05_"]


@pytest.mark.parametrize("chapter_run", [c.stem for c in CHAPTERS], indirect=True)
def test_chapter_runs_as_a_script_in_quick_mode(chapter_run):
    r, chapter = chapter_run, chapter_run["chapter"]     # one run per session, shared with tests/test_workbook.py
    tail = "\n".join((r["stdout"] + "\n" + r["stderr"]).splitlines()[-30:])
    assert r["returncode"] == 0, f"{chapter} failed (exit {r['returncode']}); last output:\n{tail}"
    assert "mode: quick" in r["stdout"], f"{chapter} does not print its mode:\n{tail}"
    assert "Traceback" not in r["stderr"], f"{chapter} printed a traceback:\n{tail}"


def test_a_chapter_given_a_missing_data_file_stops_with_one_line(tmp_path):
    missing = tmp_path / "nope.txt"
    r = run_python([str(CHAPTERS[0]), "--data", str(missing)], {"MAKEMORE_QUICK": "1", "MAKEMORE_FIGURES": str(tmp_path)})
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [f"error: {missing}: file not found; set MAKEMORE_DATA (or --data) "
                                             f"to a UTF-8 file with one word per line"]


@pytest.mark.parametrize("chapter, content, option, problem", [
    ("03_batchnorm", "emma\nolivia\nava\n", "--data", "too few words for the 80/10/10 split: train 2 words"),
    ("01_data", "a" * 500 + "\n", "--data", "too few words for the 80/10/10 split: train 0 words"),
    ("04_deep_mlp", None, "--quik", "unknown option '--quik'; the options are --data PATH and --quick"),
    ("02_init", None, "--dat", "unknown option '--dat'; the options are --data PATH and --quick"),
], ids=["three-names", "one-long-name", "typo", "abbreviation"])
def test_bad_input_stops_a_chapter_with_one_line_before_any_figure(tmp_path, chapter, content, option, problem):
    words = tmp_path / "words.txt"
    words.write_text(content or "emma\n", encoding="utf-8")
    figures = tmp_path / "figures"
    r = run_python([str(REPO / "chapters" / f"{chapter}.py"), option, str(words)],
                   {"MAKEMORE_QUICK": "1", "MAKEMORE_FIGURES": str(figures)}, cwd=tmp_path, timeout=60)
    assert r.returncode != 0
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and problem in lines[0], r.stderr
    assert (str(words) if content else option) in lines[0]
    assert not figures.exists() or not any(figures.rglob("*.*"))
