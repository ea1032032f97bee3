"""Execute the chapters (`chapters/NN_slug.py`) as notebooks, with a cache that cannot go stale.

A chapter's executed notebook is a function of: its own source, every module of
makemore_lib, the scripts in data/, the bytes of the data file, the mode (quick/full), the torch, matplotlib and
Python versions, and this file. The cache key hashes all of them, so an entry is reused
exactly when none changed. Entries are written to a temporary file and renamed into place,
so a build interrupted mid-write leaves no entry behind, only a temp file no lookup reads.

Chapters run two at a time, each in its own kernel process (settings.load() gives each
kernel one torch thread; the machine has two cores). A cell that raises stops the build
with one paragraph naming the chapter file, the cell, its first line and the error.

No MkDocs import here: the hook (book.py) and the tests both use this module.
"""
from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import logging
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import jupytext
import nbformat

log = logging.getLogger("mkdocs.hooks.makemore")

KERNEL = "python3"
JOBS = 2  # chapters executing at once: one single-threaded kernel per core
THIS_FILE = Path(__file__).resolve()


class ChapterError(Exception):
    """A chapter failed to execute; the message is one paragraph meant for the reader of the build log."""


# ---------------------------------------------------------------- cache key

def _versions() -> str:
    pkgs = ("torch", "matplotlib", "numpy", "jupytext", "nbclient", "ipykernel")
    found = []
    for name in pkgs:
        try:
            found.append(f"{name}={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name}=none")
    return f"python={sys.version};" + ";".join(found)


def cache_key(source: Path, lib_dir: Path, data_path: Path, quick: bool) -> str:
    """sha256 over everything a chapter's executed output depends on."""
    h = hashlib.sha256()

    def add(label: str, payload: bytes) -> None:
        h.update(f"{label}:{len(payload)}:".encode())
        h.update(payload)

    add("chapter", Path(source).read_bytes())
    for module in sorted(Path(lib_dir).glob("*.py")):
        add(f"lib/{module.name}", module.read_bytes())
    for script in sorted((Path(lib_dir).parent / "data").glob("*.py")):  # chapter 1 reads make_names.py
        add(f"data/{script.name}", script.read_bytes())
    add("data", Path(data_path).read_bytes())
    add("mode", b"quick" if quick else b"full")
    add("versions", _versions().encode())
    add("hook", THIS_FILE.read_bytes())
    return h.hexdigest()


def cache_path(cache_dir: Path, source: Path, key: str, quick: bool) -> Path:
    mode = "quick" if quick else "full"
    return Path(cache_dir) / f"{Path(source).stem}.{mode}.{key[:20]}.ipynb"


