"""Execute the chapters (`chapters/NN_slug.py`) as notebooks, with a cache that cannot go stale.

A chapter's executed notebook is a function of: its own source, every module of
makemore_lib, the scripts in data/, the bytes of the data file, the mode (quick/full), the torch, matplotlib and
Python versions, the CPU kernels torch uses (and the environment variables in KEYED_ENV that
choose them or the thread count), and the modules of this package. The cache key hashes all of them, so an entry is reused
exactly when none changed. What else in the environment could change a page is set by the
build itself for every kernel (KERNEL_ENV: how figures render, Python's hash seed). Entries are written to a temporary file and renamed into place,
so a build interrupted mid-write leaves no entry behind, only a temp file no lookup reads.

Chapters run two at a time, each in its own kernel process (settings.load() gives each
kernel one torch thread; the machine has two cores), longest first: each chapter's last
execution time per mode is kept in TIMINGS_FILE beside the cache entries, so the two kernels
finish close together (`schedule`). A cell that raises stops the build with one paragraph
naming the chapter file, the cell, its first line and the error. (A claim that does not hold
never stops a kernel: the hook reads the verdicts from the executed notebook.)

No MkDocs import here: the hook (docs/hooks/book.py) and the tests both use this module.
"""
from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import json
import logging
import os
import re
import sys
import time
from pathlib import Path

import nbformat

from makemore_lib.settings import cpu_capability, write_atomic

from .chapters import KERNEL, notebook_from_source, percent_cells

log = logging.getLogger("mkdocs.hooks.makemore")

JOBS = 2  # chapters executing at once: one single-threaded kernel per core
THIS_FILE = Path(__file__).resolve()
# environment variables that change a chapter's numbers: part of the cache key
KEYED_ENV = ("ATEN_CPU_CAPABILITY", "MAKEMORE_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# set for every kernel whatever the caller's environment says (an inherited MPLBACKEND=Agg
# would otherwise decide whether pages get figures)
KERNEL_ENV = {"MPLBACKEND": "module://matplotlib_inline.backend_inline", "PYTHONHASHSEED": "0"}
TIMINGS_FILE = "timings.json"   # in the cache dir: {"full": {"02_init": 264.1, ...}, "quick": {...}}


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


def _machine() -> str:
    """The CPU kernels torch dispatches to here, and the environment that chooses them."""
    env = ";".join(f"{name}={os.environ.get(name, '')}" for name in KEYED_ENV)
    return f"cpu={cpu_capability()};{env}"


EXECUTION_MODULES = ("chapters.py", "execute.py")


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
    add("machine", _machine().encode())
    for name in EXECUTION_MODULES:   # what turns a chapter into an executed notebook; notes and workbook do not
        add(f"book/{name}", (THIS_FILE.parent / name).read_bytes())
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
        log.info("re-executing: the cache entry %s was unreadable (%s)", path.name, exc)
        return None


def _evict_older(path: Path) -> None:
    """Drop other entries of the same chapter and mode (a quick and a full entry live side by side)."""
    stem, mode = path.name.split(".")[:2]
    for old in path.parent.glob(f"{stem}.{mode}.*.ipynb"):
        if old != path:
            old.unlink(missing_ok=True)


# ---------------------------------------------------------------- failures

ANSI = re.compile(r"\x1b\[[0-9;]*m")
CELL_FRAME = re.compile(r"Cell In\[(\d+)\], line (\d+)")


def _code_lines(source: str) -> list[str]:
    """A cell's lines as IPython numbers them in a traceback: without the blank lines it starts with."""
    lines = source.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    return lines


def _body_starts(source_text: str, cells) -> list[int | None]:
    """0-based line of the .py where each notebook cell's first non-blank line stands (a Markdown
    line has lost its `# `), None where it cannot be matched."""
    parts = percent_cells(source_text)
    if len(parts) != len(cells):
        return [None] * len(cells)
    lines, starts = source_text.splitlines(), []
    for part, cell in zip(parts, cells):
        code = _code_lines(cell.source)
        first = code[0] if code else None
        found = next((n for n in range(part.start, part.end) if first is not None
                      and lines[n].removeprefix("# ").removeprefix("#") == first.removeprefix("# ").removeprefix("#")
                      and (cell.cell_type == "markdown" or lines[n] == first)), None)
        starts.append(found)
    return starts


def raising_line(nb, failed: int, exc: BaseException) -> tuple[int, int] | None:
    """(cell index, 1-based line in that cell) of the deepest frame of chapter code in the traceback."""
    traceback = ANSI.sub("", str(getattr(exc, "traceback", "") or ""))
    for out in nb.cells[failed].get("outputs", []):
        if out.get("output_type") == "error":
            traceback += "\n" + ANSI.sub("", "\n".join(out.get("traceback", [])))
    frames = CELL_FRAME.findall(traceback)
    if not frames:
        return None
    count, line = map(int, frames[-1])
    cell = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("execution_count") == count),
                failed)
    return cell, line


