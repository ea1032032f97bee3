"""One place that decides the mode, the steps, the data file and the seeds.

Quick mode (`MAKEMORE_QUICK=1` or `--quick`) is for tests and site previews: every
training run is cut to a small number of steps, with the learning-rate decay at the
same fraction of training. Full mode runs the lecture's 200,000 steps.

A chapter calls `load()` once at the top and passes the result on. The site build calls
`read()`, which checks the same settings without loading torch.

Every environment variable the book reads is read here, and a bad value stops a script or
the build with one line saying what was wrong and what to set instead:

    MAKEMORE_QUICK       1 or 0 (yes/no, true/false, on/off)     quick mode
    MAKEMORE_DATA        a UTF-8 word list                        the data file (--data beats it)
    MAKEMORE_THREADS     a whole number >= 1                      torch's threads (default 1)
    MAKEMORE_FIGURES     a writable folder                        where a script saves its figures
    MAKEMORE_CACHE       a writable folder                        the site build's cache (default .cache/)
    ATEN_CPU_CAPABILITY  default, avx2, avx512 (x86)              torch's CPU kernels
    MPLBACKEND           a matplotlib backend                     only read in Jupyter; a script always
                                                                  saves PNGs, and the build sets its own
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from . import knobs
from .errors import DataError, MakemoreError, SettingsError

SEED = 2147483647        # torch.Generator seed for parameters and minibatches (the lecture's)
SAMPLE_SEED = SEED + 10  # the lecture samples names from a second generator
SPLIT_SEED = 42          # random.seed(42) before shuffling the words
FULL_STEPS = 200_000     # the lecture's training length
QUICK_STEPS = 2_000      # quick mode: every training run, whatever its full length

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT / "data" / "names.txt"
DATA_HINT = "set MAKEMORE_DATA (or --data) to a UTF-8 file with one word per line"
OPTIONS = "the options are --data PATH, --quick and --set NAME=VALUE ..., spelled in full"


@dataclass(frozen=True)
class Settings:
    quick: bool
    data_path: Path
    assignments: tuple[str, ...] = ()   # --set NAME=VALUE ...: the chapter's knobs (makemore_lib.knobs)

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"

    def steps(self, full: int = FULL_STEPS) -> int:
        """Steps for a run (or a step index) that is `full` steps long in full mode."""
        return max(1, round(full * QUICK_STEPS / FULL_STEPS)) if self.quick else full

    @property
    def max_steps(self) -> int:
        return self.steps(FULL_STEPS)

    def data_hash(self) -> str:
        return hashlib.sha256(self.data_path.read_bytes()).hexdigest()[:12]

    def stamp(self) -> str:
        """One line saying how this output was produced."""
        try:
            shown = self.data_path.relative_to(REPO_ROOT)
        except ValueError:
            shown = self.data_path
        return (f"mode: {self.mode} ({self.max_steps:,} steps per full training run), "
                f"data: {shown} (sha256 {self.data_hash()}), torch {importlib.metadata.version('torch')} "
                f"(CPU kernels: {cpu_capability()}), "
                f"run {datetime.date.today().isoformat()}"
                + (f"; {knobs.note()}" if knobs.note() else ""))


def in_notebook() -> bool:
    """True inside a Jupyter kernel (the site build, Jupyter, VS Code), False in a script."""
    return "ipykernel" in sys.modules


def _env_flag(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name}={os.environ[name]!r} is not a yes/no value; use {name}=1 or {name}=0")


def load(argv: list[str] | None = None) -> Settings:
    """Read the settings (`read`), check that a script can save its figures, then give torch its
    threads (`configure_torch`)."""
    settings = read(argv)
    if not in_notebook():
        writable(figures_dir(), "MAKEMORE_FIGURES")
    configure_torch()
    return settings


def read(argv: list[str] | None = None) -> Settings:
    """Read the settings from the environment and, in a script, the command line; no torch.

    `--data PATH` beats `MAKEMORE_DATA`, which beats data/names.txt next to the package.
    `--quick` beats `MAKEMORE_QUICK`. `--set NAME=VALUE ...` is kept for the chapter's knobs
    (`chapter.begin` applies it). In a Jupyter kernel `sys.argv` (the kernel's own) is
    ignored. The word list is checked here, as `data.load_splits` would, so that a chapter
    stops before its first output rather than halfway.
    """
    in_kernel = in_notebook()
    if not in_kernel:
        install_one_line_errors()
    args = parse_options([] if in_kernel and argv is None else (sys.argv[1:] if argv is None else argv))
    data = args.data or os.environ.get("MAKEMORE_DATA") or DEFAULT_DATA
    quick = args.quick or _env_flag("MAKEMORE_QUICK")
    check_cpu_capability()
    threads()
    if in_kernel:
        check_mpl_backend()
    path = Path(data).expanduser().resolve()
    if not path.is_file():
        problem = "is a directory, not a file" if path.is_dir() else "file not found"
        raise DataError(f"{path}: {problem}; {DATA_HINT}")
    from .data import check_file  # data imports this module
    check_file(path)
    return Settings(quick=quick, data_path=path, assignments=tuple(args.set or ()))


def parse_options(argv: list[str]) -> argparse.Namespace:
    """`--data PATH`, `--quick` and `--set NAME=VALUE ...`, spelled in full. SettingsError naming
    the valid options for anything else: an unknown option, an abbreviation, a stray argument,
    a missing PATH or NAME=VALUE."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False, exit_on_error=False)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--set", nargs="+", action="extend", metavar="NAME=VALUE")
    try:
        args, unknown = parser.parse_known_args(argv)
    except argparse.ArgumentError as e:
        raise SettingsError(f"{e}; {OPTIONS}") from None
    if unknown:
        kind = "option" if unknown[0].startswith("-") else "argument"
        raise SettingsError(f"unknown {kind} {unknown[0]!r}; {OPTIONS}")
    return args


