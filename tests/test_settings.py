"""Options: --data PATH and --quick in full, anything else refused in a script; a kernel's argv ignored."""
import sys
import types

import pytest

from conftest import NAMES, run_python
from makemore_lib import settings
from makemore_lib.errors import DataError, SettingsError

VALID = "the options are --data PATH, --quick and --set NAME=VALUE ..., spelled in full"


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


# ---------------------------------------------------------------- every environment value: one line

@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5", " "])
def test_a_thread_count_that_is_not_a_whole_number_is_one_line(value):
    r = run_python("from makemore_lib import settings; settings.load()", {"MAKEMORE_THREADS": value})
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"error: MAKEMORE_THREADS={value!r} is not a number of threads; unset it (one thread, the fastest for "
        f"this book's small networks) or set a whole number such as 2"]


def test_a_thread_count_is_given_to_torch():
    r = run_python("from makemore_lib import settings; import torch; settings.load(); print(torch.get_num_threads())",
                   {"MAKEMORE_THREADS": "2"})
    assert r.returncode == 0 and r.stdout.strip() == "2", r.stderr


def test_a_script_saves_its_figures_whatever_mplbackend_says(tmp_path):
    code = ("from makemore_lib import settings, plots; settings.load(); "
            "plots.plot_lines([0, 1], {'a': [0, 1]}, title='t', xlabel='x', ylabel='y')")
    r = run_python(code, {"MPLBACKEND": "nonsense", "MAKEMORE_FIGURES": str(tmp_path)})
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert len(list(tmp_path.rglob("*.png"))) == 1


def test_in_jupyter_an_mplbackend_matplotlib_refuses_is_one_line():
    code = ("import sys, types; sys.modules['ipykernel'] = types.ModuleType('ipykernel'); "
            "from makemore_lib import settings\ntry:\n    settings.read()\nexcept Exception as e:\n    print(e)")
    r = run_python(code, {"MPLBACKEND": "nonsense"})
    assert r.stdout.strip() == "MPLBACKEND='nonsense' is not a matplotlib backend; unset it, or use inline or agg"


def test_a_figures_folder_that_cannot_be_written_is_one_line_before_any_output(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")                      # a file where the folder should be
    r = run_python("from makemore_lib import chapter; chapter.begin()", {"MAKEMORE_FIGURES": str(blocked / "figs")})
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [f"error: cannot write to {blocked / 'figs'} (Not a directory); make it "
                                             f"writable, or set MAKEMORE_FIGURES to a writable folder"]