def describe_failure(source: Path, nb, exc: BaseException) -> str:
    """One paragraph: chapter file, the line that raised and its statement, the cell, the error."""
    cells = nb.cells
    failed = next((i for i, c in enumerate(cells) if c.cell_type == "code"
                   and any(o.get("output_type") == "error" for o in c.get("outputs", []))), None)
    if failed is None:  # e.g. the kernel died: blame the last cell that started running
        started = [i for i, c in enumerate(cells) if c.cell_type == "code" and c.get("execution_count")]
        failed = started[-1] if started else None
    if getattr(exc, "ename", None):  # nbclient's CellExecutionError: the exception raised in the cell
        error = " ".join(f"{exc.ename}: {exc.evalue}".split())   # one line, whatever the message holds
    else:  # the kernel died, a timeout, ...
        detail = str(exc).strip().splitlines()
        error = f"{type(exc).__name__}: {detail[-1] if detail else ''}"
    if failed is None:
        where = "before any cell ran"
    else:
        starts = _body_starts(Path(source).read_text(encoding="utf-8"), cells)
        at = raising_line(nb, failed, exc) if getattr(exc, "ename", None) else None
        cell, line = at if at else (failed, None)
        code = _code_lines(cells[cell].source)
        statement = (code[line - 1].strip() if line and line <= len(code)
                     else next((l.strip() for l in code if l.strip()), ""))
        if line and starts[cell] is not None:
            where = f"at line {starts[cell] + line} (`{statement}`), in cell {cell + 1}"
        else:
            where = f"in cell {cell + 1} (`{statement}`)"
    return (f"{source} failed {where}: {error}. No page was rendered. "
            f"Run `MAKEMORE_QUICK=1 python {source}` to see the full traceback.")


# ---------------------------------------------------------------- execution

CLIENTS: list = []   # the NotebookClients of this process's executions, for _forget_clients


async def _execute_one(source: Path, env: dict, display: str, kernel_log: Path):
    from nbclient import NotebookClient  # imported here: the hook loads fast when everything is cached

    nb = notebook_from_source(source)
    client = NotebookClient(nb, kernel_name=KERNEL, timeout=None, allow_errors=False,
                            resources={"metadata": {"path": str(Path(source).parent)}})
    CLIENTS.append(client)
    start = time.perf_counter()
    log.info("executing %s ...", display)
    kernel_log.parent.mkdir(parents=True, exist_ok=True)
    # the kernel's own stderr (its logging, not the cells' output) goes to a file, not the build log
    with open(kernel_log, "w") as stderr:
        try:
            await client.async_execute(env=env, stderr=stderr,
                                       transport_encryption="auto")  # CurveZMQ on loopback; no plain-TCP warning
        except Exception as exc:
            message = describe_failure(Path(display), nb, exc)
            if not getattr(exc, "ename", None):  # not an exception in a cell: the kernel may say why
                message += f" The kernel's own log: {kernel_log}"
            raise ChapterError(message) from None
    seconds = time.perf_counter() - start
    log.info("executed %s in %.1f s", display, seconds)
    return nb, seconds