# the values torch's DispatchStub accepts (x86; PowerPC; s390x; ARM): it ignores anything else
CPU_CAPABILITIES = ("default", "avx2", "avx512", "vsx", "zvector", "sve256")


def check_cpu_capability() -> None:
    """SettingsError for an ATEN_CPU_CAPABILITY that torch would ignore, with a warning in
    every cell that runs a kernel (so a failed build) instead of one line here."""
    value = os.environ.get("ATEN_CPU_CAPABILITY")
    if value is not None and value not in CPU_CAPABILITIES:
        raise SettingsError(f"ATEN_CPU_CAPABILITY={value!r} is not a CPU kernel set torch knows; "
                            f"unset it or use one of {', '.join(CPU_CAPABILITIES[:3])}")


def cpu_capability() -> str:
    """torch.backends.cpu.get_cpu_capability(), remembered per CPU in capability_file().

    Importing torch to ask costs a build 1.5-2 s of its start, so the answer is kept under a
    fingerprint of everything torch decides by: its version, ATEN_CPU_CAPABILITY and the CPU's
    feature flags (/proc/cpuinfo). Where there are no flags to read, torch is asked every time.
    """
    fingerprint, path = _cpu_fingerprint(), capability_file()
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    known = {k: v for k, v in known.items() if isinstance(v, str)} if isinstance(known, dict) else {}
    if fingerprint in known:
        return known[fingerprint]
    import torch

    capability = torch.backends.cpu.get_cpu_capability()
    if fingerprint is not None:
        try:
            write_atomic(path, json.dumps({**known, fingerprint: capability}))
        except OSError:  # a read-only home: torch is asked again next time
            pass
    return capability


def capability_file() -> Path:
    """$XDG_CACHE_HOME/makemore-notes/cpu-capability.json, ~/.cache/... without XDG_CACHE_HOME."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "makemore-notes" / "cpu-capability.json"


def _cpu_fingerprint() -> str | None:
    """sha256 of torch's version, ATEN_CPU_CAPABILITY and the first CPU's feature flags; None without flags."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    flags = next((line for line in cpuinfo.splitlines() if line.split(":")[0].strip() in ("flags", "Features")), None)
    if flags is None:
        return None
    try:
        version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return None
    env = os.environ.get("ATEN_CPU_CAPABILITY")
    payload = f"torch={version};ATEN_CPU_CAPABILITY={env!r};machine={platform.machine()};{flags}"
    return hashlib.sha256(payload.encode()).hexdigest()


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` so that a reader sees the old file or the whole new one, nothing between."""
    import tempfile

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


def threads() -> int:
    """MAKEMORE_THREADS, a whole number >= 1; 1 when unset or empty."""
    value = os.environ.get("MAKEMORE_THREADS") or "1"
    if not value.strip().isdigit() or int(value) < 1:
        raise SettingsError(f"MAKEMORE_THREADS={value!r} is not a number of threads; unset it (one thread, the "
                            f"fastest for this book's small networks) or set a whole number such as 2")
    return int(value)


def figures_dir() -> Path:
    """Where a script saves its figures: MAKEMORE_FIGURES, else build/figures/ in the repository."""
    return Path(os.environ.get("MAKEMORE_FIGURES") or REPO_ROOT / "build" / "figures").expanduser()


def cache_dir(root: Path) -> Path:
    """The site build's cache: MAKEMORE_CACHE, else `root`/.cache; SettingsError, naming the
    folder, if it cannot be written."""
    path = Path(os.environ.get("MAKEMORE_CACHE") or Path(root) / ".cache").expanduser().resolve()
    writable(path, "MAKEMORE_CACHE")
    return path


def writable(path: Path, variable: str) -> None:
    """SettingsError naming `path` and the variable that chooses it unless a file can be written there."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise SettingsError(f"cannot write to {path} ({e.strerror}); make it writable, or set {variable} to a "
                            f"writable folder") from None


def check_mpl_backend() -> None:
    """SettingsError for an MPLBACKEND matplotlib would refuse on import (read in Jupyter only)."""
    try:
        import matplotlib  # noqa: F401  (matplotlib checks MPLBACKEND when it is imported)
    except ValueError:
        raise SettingsError(f"MPLBACKEND={os.environ.get('MPLBACKEND')!r} is not a matplotlib backend; "
                            f"unset it, or use inline or agg") from None


def configure_torch() -> None:
    """One thread unless MAKEMORE_THREADS says otherwise: these networks are so small that a
    second thread only adds overhead."""
    import torch

    torch.set_num_threads(threads())


def install_one_line_errors() -> None:
    """In a script, print a MakemoreError as one line instead of a traceback."""
    previous = sys.excepthook
    if getattr(previous, "one_line_errors", False):
        return

    def hook(kind, value, tb):
        if isinstance(value, MakemoreError):
            print(f"error: {value}", file=sys.stderr)
        else:
            previous(kind, value, tb)

    hook.one_line_errors = True
    sys.excepthook = hook
