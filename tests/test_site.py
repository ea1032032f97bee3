"""The built site (docs/hooks/book.py + makemore_lib/book/): one quick-mode build, checked from every side.

The build (conftest.py's `built`) runs once per test session into a temporary directory with a
temporary cache, so it executes every chapter for real; tests/test_browser.py opens the same build.
"""
from __future__ import annotations

import base64
import html
import json
import os
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import jupytext
import nbformat
import pytest

HOOKS = Path(__file__).resolve().parent.parent / "docs" / "hooks"
sys.path.insert(0, str(HOOKS))   # the MkDocs hook is a file MkDocs loads, not a package

import book  # noqa: E402
from conftest import CHAPTERS, ROOT, chapter_page, executed_notebook, mkdocs_build, run_python, tiny_book  # noqa: E402
from makemore_lib.book import execute, pages, workbook  # noqa: E402
from makemore_lib import report, settings  # noqa: E402


# ---------------------------------------------------------------- the build

def test_there_are_chapters():
    assert CHAPTERS, "no chapters/NN_*.py found"


def test_strict_build_has_no_warnings(built):
    print(f"quick build with a cold cache: {built['seconds']:.1f} s")
    assert "WARNING" not in built["log"], built["log"]
    # on this machine's own kernels every sentence holds that does not need the full training
    # (the scripts check the AVX2 and default kernels: tests/test_chapters.py, test_kernel_sets.py)
    assert "not borne out by this build" not in built["log"], built["log"]
    assert re.search(r"chapters/04_deep_mlp.py: [1-9]\d* claims checked", built["log"])
    for source in CHAPTERS:
        assert f"executed chapters/{source.name}" in built["log"]


def test_every_chapter_page_carries_its_stamp(built):
    for source in CHAPTERS:
        page = chapter_page(built, source)
        stamp = re.search(r'<div class="makemore-stamp">(.*?)</div>', page, re.S)
        assert stamp, f"{source.name}: no stamp"
        text = stamp.group(1)
        assert "mode: quick" in text and "sha256" in text and "torch" in text, text
        assert re.search(r"CPU kernels: (DEFAULT|AVX2|AVX512|\w+)", text), text


def _text(html: str) -> str:
    """What a reader reads: the page without its tags, scripts and styles."""
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", "", html)


def test_pages_read_as_prose_and_code_no_check_no_literal_fence_no_citation(built):
    for source in CHAPTERS:
        page = chapter_page(built, source)
        text = _text(page)
        assert "```" not in text, f"{source.name}: a literal code fence on the page"
        assert "claims.check" not in page and "remove-cell" not in page, f"{source.name}: check code on the page"
        assert "{{" not in text, f"{source.name}: a citation left unfilled"
        assert '<div class="highlight"><pre>' in page or "report.show_source" not in source.read_text()


def test_every_heading_of_a_chapter_is_in_its_table_of_contents(built):
    import jupytext
    for source in CHAPTERS:
        page = chapter_page(built, source)
        start, depth = page.index('<nav class="md-nav md-nav--secondary"'), 0
        for tag in re.finditer(r"<(/?)nav\b", page[start:]):      # the secondary nav holds nested ones
            depth += -1 if tag.group(1) else 1
            if depth == 0:
                toc = page[start:start + tag.end()]
                break
        headings = [line.lstrip("#").strip() for cell in jupytext.read(source).cells if cell.cell_type == "markdown"
                    for line in cell.source.splitlines() if re.match(r"#{2,3} ", line)]
        assert headings, source.name
        listed = " ".join(html.unescape(_text(toc)).split())
        for heading in headings:
            plain = " ".join(re.sub(r"[`*]", "", heading).split())
            assert plain in listed, f"{source.name}: {heading!r} is not in the table of contents"


