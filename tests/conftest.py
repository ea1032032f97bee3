"""Shared by every test module: paths, subprocess runs, and the expensive runs, each done once
per `make test`.

The expensive runs are the chapters, so each happens once per session, even under
pytest-xdist (workers share a lock and a result file in the session's base temp):
- `chapter_run` (a fixture, parametrized indirectly with a chapter's stem): the chapter run once
  as a plain script, quick mode; tests/test_chapters.py and tests/test_workbook.py read it;
- `built`: one quick strict build of the book, which executes every chapter once as a notebook;
  tests/test_site.py, tests/test_browser.py and the notes tests read it;
- `kernel_set_run` (parametrized with an ATEN_CPU_CAPABILITY value): every test marked kernels
  (the gradient checks, the chapters' claims in quick mode) run again in a pytest of their own under
  that machine's CPU kernels.

As soon as the tests are collected, the runs the selected tests read start in the background,
one at a time, longest first, and their readers are moved to the end: the workers test
everything else meanwhile instead of waiting for a build. One at a time because the suite is
CPU-bound on two cores: two background runs at once made it slower (measured: 223 s wall and
415 s of CPU with two, 194 s and 358 s with one), each process slowing the others down.
"""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
ROOT = REPO
NAMES = REPO / "data" / "names.txt"
CHAPTERS = sorted((REPO / "chapters").glob("[0-9][0-9]_*.py"))

torch.set_num_threads(1)


def pytest_report_header(config):
    return f"torch CPU kernels: {torch.backends.cpu.get_cpu_capability()}"


@pytest.fixture(scope="session")
def splits():
    from makemore_lib import data
    return data.load_splits(NAMES)


@pytest.fixture
def script(monkeypatch):
    """As in a plain script: no ipykernel imported."""
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)


@pytest.fixture
def shown(monkeypatch):
    """As in a Jupyter kernel: the (object, keyword arguments) of every display call, in order."""
    import IPython.display
    calls = []
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: calls.append((obj, kw)))
    return calls