async def _execute_all(todo: list[tuple[Path, Path, str]], env: dict, jobs: int, cache_dir: Path,
                       mode: str) -> None:
    """Execute `todo` in its order, `jobs` at a time (the semaphore wakes waiters first come, first served)."""
    gate = asyncio.Semaphore(jobs)
    logs = Path(cache_dir) / "logs"

    async def run(source: Path, target: Path, display: str) -> None:
        async with gate:
            nb, seconds = await _execute_one(source, env, display, logs / f"{source.stem}.kernel.log")
        write_atomic(target, nbformat.writes(nb))
        _evict_older(target)
        save_timing(cache_dir, mode, source.stem, seconds)

    tasks = [asyncio.ensure_future(run(*item)) for item in todo]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:  # a chapter failed, or the build was interrupted: stop the others quietly
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)   # waits for their kernels to shut down
    failed = [task for task in done if not task.cancelled() and task.exception()]
    if failed:
        raise failed[0].exception()


class BuildInterrupted(Exception):
    """Ctrl-C (SIGINT) or SIGTERM while chapters were executing; their kernels have been shut down."""


class _BuildSignalsLoop(asyncio.SelectorEventLoop):
    """An event loop on which nbclient cannot take over SIGINT/SIGTERM: each client would
    install a handler that shuts down its own kernel only, leaving the build to report that
    chapter as failed. nbclient treats the RuntimeError as "no signals here" and goes on."""

    def add_signal_handler(self, sig, callback, *args):
        raise RuntimeError("the build handles signals itself")

    def remove_signal_handler(self, sig):
        raise RuntimeError("the build handles signals itself")


def _quiet_about_cancelled_executions(loop, context) -> None:
    """nbclient leaves the kernel-alive poll of a cancelled execution to fail on its own; that
    is expected after a failure or Ctrl-C, and not worth a traceback in the build log."""
    task = context.get("task") or context.get("future")   # "future" in "Task exception was never retrieved"
    coro = task.get_coro() if isinstance(task, asyncio.Task) else None
    if "_async_poll" in getattr(coro, "__qualname__", ""):
        log.debug("after a cancelled execution: %s", context.get("message"))
        return
    loop.default_exception_handler(context)


def _run_interruptibly(coro) -> None:
    """Run `coro` to completion; on Ctrl-C (SIGINT) or SIGTERM, cancel it, which cancels every
    execution and shuts its kernel down, then raise BuildInterrupted."""
    import signal
    import threading

    loop = _BuildSignalsLoop()
    loop.set_exception_handler(_quiet_about_cancelled_executions)
    main = loop.create_task(coro)
    received = []

    def on_signal(signum, frame):
        received.append(signum)
        loop.call_soon_threadsafe(main.cancel)

    signals = (signal.SIGINT, signal.SIGTERM) if threading.current_thread() is threading.main_thread() else ()
    previous = {sig: signal.signal(sig, on_signal) for sig in signals}
    try:
        loop.run_until_complete(main)
    except asyncio.CancelledError:
        if not received:
            raise
        raise BuildInterrupted("interrupted; the chapters that were executing were stopped and nothing "
                               "of theirs was cached") from None
    finally:
        leftover = asyncio.all_tasks(loop)   # e.g. nbclient's kernel-alive polls of a cancelled execution
        for task in leftover:
            task.cancel()
        if leftover:
            loop.run_until_complete(asyncio.wait(leftover))
        _forget_clients(loop)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        loop.close()