def load_cached(path: Path):
    """The executed notebook stored at `path`, or None if there is none or it does not parse."""
    if not path.is_file():
        return None
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:  # a truncated or foreign file is a miss, never a page
        log.warning("ignoring unreadable cache entry %s (%s)", path, exc)
        return None


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` so that a reader sees the old file or the whole new one, nothing between."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _evict_older(path: Path) -> None:
    """Drop other entries of the same chapter and mode (a quick and a full entry live side by side)."""
    stem, mode = path.name.split(".")[:2]
    for old in path.parent.glob(f"{stem}.{mode}.*.ipynb"):
        if old != path:
            old.unlink(missing_ok=True)


# ---------------------------------------------------------------- failures

def _cell_lines(source_text: str, n_cells: int) -> list[int | None]:
    """1-based line in the .py where each notebook cell starts (jupytext percent format)."""
    markers = [i + 1 for i, line in enumerate(source_text.splitlines()) if line.startswith("# %%")]
    if len(markers) == n_cells:
        return markers
    if len(markers) == n_cells - 1:  # text before the first marker became cell 1
        return [1] + markers
    return [None] * n_cells


def describe_failure(source: Path, nb, exc: BaseException) -> str:
    """One paragraph: chapter file, cell number and line, the cell's first source line, the error."""
    cells = nb.cells
    failed = next((i for i, c in enumerate(cells) if c.cell_type == "code"
                   and any(o.get("output_type") == "error" for o in c.get("outputs", []))), None)
    if failed is None:  # e.g. the kernel died: blame the last cell that started running
        started = [i for i, c in enumerate(cells) if c.cell_type == "code" and c.get("execution_count")]
        failed = started[-1] if started else None
    if getattr(exc, "ename", None):  # nbclient's CellExecutionError: the exception raised in the cell
        error = f"{exc.ename}: {exc.evalue}"
    else:  # the kernel died, a timeout, ...
        detail = str(exc).strip().splitlines()
        error = f"{type(exc).__name__}: {detail[-1] if detail else ''}"
    if failed is None:
        where = "before any cell ran"
    else:
        lines = _cell_lines(Path(source).read_text(encoding="utf-8"), len(cells))
        first = next((l.strip() for l in cells[failed].source.splitlines() if l.strip()), "")
        at = f", line {lines[failed]}" if lines[failed] else ""
        where = f"in cell {failed + 1}{at} (`{first}`)"
    return (f"{source} failed {where}: {error}. No page was rendered. "
            f"Run `MAKEMORE_QUICK=1 python {source}` to see the full traceback.")


# ---------------------------------------------------------------- execution

def notebook_from_source(source: Path):
    """The chapter as an un-executed notebook (jupytext percent format -> nbformat v4)."""
    nb = jupytext.read(source, fmt="py:percent")
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    return nb


async def _execute_one(source: Path, env: dict, display: str):
    from nbclient import NotebookClient  # imported here: the hook loads fast when everything is cached

    nb = notebook_from_source(source)
    client = NotebookClient(nb, kernel_name=KERNEL, timeout=None, allow_errors=False,
                            resources={"metadata": {"path": str(Path(source).parent)}})
    start = time.perf_counter()
    log.info("executing %s ...", display)
    try:
        await client.async_execute(env=env, transport_encryption="auto")  # CurveZMQ on loopback; no plain-TCP warning
    except Exception as exc:
        raise ChapterError(describe_failure(Path(display), nb, exc)) from None
    log.info("executed %s in %.1f s", display, time.perf_counter() - start)
    return nb


async def _execute_all(todo: list[tuple[Path, Path, str]], env: dict, jobs: int) -> None:
    gate = asyncio.Semaphore(jobs)

    async def run(source: Path, target: Path, display: str) -> None:
        async with gate:
            nb = await _execute_one(source, env, display)
        write_atomic(target, nbformat.writes(nb))
        _evict_older(target)

    tasks = [asyncio.ensure_future(run(*item)) for item in todo]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    for task in pending:  # one chapter failed: stop the others instead of training on
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception():
            raise task.exception()


def execute_chapters(sources: list[Path], *, root: Path, cache_dir: Path, lib_dir: Path,
                     data_path: Path, quick: bool, jobs: int = JOBS) -> dict[Path, Path]:
    """Executed notebook path for every chapter, running only those without a valid cache entry."""
    result, todo = {}, []
    for source in sources:
        key = cache_key(source, lib_dir, data_path, quick)
        target = cache_path(cache_dir, source, key, quick)
        result[source] = target
        if load_cached(target) is None:
            try:
                display = str(Path(source).relative_to(root))
            except ValueError:
                display = str(source)
            todo.append((Path(source), target, display))
    if todo:
        env = {**os.environ, "MAKEMORE_QUICK": "1" if quick else "0", "MAKEMORE_DATA": str(data_path)}
        start = time.perf_counter()
        asyncio.run(_execute_all(todo, env, jobs))
        log.info("executed %d chapter(s) in %.1f s (%s mode)", len(todo), time.perf_counter() - start,
                 "quick" if quick else "full")
    return result


# ---------------------------------------------------------------- what a notebook recorded

def records(nb, mime: str) -> list[dict]:
    """Every output payload of type `mime` in cell order (e.g. report.RUN_MIME training runs)."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if mime in out.get("data", {}):
                found.append(dict(out["data"][mime]))
    return found


def chapter_sources(chapters_dir: Path) -> list[Path]:
    return sorted(p for p in Path(chapters_dir).glob("*.py") if re.match(r"\d\d_", p.name))