def clean_env(extra: dict | None = None) -> dict:
    """The environment with MAKEMORE_* (and pytest-xdist's worker variables) cleared, then `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKEMORE_", "PYTEST_"))}
    env.update(extra or {})
    return env


def run_python(code_or_args, env_extra=None, cwd=None, timeout=300):
    """Run the venv's python in a subprocess with MAKEMORE_* cleared except `env_extra`."""
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else list(code_or_args)
    return subprocess.run([sys.executable, *args], env=clean_env(env_extra), cwd=cwd or REPO,
                          capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------- the runs shared by the session

KERNEL_SETS = ("default", "avx2")   # the CPU kernels of other machines (this one's is the suite's own run)


def _base(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base   # shared by the workers


def once(tmp_path_factory, name: str, wait: bool = True) -> dict | None:
    """RUNS[name](folder) -> JSON-able dict, run by the first process that asks; the others wait and read it.
    With wait=False, None at once if another thread or process is running it."""
    base = _base(tmp_path_factory)
    result_file = base / f"{name}.json"
    with open(base / f"{name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        if not result_file.exists():
            folder = base / name
            folder.mkdir(exist_ok=True)
            result_file.write_text(json.dumps(RUNS[name](folder)))
    return json.loads(result_file.read_text())


# Every chapter runs once natively (the site build), once as a script under AVX2 kernels, and once
# as a script under the default kernels (the kernels-default run of tests marked kernels): three
# machines' kernels, each chapter executed three times.
SCRIPT_KERNELS = "avx2"


def _chapter_script(stem: str):
    """chapters/<stem>.py run as a plain script in quick mode, under the AVX2 kernels unless the
    session runs under others: returncode, stdout, stderr, figures."""
    def compute(folder: Path) -> dict:
        start = time.perf_counter()
        kernels = os.environ.get("ATEN_CPU_CAPABILITY", SCRIPT_KERNELS)
        r = run_python([str(REPO / "chapters" / f"{stem}.py")],
                       {"MAKEMORE_QUICK": "1", "MAKEMORE_FIGURES": str(folder / "figures"),
                        "ATEN_CPU_CAPABILITY": kernels}, cwd=folder, timeout=600)
        return {"chapter": f"chapters/{stem}.py", "returncode": r.returncode, "stdout": r.stdout,
                "stderr": r.stderr, "figures": str(folder / "figures"), "seconds": time.perf_counter() - start}
    return compute


def _site_build(folder: Path) -> dict:
    """The book built in quick mode: site, cache, returncode, log, seconds."""
    site, cache = folder / "site", folder / "cache"
    start = time.perf_counter()
    proc = mkdocs_build(ROOT / "mkdocs.yml", site, cache)
    return {"site": str(site), "cache": str(cache), "returncode": proc.returncode,
            "log": proc.stdout + proc.stderr, "seconds": time.perf_counter() - start}


SCRIPT_TESTS = ("test_chapters.py::test_chapter_runs_as_a_script_in_quick_mode_and_its_sentences_hold",
                "test_workbook.py::test_the_chapter_itself_reports_every_gradient_matching")


def _kernel_checks(capability: str):
    """Every test marked kernels, in a pytest of its own under ATEN_CPU_CAPABILITY=`capability`."""
    def compute(folder: Path) -> dict:
        start = time.perf_counter()
        ran = ([f"--deselect=tests/{test}" for test in SCRIPT_TESTS]     # the session's own scripts ran on these
               if capability == SCRIPT_KERNELS else [])
        r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider",
                            "-m", "kernels", "--basetemp", str(folder / "tmp"), *ran],
                           env=clean_env({"ATEN_CPU_CAPABILITY": capability}), cwd=REPO,
                           capture_output=True, text=True, timeout=900)
        return {"capability": capability, "returncode": r.returncode, "stdout": r.stdout, "stderr": r.stderr,
                "seconds": time.perf_counter() - start}
    return compute


# name -> compute(folder)
RUNS = {"site-build": _site_build, **{f"script-{c.stem}": _chapter_script(c.stem) for c in CHAPTERS},
        **{f"kernels-{cap}": _kernel_checks(cap) for cap in KERNEL_SETS}}
# the background order: longest first, as measured here; any other run after these
LONGEST_FIRST = ["kernels-default", "site-build", "script-04_deep_mlp", "kernels-avx2",
                 "script-03_batchnorm", "script-02_init", "script-05_backprop"]


def shared_runs(item) -> list[str]:
    """The RUNS a collected test reads, from its fixtures."""
    names = ["site-build"] if "built" in item.fixturenames else []
    params = item.callspec.params if hasattr(item, "callspec") else {}
    if "chapter_run" in params:
        names.append(f"script-{params['chapter_run']}")
    if "kernel_set_run" in params:
        names.append(f"kernels-{params['kernel_set_run']}")
    return names


@pytest.hookimpl(trylast=True)   # after -k / -m have deselected
def pytest_collection_modifyitems(config, items):
    """Start the runs the selected tests read in the background; move their readers to the end.

    One process (the first worker to get here) runs them in a thread, one after the other,
    skipping any that another process has started. A reader whose run has not started yet runs
    it itself."""
    if config.option.collectonly:
        return
    wanted = {name for item in items for name in shared_runs(item)}
    items.sort(key=lambda item: bool(shared_runs(item)))
    factory = config._tmp_path_factory        # what the tmp_path_factory fixture returns
    owner = open(_base(factory) / "runs-in-background.lock", "w")
    try:
        fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:                    # another worker runs them
        owner.close()
        return
    order = sorted(wanted, key=lambda n: (LONGEST_FIRST.index(n) if n in LONGEST_FIRST else len(LONGEST_FIRST), n))
    config.runs_lock, config.runs_stop = owner, threading.Event()   # the lock is held while this process lives

    def run_in_order():
        for name in order:
            if not config.runs_stop.is_set():
                once(factory, name, wait=False)
    config.runs_thread = threading.Thread(target=run_in_order, daemon=True)
    config.runs_thread.start()


def pytest_sessionfinish(session):
    """No new run starts; the one under way is written first (a reader in another worker may wait for it)."""
    if hasattr(session.config, "runs_thread"):
        session.config.runs_stop.set()
        session.config.runs_thread.join()


@pytest.fixture(scope="session")
def chapter_run(request, tmp_path_factory) -> dict:
    """chapters/<request.param>.py run once per session as a plain script in quick mode."""
    return once(tmp_path_factory, f"script-{request.param}")


@pytest.fixture(scope="session")
def kernel_set_run(request, tmp_path_factory) -> dict:
    """The tests marked kernels, run once per session under ATEN_CPU_CAPABILITY=request.param."""
    return once(tmp_path_factory, f"kernels-{request.param}")


def mkdocs_build(config: Path, site: Path, cache: Path, quick: bool = True,
                 env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """`mkdocs build --strict` of `config` into `site` with the chapter cache `cache`, as on a headless server."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEMORE_DATA", "MAKEMORE_CACHE")}
    env.update(MAKEMORE_QUICK="1" if quick else "0", MAKEMORE_CACHE=str(cache), NO_MKDOCS_2_WARNING="1",
               MPLBACKEND="Agg")   # as on CI and headless servers: the build must keep its figures anyway
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
                          env=env, capture_output=True, text=True, cwd=config.parent)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """The book's quick build, once per session."""
    build = once(tmp_path_factory, "site-build")
    if build["returncode"] != 0:
        pytest.fail("quick build failed:\n" + build["log"][-3000:])
    return build


def chapter_page(build, source: Path) -> str:
    return (Path(build["site"]) / "chapters" / source.stem / "index.html").read_text(encoding="utf-8")


def executed_notebook(build, source: Path):
    import nbformat
    entries = sorted((Path(build["cache"]) / "chapters").glob(f"{source.stem}.quick.*.ipynb"))
    assert len(entries) == 1, entries
    return nbformat.read(entries[0], as_version=4)


def tiny_book(tmp_path: Path, chapters: dict[str, str]) -> Path:
    """A copy of the book's config whose chapters/ (and nav) hold only `chapters` (name -> text); docs/ is the book's."""
    (tmp_path / "chapters").mkdir()
    for name, text in chapters.items():
        (tmp_path / "chapters" / name).write_text(text)
    config = (ROOT / "mkdocs.yml").read_text()
    for source in CHAPTERS:                                # the nav lists only the chapters given
        entry = f"      - chapters/{source.stem}.ipynb\n"
        assert entry in config, f"mkdocs.yml's nav has no line {entry.strip()!r}: update tiny_book"
        if source.name not in chapters:
            config = config.replace(entry, "")
    (tmp_path / "mkdocs.yml").write_text(config)
    docs = tmp_path / "docs"
    docs.mkdir()
    for entry in (ROOT / "docs").iterdir():
        if entry.name != "notes":
            (docs / entry.name).symlink_to(entry)
    (docs / "notes").mkdir()
    for note in (ROOT / "docs" / "notes").glob("*.md"):   # placeholders: tiny chapters record nothing the notes cite
        (docs / "notes" / note.name).write_text(f"# {note.stem}\n")
    return tmp_path / "mkdocs.yml"
