"""Shared by every test module: paths, subprocess runs, and the expensive executions, each done
once per `make test`.

Executing a chapter is the expensive part of the suite, so each happens once per session,
even under pytest-xdist (workers share a lock and a result file in the session's base temp):
- `chapter_script(tmp_path_factory, stem)`: the chapter run once as a plain script, quick
  mode; tests/test_chapters.py and tests/test_workbook.py read the same run;
- `site_build(tmp_path_factory)` / the `built` fixture: one quick strict build of the book,
  which executes every chapter once as a notebook; tests/test_site.py, tests/test_browser.py
  and the notes tests read it.
"""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
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
    """The environment with MAKEMORE_* cleared, then `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKEMORE_")}
    env.update(extra or {})
    return env


def run_python(code_or_args, env_extra=None, cwd=None, timeout=300):
    """Run the venv's python in a subprocess with MAKEMORE_* cleared except `env_extra`."""
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else list(code_or_args)
    return subprocess.run([sys.executable, *args], env=clean_env(env_extra), cwd=cwd or REPO,
                          capture_output=True, text=True, timeout=timeout)


def once(tmp_path_factory, name: str, compute) -> dict:
    """compute(folder) -> JSON-able dict, run by the first worker that asks; the others wait and read it."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    result_file = base / f"{name}.json"
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result_file.exists():
            folder = base / name
            folder.mkdir(exist_ok=True)
            result_file.write_text(json.dumps(compute(folder)))
    return json.loads(result_file.read_text())


def chapter_script(tmp_path_factory, stem: str) -> dict:
    """chapters/<stem>.py run once as a plain script in quick mode: returncode, stdout, stderr, figures."""
    def compute(folder: Path) -> dict:
        start = time.perf_counter()
        r = run_python([str(REPO / "chapters" / f"{stem}.py")],
                       {"MAKEMORE_QUICK": "1", "MAKEMORE_FIGURES": str(folder / "figures")}, cwd=folder, timeout=600)
        return {"returncode": r.returncode, "stdout": r.stdout, "stderr": r.stderr,
                "figures": str(folder / "figures"), "seconds": time.perf_counter() - start}
    cap = os.environ.get("ATEN_CPU_CAPABILITY", "")
    return once(tmp_path_factory, f"script-{stem}{'-' + cap if cap else ''}", compute)


def mkdocs_build(config: Path, site: Path, cache: Path, quick: bool = True,
                 env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """`mkdocs build --strict` of `config` into `site` with the chapter cache `cache`, as on a headless server."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEMORE_DATA", "MAKEMORE_CACHE")}
    env.update(MAKEMORE_QUICK="1" if quick else "0", MAKEMORE_CACHE=str(cache), NO_MKDOCS_2_WARNING="1",
               MPLBACKEND="Agg")   # as on CI and headless servers: the build must keep its figures anyway
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
                          env=env, capture_output=True, text=True, cwd=config.parent)


def site_build(tmp_path_factory) -> dict:
    """The book built once per session in quick mode: site, cache, returncode, log, seconds."""
    def compute(folder: Path) -> dict:
        site, cache = folder / "site", folder / "cache"
        start = time.perf_counter()
        proc = mkdocs_build(ROOT / "mkdocs.yml", site, cache)
        return {"site": str(site), "cache": str(cache), "returncode": proc.returncode,
                "log": proc.stdout + proc.stderr, "seconds": time.perf_counter() - start}
    return once(tmp_path_factory, "site-build", compute)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    build = site_build(tmp_path_factory)
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