def test_downloads_are_the_chapter_unexecuted(built):
    site = Path(built["site"])
    for source in CHAPTERS:
        page = chapter_page(built, source)
        hrefs = re.findall(r'<p class="makemore-downloads">.*?</p>', page, re.S)[0]
        for suffix in (".py", ".ipynb"):
            assert f"../../downloads/{source.stem}{suffix}" in hrefs
        assert (site / "downloads" / f"{source.stem}.py").read_bytes() == source.read_bytes()
        nb = nbformat.reads((site / "downloads" / f"{source.stem}.ipynb").read_text(), as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and all(not c.get("outputs") for c in code)
        assert [c.source for c in nb.cells] == [c.source for c in jupytext.read(source).cells]


def test_workbook_downloads_for_chapters_with_solutions(built):
    site = Path(built["site"])
    for source in CHAPTERS:
        wanted = workbook.has_solutions(source.read_text())
        page = chapter_page(built, source)
        for suffix in (".py", ".ipynb"):
            name = f"{source.stem}_workbook{suffix}"
            assert (site / "downloads" / name).is_file() == wanted
            assert (f"downloads/{name}" in page) == wanted
        if wanted:
            blank = (site / "downloads" / f"{source.stem}_workbook.py").read_text()
            assert blank == workbook.make_workbook(source.read_text())


def test_every_chapter_that_draws_shows_its_figures_despite_an_inherited_mplbackend(built):
    for source in CHAPTERS:
        drawing = [c for c in jupytext.read(source).cells if c.cell_type == "code" and book.PLOT_CALL.search(c.source)]
        figures = [o for c in executed_notebook(built, source).cells if c.cell_type == "code"
                   for o in c.outputs if "image/png" in o.get("data", {})]
        assert len(figures) >= len(drawing), source.name
        page = chapter_page(built, source)   # an explorable figure's frames are files of the site
        assert page.count("data:image/png;base64") + page.count('class="makemore-explorable"') >= len(figures), source.name


def test_a_figure_that_does_not_reach_the_page_fails_the_build(tmp_path):
    lost = BROKEN.split("# %%\nnumerator")[0] + (
        "# %%\nplots.show = lambda fig, name=None: plots.plt.close(fig)   # the figure never reaches the page\n"
        "plots.plot_lines([0, 1], {'a': [0, 1]}, title='t', xlabel='x', ylabel='y')\n")
    lost = lost.replace("from makemore_lib import report, settings", "from makemore_lib import plots, report, settings")
    config = tiny_book(tmp_path, {"01_data.py": lost})
    proc = mkdocs_build(config, tmp_path / "site", tmp_path / "cache")
    assert proc.returncode != 0
    error = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert len(error) == 1 and "chapters/01_data.py: cell 3 draws a figure but its output has none" in error[0], proc.stderr


def test_no_page_shows_a_traceback_or_loads_from_another_host(built):
    external = book.EXTERNAL  # the hook warns (fails --strict) on the same pattern; this checks the output
    pages = list(Path(built["site"]).rglob("*.html"))
    assert len(pages) > len(CHAPTERS)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" not in text, page
        assert not external.search(text), (page, external.search(text))
        assert "cdnjs" not in text and "cdn.jsdelivr" not in text, page


def test_mathjax_is_served_by_the_site(built):
    site = Path(built["site"])
    assert (site / "javascripts" / "mathjax" / "tex-mml-chtml.js").stat().st_size > 100_000
    assert list((site / "javascripts" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    index = (site / "index.html").read_text()
    assert 'src="javascripts/mathjax/tex-mml-chtml.js"' in index


class _Table(HTMLParser):
    """Rows (lists of cell texts) of the first <table>."""

    def __init__(self):
        super().__init__()
        self.rows, self._cell, self._tables = [], None, 0

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._tables += 1
        elif tag == "tr" and self._tables == 1:
            self.rows.append([])
        elif tag in ("td", "th") and self._tables == 1:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(self._cell.strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def test_results_table_is_every_recorded_run(built):
    parser = _Table()
    parser.feed((Path(built["site"]) / "results" / "index.html").read_text())
    header, *rows = parser.rows
    assert header == ["Chapter", "Experiment", "Steps", "Train loss", "Val loss", "Lecture train", "Lecture val"]
    recorded = [(source.stem, rec) for source in CHAPTERS
                for rec in execute.records(executed_notebook(built, source), report.RUN_MIME)]
    assert recorded and len(rows) == len(recorded)
    number = lambda cell: None if cell == "—" else float(cell.replace(",", ""))
    for row, (stem, rec) in zip(rows, recorded):
        assert row[:2] == [stem, rec["experiment"]]
        assert number(row[2]) == rec["steps"]
        assert number(row[3]) == pytest.approx(rec["train"], abs=5e-5)    # shown to 4 decimals
        assert number(row[4]) == pytest.approx(rec["val"], abs=5e-5)
        assert [number(row[5]), number(row[6])] == [rec["lecture_train"], rec["lecture_val"]]


def test_solution_cells_are_folded(built):
    for source in CHAPTERS:
        tagged = [c for c in jupytext.read(source).cells if "solution" in c.metadata.get("tags", [])]
        page = chapter_page(built, source)
        folded = re.findall(r'<details class="success solution"><summary>Solution</summary>(.*?)</details>', page, re.S)
        assert sum(block.count("celltag_solution\" id=") for block in folded) == len(tagged), source.name
        assert "<details" not in page or folded


def _current_keys() -> dict[str, str]:
    lib, data = Path(report.__file__).parent, settings.DEFAULT_DATA
    return {s.stem: execute.cache_key(s, lib, data, True)[:20] for s in CHAPTERS}


def test_a_rebuild_executes_exactly_the_chapters_whose_inputs_changed(built, tmp_path):
    """Nothing changed since the session build: nothing executes. (On a machine where someone
    edits makemore_lib or a chapter meanwhile, exactly the chapters whose key changed do.)"""
    cached = {p.name.split(".")[0]: p.name.split(".")[2]
              for p in (Path(built["cache"]) / "chapters").glob("*.quick.*.ipynb")}
    before = _current_keys()
    start = time.perf_counter()
    proc = mkdocs_build(ROOT / "mkdocs.yml", tmp_path / "site", Path(built["cache"]))
    print(f"warm rebuild: {time.perf_counter() - start:.1f} s")
    if _current_keys() != before:
        pytest.skip("a chapter or makemore_lib was edited while this test ran; run it again")
    assert proc.returncode == 0, proc.stderr[-2000:]
    executed = set(re.findall(r"executing chapters/(\w+)\.py", proc.stderr))
    assert executed == {stem for stem, key in before.items() if cached.get(stem) != key}
    first, second = Path(built["site"]), tmp_path / "site"
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    differ = [str(f) for f in files if (first / f).read_bytes() != (second / f).read_bytes()]
    assert differ == [], f"two builds of the same tree differ in {differ[:10]}"


# ---------------------------------------------------------------- failing loudly

# The failure tests' chapters stamp their page with settings.read, not load: what they test is the
# build, and a kernel that loads torch (load's one-thread setting) costs the suite 2 s each.
BROKEN = '''# %% [markdown]
# # A chapter that breaks

# %%
from makemore_lib import report, settings
S = settings.read()
report.show_stamp(S)

# %%
numerator = 1
ratio = numerator / 0
'''


SLEEPER = """# %%
from makemore_lib import report, settings
S = settings.read()
report.show_stamp(S)

# %%
import time
time.sleep(120)
"""


def _kernels(book_dir: Path) -> set[int]:
    """Kernel processes still running for the book in `book_dir` (a kernel's cwd is its chapter's folder)."""
    out = subprocess.run(["pgrep", "-f", "ipykernel_launcher"], capture_output=True, text=True).stdout
    found = set()
    for pid in out.split():
        try:
            if Path(os.readlink(f"/proc/{pid}/cwd")).is_relative_to(book_dir):
                found.add(int(pid))
        except OSError:  # it ended meanwhile
            pass
    return found


def test_a_raising_cell_fails_the_build_naming_chapter_and_cell_and_stops_the_other_kernel(tmp_path):
    config = tiny_book(tmp_path, {"01_data.py": BROKEN, "02_init.py": SLEEPER})
    start = time.perf_counter()
    proc = mkdocs_build(config, tmp_path / "site", tmp_path / "cache")
    assert proc.returncode != 0 and time.perf_counter() - start < 60    # did not wait for the sleeper
    error = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert len(error) == 1 and error[0].startswith("ERROR   -  chapters/01_data.py"), proc.stderr
    raising = BROKEN.splitlines().index("ratio = numerator / 0") + 1          # the line that raised, not the cell's
    assert f"failed at line {raising} (`ratio = numerator / 0`), in cell 3:" in error[0], error[0]
    assert "ZeroDivisionError: division by zero" in error[0]
    assert "Traceback" not in proc.stderr and "02_init.py failed" not in proc.stderr, proc.stderr
    assert not (tmp_path / "site" / "chapters").exists()
    assert not list((tmp_path / "cache").rglob("*.ipynb"))              # nothing of either chapter cached
    assert not _kernels(tmp_path)


@pytest.mark.parametrize("second", [None, 0.05], ids=["once", "twice"])
def test_ctrl_c_ends_the_build_with_one_line(tmp_path, second):
    """SIGINT to the build's process group, as a terminal's Ctrl-C sends it; a second one while the
    kernels shut down adds nothing (no nbclient exit handler complaining about a kernel already gone)."""
    import signal
    config = tiny_book(tmp_path, {"01_data.py": SLEEPER, "02_init.py": SLEEPER})
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEMORE_DATA",)}
    env.update(MAKEMORE_QUICK="1", MAKEMORE_CACHE=str(tmp_path / "cache"), NO_MKDOCS_2_WARNING="1")
    proc = subprocess.Popen([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config),
                             "-d", str(tmp_path / "site")], env=env, cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = ""
    while "executing chapters/02_init.py" not in log:     # both kernels are running a cell
        line = proc.stdout.readline()
        assert line, log
        log += line
    time.sleep(3)
    os.killpg(proc.pid, signal.SIGINT)
    if second:
        time.sleep(second)
        os.killpg(proc.pid, signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode in (130, -signal.SIGINT), log + rest
    assert rest.strip().splitlines() == ["makemore: build interrupted; the chapters that were executing were "
                                         "stopped and nothing of theirs was cached"], rest
    assert not list((tmp_path / "cache" / "chapters").glob("*.ipynb"))
    assert not _kernels(tmp_path)


def test_no_exit_handler_of_an_interrupted_execution_outlives_the_build(monkeypatch):
    import asyncio
    import atexit

    class Client:                       # what nbclient leaves behind when cancelled in its cleanup
        km = None

        def _cleanup_kernel(self):
            raise AssertionError("a kernel that is already gone")

    client, dropped = Client(), []
    monkeypatch.setattr(atexit, "unregister", dropped.append)
    execute.CLIENTS.append(client)
    loop = asyncio.new_event_loop()
    execute._forget_clients(loop)
    loop.close()
    assert dropped == [client._cleanup_kernel] and execute.CLIENTS == []


@pytest.mark.parametrize("name, value, message", [
    ("ATEN_CPU_CAPABILITY", "", "ATEN_CPU_CAPABILITY='' is not a CPU kernel set torch knows; "
                                "unset it or use one of default, avx2, avx512"),
    ("MAKEMORE_THREADS", "abc", "MAKEMORE_THREADS='abc' is not a number of threads; unset it (one thread, the "
                                "fastest for this book's small networks) or set a whole number such as 2"),
    ("MAKEMORE_QUICK", "maybe", "MAKEMORE_QUICK='maybe' is not a yes/no value; use MAKEMORE_QUICK=1 or MAKEMORE_QUICK=0"),
])
def test_a_bad_setting_stops_the_build_with_one_line_before_any_kernel(tmp_path, name, value, message):
    config = tiny_book(tmp_path, {"01_data.py": SLEEPER})
    proc = mkdocs_build(config, tmp_path / "site", tmp_path / "cache", env_extra={name: value})
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert errors == [f"ERROR   -  {message}"], proc.stderr
    assert "executing" not in proc.stderr and "Traceback" not in proc.stderr


def test_a_cache_that_cannot_be_written_stops_the_build_with_one_line_naming_it(tmp_path):
    config = tiny_book(tmp_path, {"01_data.py": SLEEPER})
    blocked = tmp_path / "a-file"
    blocked.write_text("")                                  # as unwritable as a read-only folder, even for root
    proc = mkdocs_build(config, tmp_path / "site", blocked / "cache")
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert proc.returncode != 0 and errors == [
        f"ERROR   -  cannot write to {blocked / 'cache'} (Not a directory); make it writable, or set "
        f"MAKEMORE_CACHE to a writable folder"], proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_damaged_page_cache_entry_is_discarded_and_the_page_rendered_again(tmp_path):
    config = tiny_book(tmp_path, {"01_data.py": SLEEPER.split("# %%\nimport time")[0]})
    first = mkdocs_build(config, tmp_path / "site", tmp_path / "cache")
    assert first.returncode == 0, first.stderr
    [entry] = (tmp_path / "cache" / "pages").glob("*.json")       # mkdocs-jupyter's rendered page
    entry.write_text(entry.read_text()[:100])                       # cut short, as by an interrupted write
    again = mkdocs_build(config, tmp_path / "site", tmp_path / "cache")
    assert again.returncode == 0 and "WARNING" not in again.stderr, again.stderr
    assert f"re-rendering: the page cache entry {entry.name} was unreadable" in again.stderr
    assert "executing" not in again.stderr and "How this page was computed" in chapter_page(
        {"site": str(tmp_path / "site")}, tmp_path / "chapters" / "01_data.py")


def test_a_truncated_cache_entry_is_re_executed_without_failing_a_strict_build(tmp_path):
    config = tiny_book(tmp_path, {"01_data.py": BROKEN.split("# %%\nnumerator")[0]})
    source = tmp_path / "chapters" / "01_data.py"
    key = execute.cache_key(source, Path(report.__file__).parent, ROOT / "data" / "names.txt", True)
    entry = execute.cache_path(tmp_path / "cache" / "chapters", source, key, True)   # where the build looks
    entry.parent.mkdir(parents=True)
    whole = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")]))
    entry.write_text(whole[:len(whole) // 2])                          # cut short, as by a full disk
    proc = mkdocs_build(config, tmp_path / "site", tmp_path / "cache")
    assert proc.returncode == 0 and "WARNING" not in proc.stderr, proc.stderr
    assert f"re-executing: the cache entry {entry.name} was unreadable" in proc.stderr
    assert "executing chapters/01_data.py" in proc.stderr
    assert "How this page was computed" in str(nbformat.read(entry, as_version=4).cells[1].outputs)


def test_the_quiet_handler_hides_only_nbclients_leftover_polls():
    seen = []

    class Loop:
        def default_exception_handler(self, context):
            seen.append(context["message"])

    async def _async_poll_kernel_alive():
        pass

    async def something_else():
        pass

    import asyncio
    loop = asyncio.new_event_loop()
    for coro in (_async_poll_kernel_alive(), something_else()):
        task = loop.create_task(coro)
        execute._quiet_about_cancelled_executions(Loop(), {"message": coro.__name__, "future": task})
        loop.run_until_complete(task)
    loop.close()
    assert seen == ["something_else"]


# ---------------------------------------------------------------- the cache key

@pytest.fixture
def inputs(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "a.py").write_text("A = 1\n")
    data = tmp_path / "names.txt"
    data.write_text("emma\nolivia\n")
    source = tmp_path / "01_x.py"
    source.write_text("# %%\nprint(1)\n")
    return source, lib, data


def test_cache_key_is_stable_when_nothing_changes(inputs):
    source, lib, data = inputs
    assert execute.cache_key(source, lib, data, True) == execute.cache_key(source, lib, data, True)


@pytest.mark.parametrize("change", ["source", "library", "new library module", "data", "mode"])
def test_cache_key_changes_with_each_input(inputs, change):
    source, lib, data = inputs
    before = execute.cache_key(source, lib, data, True)
    quick = True
    if change == "source":
        source.write_text("# %%\nprint(2)\n")
    elif change == "library":
        (lib / "a.py").write_text("A = 2\n")
    elif change == "new library module":
        (lib / "b.py").write_text("")
    elif change == "data":
        data.write_text("emma\nolivia\nava\n")
    else:
        quick = False
    assert execute.cache_key(source, lib, data, quick) != before


def test_the_cpu_kernels_in_the_key_are_torchs_and_remembered_per_cpu(tmp_path, monkeypatch):
    import torch
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    real = torch.backends.cpu.get_cpu_capability()
    assert settings.cpu_capability() == real
    memo = settings.capability_file()
    assert memo.is_relative_to(tmp_path) and list(json.loads(memo.read_text()).values()) == [real]
    asked = []
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: asked.append(1) or "ASKED")
    assert settings.cpu_capability() == real and asked == []          # the same CPU: from the file
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    assert settings.cpu_capability() == "ASKED" and asked == [1]      # another kernel set: torch is asked
    memo.write_text("{not json")
    monkeypatch.delenv("ATEN_CPU_CAPABILITY")
    assert settings.cpu_capability() == "ASKED"                       # an unreadable file: torch is asked
    monkeypatch.setattr(settings, "_cpu_fingerprint", lambda: None)    # no CPU flags to read (not Linux)
    assert settings.cpu_capability() == "ASKED" and len(asked) == 3


def test_the_build_reads_its_settings_and_keys_the_chapters_without_loading_torch(tmp_path):
    """torch costs a build 1.5-2 s of its start; the build itself runs none of it."""
    xdg = {"XDG_CACHE_HOME": str(tmp_path)}
    assert run_python("from makemore_lib import settings; settings.cpu_capability()", xdg).returncode == 0
    code = (f"import sys; sys.path.insert(0, {str(HOOKS)!r}); import book; "
            "from makemore_lib import settings; from makemore_lib.book import execute; "
            "S = settings.read([]); "
            f"execute.cache_key({str(CHAPTERS[0])!r}, {str(ROOT / 'makemore_lib')!r}, S.data_path, S.quick); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'matplotlib')))")
    r = run_python(code, xdg)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


def test_interrupted_write_leaves_nothing_a_lookup_uses(tmp_path, monkeypatch):
    target = tmp_path / "01_x.quick.abc.ipynb"

    def crash(src, dst):
        raise KeyboardInterrupt  # the build is stopped between writing and renaming

    monkeypatch.setattr(execute.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        execute.write_atomic(target, nbformat.writes(nbformat.v4.new_notebook()))
    assert list(tmp_path.iterdir()) == []
    target.write_text('{"cells": [')  # a truncated entry written by something else
    assert execute.load_cached(target) is None


def test_execution_cache_ignores_leftover_temp_files_and_hits_afterwards(inputs, tmp_path):
    source, _, _ = inputs
    source.write_text("# %%\nimport os\nprint('quick is', os.environ['MAKEMORE_QUICK'])\n")
    lib = Path(report.__file__).parent
    data = ROOT / "data" / "names.txt"
    cache = tmp_path / "cache"
    target = execute.cache_path(cache, source, execute.cache_key(source, lib, data, True), True)
    cache.mkdir()
    # a complete-looking notebook left as a temp file by an interrupted write: never read
    leftover = cache / f".{target.name}.x1y2.tmp"
    stale = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('stale')")])
    leftover.write_text(nbformat.writes(stale))
    run = lambda: execute.execute_chapters([source], root=tmp_path, cache_dir=cache, lib_dir=lib,
                                                data_path=data, quick=True)
    assert run()[source] == target
    nb = nbformat.read(target, as_version=4)
    assert nb.cells[0].outputs[0]["text"] == "quick is 1\n"
    written = target.stat().st_mtime_ns
    run()  # nothing changed: served from the cache, not executed again
    assert target.stat().st_mtime_ns == written


# ---------------------------------------------------------------- page notebook pieces

@pytest.mark.parametrize("tag,fetches", [
    ('<script src="https://cdn.example.org/mathjax.js"></script>', True),
    ('<link rel="stylesheet" href="//fonts.example.com/css">', True),
    ('<img alt="" src="http://example.org/a.png">', True),
    ('const m = (await import("https://cdnjs.example.com/mermaid.mjs"))', True),
    ('<script src="../javascripts/mathjax/tex-mml-chtml.js"></script>', False),
    ('<link rel="canonical" href="https://example.org/chapters/02_init/">', False),
    ('<link rel="stylesheet" href="http://127.0.0.1:8000/x.css">', False),
    ('<a href="https://github.com/karpathy/makemore">makemore</a>', False),
])
def test_external_fetch_pattern(tag, fetches):
    assert bool(book.EXTERNAL.search(tag)) == fetches


def test_fold_solutions_wraps_each_run_of_solution_cells():
    cells = [nbformat.v4.new_markdown_cell("exercise"),
             nbformat.v4.new_code_cell("a = 1", metadata={"tags": ["solution"]}),
             nbformat.v4.new_code_cell("b = 2", metadata={"tags": ["solution"]}),
             nbformat.v4.new_code_cell("check()"),
             nbformat.v4.new_code_cell("c = 3", metadata={"tags": ["solution"]})]
    folded = pages.fold_solutions(cells)
    kinds = [c.source if c.cell_type == "raw" else c.cell_type for c in folded]
    opening = '<details class="success solution"><summary>Solution</summary>'
    assert kinds == ["markdown", opening, "code", "code", "</details>", "code", opening, "code", "</details>"]


# ---------------------------------------------------------------- explorable figures

EXPLORABLE = """# %%
from makemore_lib import plots, report, settings
S = settings.read()
report.show_stamp(S)

# %%
def line(n):
    plots.plot_lines([0, 1], {"a": [0, n]}, title=f"rising to {n}", xlabel="x", ylabel="y")

plots.show_explorable("n", [1, 2, 3], line, book=2, name="rising lines")
"""


class _Tags(HTMLParser):
    """The attributes of each tag, by tag name (the last of each name), and the text of <output>."""
    def __init__(self, text: str):
        super().__init__()
        self.attrs, self.output, self._in_output = {}, "", False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.attrs[tag], self._in_output = dict(attrs), tag == "output"

    def handle_data(self, data):
        self.output += data if self._in_output else ""


def _explorable(page_html: str) -> dict:
    """The one explorable figure of a page: its frames, labels, image and slider attributes."""
    [figure] = re.findall(r'<figure class="makemore-explorable".*?</figure>', page_html, re.S)
    tags = _Tags(figure)
    return {"frames": json.loads(tags.attrs["figure"]["data-frames"]),
            "labels": json.loads(tags.attrs["figure"]["data-labels"]),
            "img": tags.attrs["img"]["src"], "range": tags.attrs["input"], "output": tags.output}


def test_an_explorable_output_becomes_a_slider_over_files_named_as_its_figure_is_cited(shown):
    from makemore_lib import plots
    from makemore_lib.book import notes
    plots.plot_lines([0, 1], {"a": [0, 1]}, title="rising lines", xlabel="x", ylabel="y")   # the same title before it
    plots.show_explorable("n", [1, 2, 3], lambda n: plots.plot_lines([0, 1], {"a": [0, n]}, title=f"to {n}",
                                                                      xlabel="x", ylabel="y"), book=2, name="rising lines")
    cell = nbformat.v4.new_code_cell("pass")
    cell.outputs = [nbformat.v4.new_output("display_data", metadata=kw["metadata"],   # PNG as base64, as Jupyter sends it
                                           data={**obj, "image/png": base64.b64encode(obj["image/png"]).decode()})
                    for obj, kw in shown]
    executed = json.loads(nbformat.writes(nbformat.v4.new_notebook(cells=[cell])))   # as the cache stores it
    citable = notes.collect([("02_init", executed)])
    page, problems = pages.page_notebook(executed, citable, "chapters/02_init.py", quick=True)
    plain, slider = page.cells[0].outputs
    assert problems == [] and "image/png" in plain["data"] and list(slider["data"]) == ["text/html"]
    found = _explorable(slider["data"]["text/html"])
    base = "../../assets/figures/02_init/rising-lines-2"   # the second figure of that title, as notes names it
    assert found["frames"] == [f"{base}/0.png", f"{base}.png", f"{base}/2.png"] and found["img"] == f"{base}.png"
    assert found["labels"] == ["n = 1", "n = 2", "n = 3"] and found["output"] == "n = 2"
    assert found["range"] == {"type": "range", "min": "0", "max": "2", "step": "1", "value": "1",
                              "aria-label": "n", "aria-valuetext": "n = 2", "autocomplete": "off"}
    figure = citable.figures["02_init/rising-lines-2"]
    assert [figure.frame_uri(k) for k in range(3)] == [f[len("../../"):] for f in found["frames"]]


def test_an_explorable_figures_frames_are_files_of_the_site_and_its_page_inlines_none(tmp_path):
    config = tiny_book(tmp_path, {"01_data.py": EXPLORABLE})
    proc = mkdocs_build(config, tmp_path / "site", tmp_path / "cache")
    assert proc.returncode == 0 and "WARNING" not in proc.stderr, proc.stderr[-3000:]
    page_dir = tmp_path / "site" / "chapters" / "01_data"
    page = (page_dir / "index.html").read_text(encoding="utf-8")
    assert page.count("<img") == 1 and 'src="data:' not in page    # the explorable's image, a file
    assert 'src="../../javascripts/explorable.js"' in page
    found = _explorable(page)
    [entry] = (tmp_path / "cache" / "chapters").glob("01_data.quick.*.ipynb")
    [record] = [out["data"][report.EXPLORABLE_MIME] for c in nbformat.read(entry, as_version=4).cells
                for out in c.get("outputs", []) if report.EXPLORABLE_MIME in out.get("data", {})]
    served = [(page_dir / src).resolve().read_bytes() for src in found["frames"]]
    assert served == [base64.b64decode(frame) for frame in record["frames"]]
    assert found["img"] == found["frames"][1] and found["output"] == "n = 2"