def _forget_clients(loop) -> None:
    """Shut down any kernel an execution left behind and drop nbclient's exit handlers.

    nbclient registers an atexit handler per execution and unregisters it when the execution's
    cleanup finishes. An execution cancelled while its kernel starts, or during its cleanup (a
    second Ctrl-C), keeps the handler, which then fails at exit with an AssertionError about a
    kernel that is already gone; a kernel still alive here is shut down now instead."""
    import atexit

    while CLIENTS:
        client = CLIENTS.pop()
        atexit.unregister(client._cleanup_kernel)
        if getattr(client, "km", None) is not None:
            try:
                loop.run_until_complete(client._async_cleanup_kernel())
            except BaseException as exc:   # the kernel may be half started or already gone
                log.debug("shutting down a left-over kernel: %s", exc)


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
        mode = "quick" if quick else "full"
        timings = load_timings(cache_dir, mode)
        order = schedule([source for source, _, _ in todo], timings)
        todo.sort(key=lambda item: order.index(item[0]))
        log.info("execution order, longest first: %s", _plan(order, timings, jobs))
        env = {**os.environ, **KERNEL_ENV, "MAKEMORE_QUICK": "1" if quick else "0", "MAKEMORE_DATA": str(data_path)}
        start = time.perf_counter()
        _run_interruptibly(_execute_all(todo, env, jobs, Path(cache_dir), mode))
        log.info("executed %d chapter(s) in %.1f s (%s mode)", len(todo), time.perf_counter() - start, mode)
    return result


# ---------------------------------------------------------------- the order: longest first

def load_timings(cache_dir: Path, mode: str) -> dict[str, float]:
    """Each chapter's last execution time in `mode` (seconds, by stem); {} if none was kept or the file is unreadable."""
    try:
        kept = json.loads((Path(cache_dir) / TIMINGS_FILE).read_text(encoding="utf-8")).get(mode, {})
        return {stem: float(s) for stem, s in kept.items() if isinstance(s, (int, float)) and s >= 0}
    except (OSError, ValueError, AttributeError):
        return {}


def save_timing(cache_dir: Path, mode: str, stem: str, seconds: float) -> None:
    """Keep `seconds` as the last execution time of chapter `stem` in `mode`."""
    path = Path(cache_dir) / TIMINGS_FILE
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        kept = {}
    kept = kept if isinstance(kept, dict) else {}
    kept.setdefault(mode, {})[stem] = round(seconds, 1)
    write_atomic(path, json.dumps(kept, indent=1, sort_keys=True) + "\n")


def estimated_seconds(sources: list[Path], timings: dict[str, float]) -> dict[Path, float]:
    """How long each chapter will take: its last execution time in this mode (`timings`, by stem).
    A chapter never timed is estimated from its file size, at the seconds per byte of the timed
    ones (1 s per byte, i.e. by size alone, when none is: the longer chapters train more)."""
    sizes = {Path(s): Path(s).stat().st_size for s in sources}
    timed = [s for s in sizes if s.stem in timings]
    timed_bytes = sum(sizes[s] for s in timed)
    rate = sum(timings[s.stem] for s in timed) / timed_bytes if timed and timed_bytes else 1.0
    return {s: timings.get(s.stem, size * rate) for s, size in sizes.items()}


def schedule(sources: list[Path], timings: dict[str, float]) -> list[Path]:
    """`sources` longest first (ties by name): started in this order `jobs` at a time, the last
    kernels to finish end close together (longest processing time first)."""
    lengths = estimated_seconds(sources, timings)
    return sorted(lengths, key=lambda s: (-lengths[s], s.name))


def _plan(order: list[Path], timings: dict[str, float], jobs: int) -> str:
    """The order for the build log, with the times it was decided on."""
    if not any(s.stem in timings for s in order):
        return "by file size (no chapter was timed in this mode yet): " + ", ".join(s.stem for s in order)
    lengths = estimated_seconds(order, timings)
    said = [f"{s.stem} ({lengths[s]:.0f} s{'' if s.stem in timings else ', estimated from its size'})" for s in order]
    return f"{', '.join(said)}; about {makespan([lengths[s] for s in order], jobs):.0f} s with {jobs} kernels"


def makespan(lengths: list[float], jobs: int) -> float:
    """Wall time of running `lengths` in their order, each on the first of `jobs` kernels to be free."""
    free_at = [0.0] * max(1, jobs)
    for length in lengths:
        free_at[free_at.index(min(free_at))] += length
    return max(free_at)


# ---------------------------------------------------------------- what a notebook recorded

def records(nb, mime: str) -> list[dict]:
    """Every output payload of type `mime` in cell order (e.g. report.RUN_MIME training runs)."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if mime in out.get("data", {}):
                found.append(dict(out["data"][mime]))
    return found
