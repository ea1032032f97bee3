"""Options: --data PATH and --quick in full, anything else refused in a script; a kernel's argv ignored."""
import sys
import types

import pytest

from conftest import NAMES, run_python
from makemore_lib import settings
from makemore_lib.errors import DataError, SettingsError

VALID = "the options are --data PATH and --quick, spelled in full"


@pytest.fixture
def script(monkeypatch):
    """settings.load as in a script: no ipykernel, no MAKEMORE_*, the excepthook restored afterwards."""
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    for name in ("MAKEMORE_DATA", "MAKEMORE_QUICK"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_two_options_spelled_in_full(script):
    assert settings.parse_options([]).quick is False
    args = settings.parse_options(["--quick", "--data", str(NAMES)])
    assert args.quick and args.data == NAMES
    S = settings.load(["--data", str(NAMES), "--quick"])
    assert S.quick and S.data_path == NAMES


@pytest.mark.parametrize("argv, problem", [
    (["--quik"], "unknown option '--quik'"),
    (["--dat", "x.txt"], "unknown option '--dat'"),
    (["--q"], "unknown option '--q'"),
    (["names.txt"], "unknown argument 'names.txt'"),
    (["--data"], "argument --data: expected one argument"),
    (["--quick=yes"], "argument --quick: ignored explicit argument 'yes'"),
    (["--help"], "unknown option '--help'"),
])
def test_unknown_or_abbreviated_options_are_refused_naming_the_valid_ones(script, argv, problem):
    with pytest.raises(SettingsError) as e:
        settings.parse_options(argv)
    assert str(e.value) == f"{problem}; {VALID}"
    script.setattr(sys, "argv", ["chapter.py", *argv])
    with pytest.raises(SettingsError, match=problem):
        settings.load()


def test_a_kernels_own_argv_is_ignored(script):
    script.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    script.setattr(sys, "argv", ["ipykernel_launcher.py", "-f", "/run/kernel-1234.json", "--HistoryManager.enabled=False"])
    S = settings.load()
    assert S.data_path == settings.DEFAULT_DATA and not S.quick


def test_a_word_list_too_small_to_split_is_refused_by_load(script, tmp_path):
    f = tmp_path / "three.txt"
    f.write_text("emma\nolivia\nava\n", encoding="utf-8")
    with pytest.raises(DataError, match="too few words for the 80/10/10 split"):
        settings.load(["--data", str(f)])


def test_bench_passes_the_settings_options_on_and_refuses_unknown_ones():
    ok = run_python(["-m", "makemore_lib.bench", "--rounds", "1", "--steps", "5", "--quick"])
    assert ok.returncode == 0 and "manual/autograd speed ratio" in ok.stdout, ok.stderr
    bad = run_python(["-m", "makemore_lib.bench", "--rounds", "1", "--steps", "5", "--bogus"])
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.splitlines() == [f"error: unknown option '--bogus'; {VALID}"]
